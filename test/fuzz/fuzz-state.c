/* fuzz-state.c - libFuzzer harness of state_parse(): a NAME.state file of any content
 *
 * The state dir is root's, but a file there may be cut short by a full disk
 * or written by an older or newer daemon; whatever it holds, the next daemon
 * must either adopt valid values or ignore the file.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "state.h"
#include "util.h"

static void check_valid(const struct state_network *n)
{
	fuzz_check(network_name_is_valid(n->name), "network name valid");
	fuzz_check(n->mode < _MODE_MAX, "mode in range");
	fuzz_check(ifname_is_valid(n->bridge) && n->bridge_ifindex > 0, "bridge valid");
	fuzz_check(n->subnet.len >= CONFIG_MASK_MIN && n->subnet.len <= CONFIG_MASK_MAX,
		   "subnet length a network may have");
	fuzz_check(n->mtu >= 68 && n->mtu <= 65535, "mtu in range");
	fuzz_check(n->dnsmasq_pid >= 0, "dnsmasq pid not negative");
	fuzz_check(n->n_leases == 0 || n->leases, "leases allocated");
	for (size_t i = 0; i < n->n_leases; i++) {
		const struct state_lease *l = &n->leases[i];

		fuzz_check(l->kind < _PORT_KIND_MAX, "lease kind in range");
		fuzz_check(l->kind == PORT_NONE || (ifname_is_valid(l->ifname) && l->ifindex > 0),
			   "lease port valid");
		fuzz_check(l->kind == PORT_NONE || !(l->mac[0] & 1), "lease MAC unicast");
		/* Against the network's own subnet it is lease_adopt() that checks. */
		fuzz_check(l->host < (1u << (32 - CONFIG_MASK_MIN)) - 1,
			   "lease host in the widest subnet");
		fuzz_check(l->pid >= 0, "lease pid not negative");
		fuzz_check(label_is_valid(l->label), "lease label valid");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state_network n, untouched;
	int r;

	memset(&n, 0xa5, sizeof(n));
	untouched = n;
	r = state_parse((const char *)data, size, &n);
	fuzz_check(r == 0 || r == -EINVAL || r == -ENOMEM, "result is 0, -EINVAL or -ENOMEM");
	if (r < 0) {
		fuzz_check(memcmp(&n, &untouched, sizeof(n)) == 0, "refused: output untouched");
		return 0;
	}
	check_valid(&n);
	state_network_clear(&n);
	fuzz_check(n.leases == NULL && n.n_leases == 0, "cleared");
	return 0;
}

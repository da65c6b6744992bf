/* fuzz-state.c - libFuzzer harness of state_parse() and state_replay(): a
 * NAME.state snapshot and its NAME.journal, of any content
 *
 * The state dir is root's, but a file there may be cut short by a full disk
 * or a crash, or written by an older or newer daemon; whatever it holds, the
 * next daemon must either adopt valid values or ignore what is not.
 *
 * The input is the snapshot up to the first newline (the daemon writes it
 * on one line), then the journal. A refused snapshot is replaced by a fixed
 * valid one, so the journal is fuzzed whatever the first line holds.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "state.h"
#include "util.h"

static void check_lease(const struct state_network *n, const struct state_lease *l)
{
	fuzz_check(l->kind < _PORT_KIND_MAX, "lease kind in range");
	fuzz_check(l->kind == PORT_NONE || (ifname_is_valid(l->ifname) && l->ifindex > 0),
		   "lease port valid");
	fuzz_check(l->kind == PORT_NONE || !(l->mac[0] & 1), "lease MAC unicast");
	/* Against the network's own subnet it is lease_adopt() that checks. */
	fuzz_check(l->host < (1u << (32 - CONFIG_MASK_MIN)) - 1, "lease host in the widest subnet");
	fuzz_check(l->pid >= 0, "lease pid not negative");
	fuzz_check(label_is_valid(l->label), "lease label valid");
	fuzz_check(l->id <= INT64_MAX, "lease id a JSON integer");
	fuzz_check(l->n_forwards <= REQUEST_FORWARDS_MAX, "forwards fit");
	fuzz_check(l->n_forwards == 0 || (l->kind != PORT_NONE && l->host),
		   "forwards only to a port with an address");
	for (unsigned int i = 0; i < l->n_forwards; i++) {
		const struct port_forward *f = &l->forwards[i];

		fuzz_check(f->protocol < _FORWARD_PROTOCOL_MAX && f->external_port && f->internal_port,
			   "forward valid");
		fuzz_check(f->internal_address == n->subnet.addr + l->host,
			   "forward to the lease's address");
		for (unsigned int j = 0; j < i; j++)
			fuzz_check(l->forwards[j].protocol != f->protocol ||
					   l->forwards[j].external_port != f->external_port,
				   "forwarded host ports distinct");
	}
}

static void check_valid(const struct state_network *n)
{
	fuzz_check(network_name_is_valid(n->name), "network name valid");
	fuzz_check(n->mode < _MODE_MAX, "mode in range");
	fuzz_check(ifname_is_valid(n->bridge) && n->bridge_ifindex > 0, "bridge valid");
	fuzz_check(n->subnet.len >= CONFIG_MASK_MIN && n->subnet.len <= CONFIG_MASK_MAX,
		   "subnet length a network may have");
	fuzz_check(n->mtu >= 68 && n->mtu <= 65535, "mtu in range");
	fuzz_check(n->dnsmasq_pid >= 0, "dnsmasq pid not negative");
	fuzz_check(n->span.vni <= SPAN_VNI_MAX, "span VNI in range");
	fuzz_check(!n->span.vni || (ifname_is_valid(n->span.vxlan) && n->span.vxlan_ifindex >= 0),
		   "span device valid");
	fuzz_check(n->n_leases == 0 || n->leases, "leases allocated");
	fuzz_check(n->n_leases <= n->leases_alloc, "leases fit their allocation");
	for (size_t i = 0; i < n->n_leases; i++) {
		check_lease(n, &n->leases[i]);
		/* The journal names leases by id; 0 is "none recorded". */
		for (size_t j = 0; j < i && n->leases[i].id; j++)
			fuzz_check(n->leases[j].id != n->leases[i].id, "lease ids distinct");
	}
}

static int compare_leases(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct state_lease));
}

/* Replaying twice is replaying once: a crash may leave lines the snapshot holds. */
static void check_idempotent(struct state_network *n, const char *journal, size_t len)
{
	size_t count = n->n_leases, size = count * sizeof(*n->leases);
	struct state_lease *once = malloc(size + 1);
	int r;

	if (!once)
		return;
	if (count)
		memcpy(once, n->leases, size);
	r = state_replay(n, journal, len);
	if (r != -ENOMEM) {
		fuzz_check(n->n_leases == count, "replayed twice: as many leases");
		if (count) {
			qsort(once, count, sizeof(*once), compare_leases);
			qsort(n->leases, count, sizeof(*once), compare_leases);
			fuzz_check(memcmp(once, n->leases, size) == 0, "replayed twice: same leases");
		}
	}
	free(once);
}

/* A snapshot state_parse() accepts, for journals after a refused first line. */
static const char base[] =
	"{\"version\":1,\"name\":\"shared\",\"mode\":\"shared\",\"bridge\":\"vmbr0\","
	"\"bridge_ifindex\":7,\"bridge_mac\":\"02:5e:11:22:33:44\",\"subnet\":\"192.168.64.0/24\","
	"\"ula\":\"fd12::\",\"mtu\":1500,\"dhcp\":true,\"dnsmasq_pid\":1,\"leases\":[]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *nl = memchr(text, '\n', size);
	size_t snap_len = nl ? (size_t)(nl - text) : size, journal_len;
	struct state_network n, untouched;
	int r;

	memset(&n, 0xa5, sizeof(n));
	untouched = n;
	r = state_parse(text, snap_len, &n);
	fuzz_check(r == 0 || r == -EINVAL || r == -ENOMEM, "result is 0, -EINVAL or -ENOMEM");
	if (r < 0) {
		/* Both memset() first, padding too. NOLINTNEXTLINE(bugprone-suspicious-memory-comparison) */
		fuzz_check(memcmp(&n, &untouched, sizeof(n)) == 0, "refused: output untouched");
		if (!nl || state_parse(base, sizeof(base) - 1, &n) < 0)
			return 0;
	}
	check_valid(&n);
	if (nl) {
		journal_len = size - snap_len - 1;
		r = state_replay(&n, nl + 1, journal_len);
		fuzz_check(r >= 0 || r == -ENOMEM, "replay result is a count or -ENOMEM");
		check_valid(&n);
		if (r >= 0)
			check_idempotent(&n, nl + 1, journal_len);
	}
	state_network_clear(&n);
	fuzz_check(n.leases == NULL && n.n_leases == 0, "cleared");
	return 0;
}

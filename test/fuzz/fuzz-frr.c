/* fuzz-frr.c - libFuzzer harness of frr_running_parse() and frr_plan(): what vtysh printed
 *
 * bgpd's running configuration comes from another program, which may be
 * of another version, print more than we expect, or be cut short. Whatever
 * it printed, the plan must be well formed: a refusal only when bgpd runs
 * another AS, else nothing or commands that open with "configure terminal"
 * and close with "end", never an empty or multi-line command (vtysh takes
 * one per -c), and never a removal of what the broker does not own.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "frr-plan.h"
#include "fuzz.h"
#include "util.h"

/* "no neighbor X": X is one of the broker's groups, or one of their members bgpd listed. */
static bool ours_to_remove(const struct frr_running *run, const char *cmd)
{
	const char *x = cmd + strlen("no neighbor ");
	struct in_addr a;

	if (strncmp(cmd, "no neighbor ", 12) != 0)
		return true;
	if (strncmp(x, FRR_GROUP " ", strlen(FRR_GROUP) + 1) == 0 ||
	    strncmp(x, FRR_GROUP_CLIENTS " ", strlen(FRR_GROUP_CLIENTS) + 1) == 0)
		return true; /* the group itself, or its activation for IPv4 unicast */
	if (inet_pton(AF_INET, x, &a) != 1)
		return false;
	for (size_t i = 0; i < run->n_peers; i++)
		if (run->peers[i].address == ntohl(a.s_addr))
			return true;
	return false;
}

static void check_plan(const struct frr_running *run, const struct frr_want *want)
{
	char **v = NULL;
	size_t n = 0;
	int r = frr_plan(run, want, &v, &n);

	fuzz_check(r == 0 || r == FRR_E_ASN, "plan: 0 or FRR_E_ASN");
	fuzz_check(r != FRR_E_ASN || (want->n_vnis && run->asn && run->asn != want->asn),
		   "refused only for another AS");
	if (n) {
		fuzz_check(streq(v[0], "configure terminal") && streq(v[n - 1], "end"),
			   "commands open and close the configuration");
		for (size_t i = 0; i < n; i++) {
			fuzz_check(v[i][0] && !strchr(v[i], '\n'), "one command per line");
			fuzz_check(ours_to_remove(run, v[i]), "only the broker's neighbours go");
		}
	}
	frr_commands_free(v, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct frr_peer peers[] = { { 0xc6336402, false }, { 0xc6336403, true } };
	static uint32_t vnis[] = { 100 }, owned[] = { 100, 200 };
	struct frr_want up = { .asn = 65000,
			       .local = 0xc6336401,
			       .peers = peers,
			       .n_peers = 2,
			       .vnis = vnis,
			       .n_vnis = 1,
			       .owned = owned,
			       .n_owned = 2 };
	struct frr_want down = { .owned = owned, .n_owned = 2, .advertise_ours = true };
	struct frr_running run;
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (frr_running_parse(text, &run) == 0) {
		check_plan(&run, &up);
		check_plan(&run, &down);
		frr_running_clear(&run);
	}
	free(text);
	return 0;
}

/* fuzz-config.c - libFuzzer harness of config_parse(): a NAME.json network file of any content
 *
 * Anyone who may write /etc/vmnet-broker.d is trusted, but a typo must come
 * back as an error for `vmnet-broker networks`, never take the daemon down,
 * and every error must reach that listing.
 * A file that parses is also checked against a copy of itself (every
 * subnet, prefix and forward then collides) and against the built-ins.
 * Each input is parsed a second time as a file others may not read
 * (CONFIG_PARSE_HIDE), which must find the same errors without quoting.
 */
#include <errno.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "fuzz.h"
#include "util.h"

#define NAME "fuzz"
#define PATH "/etc/vmnet-broker.d/" NAME ".json"

static void check_errors(const struct config_errors *e)
{
	for (size_t i = 0; i < e->n; i++) {
		fuzz_check(e->v[i].key && e->v[i].reason && e->v[i].reason[0],
			   "every error has a key and a reason");
		fuzz_check(!e->v[i].file || streq(e->v[i].file, PATH), "error names the file");
	}
}

/* A valid span: what span.c and frr.c take for granted. */
static void check_span(const struct network_config *c)
{
	const struct span_config *s = &c->span;

	if (!s->vni)
		return;
	fuzz_check(s->vni <= SPAN_VNI_MAX && s->port > 0 && s->control < _SPAN_CONTROL_MAX,
		   "span values in range");
	fuzz_check(c->has_subnet && c->has_ipv6_prefix, "span with a fixed subnet and prefix");
	fuzz_check(c->mtu + SPAN_OVERHEAD <= s->underlay_mtu, "span MTU leaves room");
	fuzz_check(s->n_hosts >= 2 && s->n_hosts <= SPAN_HOSTS_MAX && s->hosts, "span hosts");
	fuzz_check(s->control != SPAN_EVPN || s->asn, "EVPN span with an ASN");
	for (size_t i = 0; i < s->n_hosts; i++) {
		fuzz_check(s->hosts[i].address != 0, "span host addressed");
		fuzz_check(!c->dhcp || s->hosts[i].slice.len, "span host with a slice under DHCP");
	}
}

static void check_valid(const struct network_config *c)
{
	fuzz_check(streq(c->name, NAME), "name kept");
	fuzz_check(c->mode < _MODE_MAX, "mode in range");
	fuzz_check(c->mtu >= CONFIG_MTU_MIN && c->mtu <= CONFIG_MTU_MAX, "mtu in range");
	fuzz_check(!c->has_subnet ||
			   (c->prefix_len >= CONFIG_MASK_MIN && c->prefix_len <= CONFIG_MASK_MAX),
		   "mask in range");
	fuzz_check(!c->has_ipv6_prefix || (c->ipv6_prefix_len >= CONFIG_PREFIX6_MIN &&
					   c->ipv6_prefix_len <= CONFIG_PREFIX6_MAX),
		   "ipv6 prefix length in range");
	fuzz_check(c->n_forwards == 0 || c->forwards, "forwards allocated");
	fuzz_check(c->n_reservations == 0 || c->reservations, "reservations allocated");
	fuzz_check(!c->external_interface[0] || ifname_is_valid(c->external_interface),
		   "external_interface valid");
	for (size_t i = 0; i < c->n_forwards; i++) {
		const struct port_forward *f = &c->forwards[i];

		fuzz_check(f->protocol < _FORWARD_PROTOCOL_MAX && f->external_port > 0 &&
				   f->internal_port > 0,
			   "forward valid");
	}
	for (size_t i = 0; i < c->n_reservations; i++)
		fuzz_check(!(c->reservations[i].mac[0] & 1), "reservation MAC unicast");
	for (size_t i = 0; i < c->n_allowed_users; i++)
		fuzz_check(c->allowed_users[i] && c->allowed_users[i][0], "allowed user named");
	for (size_t i = 0; i < c->n_allowed_groups; i++)
		fuzz_check(c->allowed_groups[i] && c->allowed_groups[i][0], "allowed group named");
	fuzz_check(c->lease_forwards.port_min <= c->lease_forwards.port_max &&
			   (c->lease_forwards.port_min == 0) == (c->lease_forwards.port_max == 0),
		   "lease_port_forwards range valid");
	fuzz_check(c->lease_forwards.restricted || (c->lease_forwards.n_allowed_users == 0 &&
						    c->lease_forwards.n_allowed_groups == 0),
		   "lease_port_forwards lists only when restricted");
	check_span(c);
}

/* A file others may not read: the same verdict and errors, none quoting the text. */
static void check_hidden(const uint8_t *data, size_t size, int r, const struct config_errors *e)
{
	struct config_errors hidden = {};
	struct network_config c;
	int rh;

	rh = config_parse_flags(NAME, PATH, (const char *)data, size, CONFIG_PARSE_HIDE, &c, &hidden);
	if (rh != -ENOMEM && r != -ENOMEM) {
		fuzz_check(rh == r, "hiding the text changes no verdict");
		fuzz_check(hidden.n == e->n, "hiding the text drops no error");
	}
	check_errors(&hidden);
	network_config_clear(&c);
	config_errors_clear(&hidden);
}

/* `vmnet-broker networks` shows the file with every error, as JSON: none may drop out. */
static void check_json(const struct network_config *c, const struct config_errors *e)
{
	json_t *o = config_json(c, e);

	fuzz_check(o != NULL, "the file shows in `networks`");
	fuzz_check(json_array_size(json_object_get(o, "errors")) == e->n,
		   "every error shows in `networks`");
	json_decref(o);
}

/* Two valid files alike collide on all they fix (their domain too); a built-in is never wrong. */
static void check_pairs(const struct network_config *c)
{
	struct config_errors errors[3] = {};
	struct network_config copy;
	const struct network_config *v[3];
	size_t n_builtins;

	if (network_config_copy(&copy, c) < 0)
		return;
	v[0] = c;
	v[1] = &copy;
	v[2] = config_builtins(&n_builtins);
	fuzz_check(n_builtins > 0, "built-ins exist");
	if (config_check_files(v, 3, errors) == 0) {
		char domain[DNS_DOMAIN_MAX + 1];
		bool fixes = c->has_subnet || c->has_ipv6_prefix || c->n_forwards > 0 ||
			     (c->dns_proxy && config_domain(c, domain, sizeof(domain))[0]);

		fuzz_check((errors[0].n > 0) == fixes && (errors[1].n > 0) == fixes,
			   "a copy collides exactly when the file fixes something");
		fuzz_check(errors[2].n == 0, "no collision with a built-in");
		for (size_t i = 0; i < 3; i++)
			check_errors(&errors[i]);
	}
	for (size_t i = 0; i < 3; i++)
		config_errors_clear(&errors[i]);
	network_config_clear(&copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errors errors = {};
	struct network_config c;
	int r;

	r = config_parse(NAME, PATH, (const char *)data, size, &c, &errors);
	fuzz_check(r == 0 || r == CONFIG_E_INVALID || r == -ENOMEM,
		   "result is 0, CONFIG_E_INVALID or -ENOMEM");
	fuzz_check((r == CONFIG_E_INVALID) == (errors.n > 0) || r == -ENOMEM,
		   "errors exactly when invalid");
	check_errors(&errors);
	check_hidden(data, size, r, &errors);
	if (r != -ENOMEM)
		check_json(&c, &errors);
	if (r == 0) {
		check_valid(&c);
		check_pairs(&c);
	}
	network_config_clear(&c);
	config_errors_clear(&errors);
	return 0;
}

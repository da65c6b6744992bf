/* hostfw-status.c - the "host" member of status: what is on the host and what was done about it
 *
 * Read when asked, beside what hostfw.c keeps: the forwarding and
 * br_netfilter sysctls, every base chain of nftables (others' that drop
 * what our bridges carry, and whether our table is there), a DNS server
 * on the wildcard address. Nothing in it names a user.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "firewalld.h"
#include "hostfw-state.h"
#include "hostfw.h"
#include "iptables.h"
#include "nft.h"
#include "nftmon.h"
#include "proc.h"
#include "sockdiag.h"
#include "util.h"

static json_t *happening_json(const struct happening *e)
{
	char when[32];
	struct tm tm;
	json_t *o;

	if (!e->time)
		return NULL;
	gmtime_r(&e->time, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	o = json_pack("{s:s, s:s}", "time", when, "cause", e->cause);
	if (o && e->what[0])
		json_object_set_new(o, "what", json_string(e->what));
	return o;
}

static void set_opt(json_t *o, const char *key, json_t *v)
{
	if (o && v)
		json_object_set_new(o, key, v);
}

static json_t *nftables_json(struct hostfw *h, const struct nft_base_chain *chains, size_t n)
{
	bool table = false;
	json_t *o, *restore = happening_json(&h->last_restore);

	for (size_t i = 0; i < n; i++)
		if (streq(chains[i].family, "inet") && streq(chains[i].table, NFT_TABLE))
			table = true;
	if (restore)
		json_object_set_new(restore, "duration_ms",
				    json_integer((json_int_t)(h->last_restore.ms + 0.5)));
	o = json_pack("{s:b, s:I, s:I}", "table", table, "restores", (json_int_t)h->restores,
		      "backoff", (json_int_t)(h->restore_pending ? h->delay / USEC_PER_SEC : 0));
	set_opt(o, "last_restore", restore);
	return o;
}

static const char *lower_policy(const char *p)
{
	if (streq(p, "ACCEPT"))
		return "accept";
	if (streq(p, "DROP"))
		return "drop";
	return NULL;
}

static json_t *slot_json(const struct ipt_slot *s)
{
	const struct ipt_report *r = &s->last;
	json_t *o = json_pack("{s:s, s:s, s:b}", "backend", ipt_backend_to_string(r->backend),
			      "family", ipt_family_to_string(r->family), "in_place",
			      !s->error[0] && r->forward_in_place && r->input_in_place);

	if (!o)
		return NULL;
	if (lower_policy(r->view.forward_policy))
		json_object_set_new(o, "forward_policy",
				    json_string(lower_policy(r->view.forward_policy)));
	if (lower_policy(r->view.input_policy))
		json_object_set_new(o, "input_policy", json_string(lower_policy(r->view.input_policy)));
	if (r->forward_from)
		json_object_set_new(o, "jump_from", json_string(r->forward_from));
	json_object_set_new(o, "input_jump", json_boolean(r->input_jump));
	if (s->error[0])
		json_object_set_new(o, "error", json_string(s->error));
	set_opt(o, "last_fix", happening_json(&s->fix));
	return o;
}

static json_t *iptables_json(struct hostfw *h, bool *docker, bool *ufw)
{
	json_t *a = json_array();

	for (int b = 0; b < _IPT_BACKEND_MAX; b++)
		for (int f = 0; f < _IPT_FAMILY_MAX; f++) {
			const struct ipt_slot *s = &h->slots[b][f];

			if (!s->present || !s->checked)
				continue;
			*docker |= s->last.view.docker_user;
			*ufw |= s->last.view.ufw;
			json_array_append_new(a, slot_json(s));
		}
	return a;
}

static json_t *firewalld_json(struct hostfw *h)
{
	const char *const *bound;
	size_t n = firewalld_bound(h->fw, &bound);
	json_t *ifs = json_array(), *o;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(ifs, json_string(bound[i]));
	o = json_pack("{s:b, s:s, s:b, s:o}", "running", firewalld_running(h->fw), "zone",
		      FIREWALLD_ZONE, "zone_present", firewalld_zone_present(h->fw), "interfaces",
		      ifs);
	set_opt(o, "last_apply", happening_json(&h->fw_apply));
	if (o && h->fw_error[0])
		json_object_set_new(o, "error", json_string(h->fw_error));
	return o;
}

/* A sysctl that is 0 or 1: true, false, or NULL when there is no such file. */
static json_t *sysctl_bool(const char *path)
{
	char buf[16];

	if (proc_read_file(path, 0, buf, sizeof(buf)) <= 0)
		return NULL;
	return json_boolean(buf[0] == '1');
}

static json_t *sysctls_json(void)
{
	json_t *fwd = json_object(), *brnf = json_object(), *o = json_object();

	set_opt(fwd, "ipv4", sysctl_bool("/proc/sys/net/ipv4/ip_forward"));
	set_opt(fwd, "ipv6", sysctl_bool("/proc/sys/net/ipv6/conf/all/forwarding"));
	/* Absent without the br_netfilter module: bridged frames pass no IP hook then. */
	set_opt(brnf, "ipv4", sysctl_bool("/proc/sys/net/bridge/bridge-nf-call-iptables"));
	set_opt(brnf, "ipv6", sysctl_bool("/proc/sys/net/bridge/bridge-nf-call-ip6tables"));
	set_opt(o, "forwarding", fwd);
	if (json_object_size(brnf))
		set_opt(o, "br_netfilter", brnf);
	else
		json_decref(brnf);
	return o;
}

/*
 * Base chains of others that drop forwarded traffic or what guests send
 * the host, and that nothing here opens: iptables-nft's are covered by
 * our iptables rules, firewalld's by its zone, ours are ours.
 */
static json_t *drop_chains_json(const struct nft_base_chain *c, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		bool ipt = (streq(c[i].family, "ip") || streq(c[i].family, "ip6")) &&
			   streq(c[i].table, "filter");

		if (!c[i].policy_drop || ipt || streq(c[i].table, NFT_TABLE) ||
		    (streq(c[i].family, "inet") && streq(c[i].table, "firewalld")) ||
		    (!streq(c[i].hook, "forward") && !streq(c[i].hook, "input")))
			continue;
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "family", c[i].family,
						   "table", c[i].table, "chain", c[i].name, "hook",
						   c[i].hook));
	}
	return a;
}

static json_t *dns_json(struct hostfw *h)
{
	json_t *nets = json_array();
	int r = sockdiag_wildcard_listener(53);

	for (size_t i = 0; i < h->n_nets; i++)
		if (h->nets[i].dns_alt_port)
			json_array_append_new(nets, json_string(h->nets[i].name));
	return json_pack("{s:b, s:i, s:o}", "wildcard_listener", r > 0, "alternate_port",
			 NFT_DNS_ALT_PORT, "networks", nets);
}

json_t *hostfw_status_json(struct hostfw *h)
{
	_cleanup_free_ struct nft_base_chain *chains = NULL;
	json_t *o = sysctls_json(), *detected = json_array();
	bool docker = false, ufw = false;
	size_t n = 0;

	if (nft_list_base_chains(&chains, &n) < 0)
		n = 0;
	set_opt(o, "nftables", nftables_json(h, chains, n));
	set_opt(o, "iptables", iptables_json(h, &docker, &ufw));
	set_opt(o, "firewalld", firewalld_json(h));
	set_opt(o, "foreign_drop_chains", drop_chains_json(chains, n));
	set_opt(o, "dns", dns_json(h));
	if (docker)
		json_array_append_new(detected, json_string("docker"));
	if (ufw)
		json_array_append_new(detected, json_string("ufw"));
	if (firewalld_running(h->fw))
		json_array_append_new(detected, json_string("firewalld"));
	set_opt(o, "detected", detected);
	return o;
}

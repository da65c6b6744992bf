/* iptables.c - the broker's accept rules in the iptables of Docker, ufw and others, both backends
 *
 * A packet passes every base chain of every table on its hook: an accept
 * in the broker's own nftables table cannot overrule a drop in iptables'
 * FORWARD, and with br_netfilter on (Docker turns it on) that drop also
 * hits guest-to-guest traffic on one bridge. Docker sets FORWARD's policy
 * to DROP, ufw too, and ufw's INPUT drops DHCP and DNS, and the VXLAN
 * and BGP a network that spans hosts gets from the others. So wherever a
 * filter table of iptables exists and can drop, the broker adds accept
 * rules for its bridges (and those hosts), in chains of its own, as Docker documents
 * (DOCKER-USER) and as libvirt does. Accepting all traffic from and to a
 * bridge there is safe: table inet vmnet_broker still drops what guests
 * did not ask for.
 *
 * Each backend and family is its own table: iptables-nft's live in
 * nf_tables (tables ip/ip6 filter), iptables-legacy's in x_tables, and a
 * packet passes both. We exec the iptables programs, as Docker and
 * libvirt do: libiptc is legacy-only with no stable API, and writing
 * iptables-nft's tables with libnftables is what its "do not touch"
 * warning is about. One `iptables-save -t filter` reads a table; one
 * `iptables-restore --noflush` fixes it, atomically. Policies and
 * others' rules are never changed.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h> /* before the linux/ headers: struct in_addr */
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include "command.h"
#include "iptables.h"
#include "pool.h"
#include "proc.h"
#include "util.h"

static const char *const backend_names[_IPT_BACKEND_MAX] = {
	[IPT_NFT] = "nft",
	[IPT_LEGACY] = "legacy",
};
static_assert(ELEMENTSOF(backend_names) == _IPT_BACKEND_MAX, "a name per backend");

static const char *const family_names[_IPT_FAMILY_MAX] = {
	[IPT_IPV4] = "ipv4",
	[IPT_IPV6] = "ipv6",
};
static_assert(ELEMENTSOF(family_names) == _IPT_FAMILY_MAX, "a name per family");

const char *ipt_backend_to_string(enum ipt_backend b)
{
	return b < _IPT_BACKEND_MAX ? backend_names[b] : "?";
}

const char *ipt_family_to_string(enum ipt_family f)
{
	return f < _IPT_FAMILY_MAX ? family_names[f] : "?";
}

void ipt_program(enum ipt_backend b, enum ipt_family f, const char *suffix, char *buf, size_t size)
{
	snprintf(buf, size, "%s-%s%s", f == IPT_IPV6 ? "ip6tables" : "iptables",
		 ipt_backend_to_string(b), suffix);
}

/* ---- reading iptables-save */

void ipt_view_clear(struct ipt_view *v)
{
	v->forward_lines = mfree(v->forward_lines);
	v->input_lines = mfree(v->input_lines);
}

/* Append @line and a newline to *@buf. */
static int append_line(char **buf, const char *line, size_t len)
{
	size_t old = *buf ? strlen(*buf) : 0;
	char *n = realloc(*buf, old + len + 2);

	if (!n)
		return -ENOMEM;
	memcpy(n + old, line, len);
	n[old + len] = '\n';
	n[old + len + 1] = '\0';
	*buf = n;
	return 0;
}

static bool starts_with(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && strncmp(s, prefix, n) == 0;
}

static bool line_is(const char *s, size_t len, const char *want)
{
	return len == strlen(want) && strncmp(s, want, len) == 0;
}

/* ":FORWARD DROP [0:0]": the policy into @buf. */
static void take_policy(const char *s, size_t len, const char *chain, char *buf, size_t size)
{
	size_t n = strlen(chain) + 2;
	size_t i = n;

	while (i < len && s[i] != ' ')
		i++;
	snprintf(buf, size, "%.*s", (int)(i - n), s + n);
}

/* One line of the filter table. */
static int parse_line(struct ipt_view *v, const char *s, size_t len)
{
	if (starts_with(s, len, ":FORWARD "))
		take_policy(s, len, "FORWARD", v->forward_policy, sizeof(v->forward_policy));
	else if (starts_with(s, len, ":INPUT "))
		take_policy(s, len, "INPUT", v->input_policy, sizeof(v->input_policy));
	else if (starts_with(s, len, ":DOCKER-USER "))
		v->docker_user = true;
	else if (starts_with(s, len, ":ufw-user-forward ") ||
		 starts_with(s, len, ":ufw6-user-forward "))
		v->ufw = true;
	else if (starts_with(s, len, ":" IPT_CHAIN_FORWARD " "))
		v->forward_chain = true;
	else if (starts_with(s, len, ":" IPT_CHAIN_INPUT " "))
		v->input_chain = true;
	else if (line_is(s, len, "-A FORWARD -j " IPT_CHAIN_FORWARD))
		v->jumps_forward++;
	else if (line_is(s, len, "-A DOCKER-USER -j " IPT_CHAIN_FORWARD))
		v->jumps_docker++;
	else if (line_is(s, len, "-A INPUT -j " IPT_CHAIN_INPUT))
		v->jumps_input++;
	else if (starts_with(s, len, "-A FORWARD "))
		v->forward_rules = true;
	else if (starts_with(s, len, "-A INPUT "))
		v->input_rules = true;
	else if (starts_with(s, len, "-A " IPT_CHAIN_FORWARD " "))
		return append_line(&v->forward_lines, s, len);
	else if (starts_with(s, len, "-A " IPT_CHAIN_INPUT " "))
		return append_line(&v->input_lines, s, len);
	return 0;
}

int ipt_parse(const char *save, struct ipt_view *ret)
{
	struct ipt_view v = {};
	bool in_filter = false, seen = false;
	int r = 0;

	for (const char *s = save; s && *s && r >= 0;) {
		const char *end = strchrnul(s, '\n');
		size_t len = (size_t)(end - s);

		if (len > 0 && s[0] == '#') {
			/* comments; iptables-nft's "# Warning: iptables-legacy tables present" */
		} else if (line_is(s, len, "*filter")) {
			in_filter = seen = true;
		} else if (line_is(s, len, "COMMIT")) {
			in_filter = false;
		} else if (in_filter) {
			r = parse_line(&v, s, len);
		}
		s = *end ? end + 1 : end;
	}
	if (r < 0 || !seen) {
		ipt_view_clear(&v);
		return r < 0 ? r : -EINVAL;
	}
	*ret = v;
	return 0;
}

bool ipt_forward_can_drop(const struct ipt_view *v)
{
	return streq(v->forward_policy, "DROP") || v->forward_rules;
}

bool ipt_input_can_drop(const struct ipt_view *v)
{
	return streq(v->input_policy, "DROP") || v->input_rules;
}

/* ---- planning a fix */

/* A growing text, with the first failure remembered. */
struct text {
	FILE *f;
	char *buf;
	size_t size;
};

_printf_(2, 3) static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(t->f, fmt, ap);
	va_end(ap);
}

/* Our FORWARD chain's rules as iptables-save prints them: everything from and to each bridge. */
static void forward_rules(struct text *t, const struct ipt_want *w)
{
	for (size_t i = 0; i < w->n_bridges; i++) {
		put(t, "-A " IPT_CHAIN_FORWARD " -i %s -j ACCEPT\n", w->bridges[i]);
		put(t, "-A " IPT_CHAIN_FORWARD " -o %s -j ACCEPT\n", w->bridges[i]);
	}
}

/*
 * Our INPUT chain's rules, as saved: what guests need of the host, the
 * set libvirt's LIBVIRT_INP opens too. DHCP (IPv4; IPv6 addresses come
 * from router advertisements), DNS on port 53 and on the alternate port
 * a network's dnsmasq may listen on (the nftables table redirects 53
 * there before INPUT sees it), and ICMP: ping of the gateway, and for
 * IPv6 the router solicitations and neighbour discovery without which
 * guests have no IPv6 at all. The spans' names links take DNS only (the
 * other hosts' questions for names; IPv4, they have no IPv6), and table
 * inet vmnet_broker takes only those. Then, for IPv4, the other hosts of the
 * spans: their VXLAN (table inet vmnet_broker takes it from them only)
 * and for EVPN their BGP session, which ufw's INPUT would drop too; VXLAN
 * is not tracked (nft.c), so no "established" rule of the host's lets it
 * in either.
 */
static void input_rules(struct text *t, enum ipt_family f, const struct ipt_want *w)
{
	const char *c = "-A " IPT_CHAIN_INPUT;
	char a[INET_ADDRSTRLEN];

	for (size_t i = 0; i < w->n_bridges; i++) {
		const char *b = w->bridges[i];

		if (f == IPT_IPV4)
			put(t, "%s -i %s -p udp -m udp --dport 67 -j ACCEPT\n", c, b);
		put(t, "%s -i %s -p udp -m udp --dport 53 -j ACCEPT\n", c, b);
		put(t, "%s -i %s -p tcp -m tcp --dport 53 -j ACCEPT\n", c, b);
		if (w->dns_port) {
			put(t, "%s -i %s -p udp -m udp --dport %u -j ACCEPT\n", c, b, w->dns_port);
			put(t, "%s -i %s -p tcp -m tcp --dport %u -j ACCEPT\n", c, b, w->dns_port);
		}
		put(t, "%s -i %s -p %s -j ACCEPT\n", c, b, f == IPT_IPV4 ? "icmp" : "ipv6-icmp");
	}
	for (size_t i = 0; f == IPT_IPV4 && i < w->n_names_links; i++) {
		const char *l = w->names_links[i];

		put(t, "%s -i %s -p udp -m udp --dport 53 -j ACCEPT\n", c, l);
		put(t, "%s -i %s -p tcp -m tcp --dport 53 -j ACCEPT\n", c, l);
		if (w->dns_port) {
			put(t, "%s -i %s -p udp -m udp --dport %u -j ACCEPT\n", c, l, w->dns_port);
			put(t, "%s -i %s -p tcp -m tcp --dport %u -j ACCEPT\n", c, l, w->dns_port);
		}
	}
	for (size_t i = 0; f == IPT_IPV4 && i < w->n_peers; i++) {
		const struct ipt_span_peer *p = &w->peers[i];

		addr4_format(p->address, a, sizeof(a));
		put(t, "%s -s %s/32 -p udp -m udp --dport %u -j ACCEPT\n", c, a, p->port);
		if (p->bgp)
			put(t, "%s -s %s/32 -p tcp -m tcp --dport 179 -j ACCEPT\n", c, a);
	}
}

static char *render(void (*fn)(struct text *, enum ipt_family, const struct ipt_want *),
		    enum ipt_family f, const struct ipt_want *w)
{
	struct text t = {};

	t.f = open_memstream(&t.buf, &t.size);
	if (!t.f)
		return NULL;
	fn(&t, f, w);
	if (fclose(t.f) != 0)
		return mfree(t.buf);
	return t.buf;
}

static void forward_rules_of(struct text *t, enum ipt_family f, const struct ipt_want *w)
{
	forward_rules(t, w);
}

/* Append "@what" to @ret_what, comma-separated. */
static void say(char *buf, size_t size, const char *what)
{
	size_t l = strlen(buf);

	if (l < size)
		snprintf(buf + l, size - l, "%s%s", l ? ", " : "", what);
}

static void put_deletes(struct text *t, const char *chain, const char *target, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		put(t, "-D %s -j %s\n", chain, target);
}

/* Our chain @chain as @want says (NULL: not wanted), and its jumps. */
struct chain_plan {
	const char *chain;
	bool exists;
	const char *have; /* its rules as saved */
	const char *want; /* NULL: remove it */
};

/* Rewrite or remove the chain itself; the jumps go first when it is removed. */
static void plan_chain(struct text *t, const struct chain_plan *p, bool *changed, char *what, size_t size)
{
	char msg[96];

	if (p->want && (!p->exists || !streq(p->have ? p->have : "", p->want))) {
		put(t, ":%s - [0:0]\n%s", p->chain, p->want);
		snprintf(msg, sizeof(msg), "chain %s written", p->chain);
		say(what, size, msg);
		*changed = true;
	} else if (!p->want && p->exists) {
		put(t, ":%s - [0:0]\n-X %s\n", p->chain, p->chain);
		snprintf(msg, sizeof(msg), "chain %s removed", p->chain);
		say(what, size, msg);
		*changed = true;
	}
}

/* FORWARD: the jump from DOCKER-USER where it exists (Docker's documented place), else FORWARD. */
static void plan_forward_jumps(struct text *t, const struct ipt_view *v, bool wanted, bool *changed,
			       char *what, size_t size)
{
	bool docker = wanted && v->docker_user;
	unsigned int keep_fwd = wanted && !docker ? 1 : 0, keep_docker = docker ? 1 : 0;

	if (v->jumps_forward > keep_fwd) {
		put_deletes(t, "FORWARD", IPT_CHAIN_FORWARD, v->jumps_forward - keep_fwd);
		say(what, size, "jump from FORWARD removed");
		*changed = true;
	}
	if (v->jumps_docker > keep_docker) {
		put_deletes(t, "DOCKER-USER", IPT_CHAIN_FORWARD, v->jumps_docker - keep_docker);
		say(what, size, "jump from DOCKER-USER removed");
		*changed = true;
	}
	if (keep_docker && v->jumps_docker == 0) {
		put(t, "-I DOCKER-USER 1 -j " IPT_CHAIN_FORWARD "\n");
		say(what, size, "jump from DOCKER-USER added");
		*changed = true;
	}
	if (keep_fwd && v->jumps_forward == 0) {
		put(t, "-I FORWARD 1 -j " IPT_CHAIN_FORWARD "\n");
		say(what, size, "jump from FORWARD added");
		*changed = true;
	}
}

static void plan_input_jumps(struct text *t, const struct ipt_view *v, bool wanted, bool *changed,
			     char *what, size_t size)
{
	unsigned int keep = wanted ? 1 : 0;

	if (v->jumps_input > keep) {
		put_deletes(t, "INPUT", IPT_CHAIN_INPUT, v->jumps_input - keep);
		say(what, size, "jump from INPUT removed");
		*changed = true;
	}
	if (keep && v->jumps_input == 0) {
		put(t, "-I INPUT 1 -j " IPT_CHAIN_INPUT "\n");
		say(what, size, "jump from INPUT added");
		*changed = true;
	}
}

int ipt_plan(const struct ipt_view *v, enum ipt_family f, const struct ipt_want *w,
	     char **ret_input, char *ret_what, size_t what_size)
{
	bool want_fwd = w->n_bridges > 0 && ipt_forward_can_drop(v);
	bool want_in = w->n_bridges > 0 && ipt_input_can_drop(v);
	_cleanup_free_ char *fwd = want_fwd ? render(forward_rules_of, f, w) : NULL;
	_cleanup_free_ char *in = want_in ? render(input_rules, f, w) : NULL;
	struct chain_plan pf = { IPT_CHAIN_FORWARD, v->forward_chain, v->forward_lines, fwd };
	struct chain_plan pi = { IPT_CHAIN_INPUT, v->input_chain, v->input_lines, in };
	struct text t = {};
	bool changed = false;

	*ret_input = NULL;
	ret_what[0] = '\0';
	if ((want_fwd && !fwd) || (want_in && !in))
		return -ENOMEM;
	t.f = open_memstream(&t.buf, &t.size);
	if (!t.f)
		return -ENOMEM;
	put(&t, "*filter\n");
	/* Chains written before the jumps to them; jumps removed before their chain. */
	if (want_fwd)
		plan_chain(&t, &pf, &changed, ret_what, what_size);
	if (want_in)
		plan_chain(&t, &pi, &changed, ret_what, what_size);
	plan_forward_jumps(&t, v, want_fwd, &changed, ret_what, what_size);
	plan_input_jumps(&t, v, want_in, &changed, ret_what, what_size);
	if (!want_fwd)
		plan_chain(&t, &pf, &changed, ret_what, what_size);
	if (!want_in)
		plan_chain(&t, &pi, &changed, ret_what, what_size);
	put(&t, "COMMIT\n");
	if (fclose(t.f) != 0) {
		free(t.buf);
		return -ENOMEM;
	}
	if (changed)
		*ret_input = t.buf;
	else
		free(t.buf);
	return 0;
}

bool ipt_legacy_present(enum ipt_family f)
{
	char buf[4096];
	ssize_t n = proc_read_file(f == IPT_IPV4 ? "/proc/net/ip_tables_names"
						 : "/proc/net/ip6_tables_names",
				   0, buf, sizeof(buf));

	/* One name a line; reading the list creates nothing. */
	for (char *line = buf; n > 0 && *line;) {
		char *end = strchrnul(line, '\n');

		if (end - line == 6 && strncmp(line, "filter", 6) == 0)
			return true;
		line = *end ? end + 1 : end;
	}
	return false;
}

/* ---- running a check */

void ipt_report_clear(struct ipt_report *r)
{
	ipt_view_clear(&r->view);
}

struct ipt_check {
	sd_event *event;
	enum ipt_backend backend;
	enum ipt_family family;
	struct ipt_want want;
	char **bridges;              /* the copy want.bridges (then want.names_links) points to */
	struct ipt_span_peer *peers; /* and want.peers */
	struct command *cmd;
	bool restoring;
	struct ipt_report report;
	ipt_spawned_fn spawned;
	ipt_done_fn done;
	void *userdata;
};

struct ipt_check *ipt_check_free(struct ipt_check *c)
{
	if (!c)
		return NULL;
	c->cmd = command_free(c->cmd);
	ipt_report_clear(&c->report);
	for (size_t i = 0; c->bridges && i < c->want.n_bridges + c->want.n_names_links; i++)
		free(c->bridges[i]);
	free(c->bridges);
	free(c->peers);
	free(c);
	return NULL;
}

static void fail(struct ipt_report *rep, int error, const char *fmt, ...) _printf_(3, 4);
static void fail(struct ipt_report *rep, int error, const char *fmt, ...)
{
	va_list ap;

	rep->error = error;
	va_start(ap, fmt);
	vsnprintf(rep->message, sizeof(rep->message), fmt, ap);
	va_end(ap);
}

/* The first line of a program's stderr, for the log: iptables says there what went wrong. */
static void first_line(const char *s, char *buf, size_t size)
{
	size_t n = s ? strcspn(s, "\n") : 0;

	snprintf(buf, size, "%.*s", (int)n, s ? s : "");
}

/* argv of `iptables-save -t filter` or `iptables-restore -w 5 --noflush` for @c. */
static int argv_for(enum ipt_backend b, enum ipt_family f, bool restore, char path[64], char *argv[6])
{
	char name[32];
	int r;

	ipt_program(b, f, restore ? "-restore" : "-save", name, sizeof(name));
	r = command_find(name, path, 64);
	if (r < 0)
		return r;
	argv[0] = path;
	/* -w: wait for the xtables lock of legacy iptables, which Docker and ufw take too. */
	argv[1] = restore ? "--wait=5" : "-t";
	argv[2] = restore ? "--noflush" : "filter";
	argv[3] = NULL;
	return 0;
}

/* The report's in-place fields: after a fix that went through (or none was needed), what the
 * plan wanted; after a failure, what the table had. */
static void settle_report(struct ipt_report *rep, const struct ipt_want *w)
{
	const struct ipt_view *v = &rep->view;
	bool fwd = rep->read && w->n_bridges > 0 && ipt_forward_can_drop(v);
	bool in = rep->read && w->n_bridges > 0 && ipt_input_can_drop(v);

	if (rep->error == 0) {
		rep->forward_in_place = true;
		rep->input_in_place = true;
		rep->forward_from = fwd ? (v->docker_user ? "DOCKER-USER" : "FORWARD") : NULL;
		rep->input_jump = in;
		return;
	}
	rep->forward_in_place = false;
	rep->input_in_place = false;
	rep->forward_from = v->jumps_docker ? "DOCKER-USER" : v->jumps_forward ? "FORWARD" : NULL;
	rep->input_jump = v->jumps_input > 0;
}

/* iptables-save's output in: parse it and say what restore must do. Return: the input or NULL. */
static char *read_save(struct ipt_report *rep, const struct ipt_want *w, const struct command_result *r)
{
	char line[200], *input = NULL;
	int k;

	if (r->exit_status != 0 || !r->out) {
		first_line(r->err, line, sizeof(line));
		fail(rep, -EIO, "%s", line[0] ? line : "iptables-save failed");
		return NULL;
	}
	k = ipt_parse(r->out, &rep->view);
	if (k < 0) {
		fail(rep, k, "cannot read the output of iptables-save: %s", strerror(-k));
		return NULL;
	}
	rep->read = true;
	k = ipt_plan(&rep->view, rep->family, w, &input, rep->what, sizeof(rep->what));
	if (k < 0)
		fail(rep, k, "%s", strerror(-k));
	return input;
}

static void read_restore(struct ipt_report *rep, const struct command_result *r)
{
	char line[200];

	if (r->exit_status == 0)
		return;
	first_line(r->err, line, sizeof(line));
	fail(rep, -EIO, "iptables-restore failed: %s", line[0] ? line : "no message");
}

static void finish(struct ipt_check *c)
{
	settle_report(&c->report, &c->want);
	c->done(c, &c->report, c->userdata);
}

static void on_command(struct command *cmd, const struct command_result *r, void *userdata);

static int start_command(struct ipt_check *c, bool restore, const char *input)
{
	char path[64], *argv[6];
	int r;

	r = argv_for(c->backend, c->family, restore, path, argv);
	if (r < 0)
		return r;
	c->cmd = command_free(c->cmd);
	r = command_start(c->event, argv, input, on_command, c, &c->cmd);
	if (r >= 0 && restore && c->spawned)
		c->spawned(command_pid(c->cmd), c->userdata);
	return r;
}

static void on_command(struct command *cmd, const struct command_result *r, void *userdata)
{
	struct ipt_check *c = userdata;
	_cleanup_free_ char *input = NULL;
	int k;

	if (c->restoring) {
		read_restore(&c->report, r);
		finish(c);
		return;
	}
	input = read_save(&c->report, &c->want, r);
	if (!input) {
		finish(c);
		return;
	}
	c->restoring = true;
	k = start_command(c, true, input);
	if (k < 0) {
		fail(&c->report, k, "cannot run iptables-restore: %s", strerror(-k));
		finish(c);
	}
}

static int copy_want(struct ipt_check *c, const struct ipt_want *w)
{
	size_t n = w->n_bridges + w->n_names_links;

	c->want = *w;
	c->bridges = calloc(n + 1, sizeof(char *));
	if (!c->bridges)
		return -ENOMEM;
	c->want.bridges = (const char *const *)c->bridges;
	c->want.names_links = (const char *const *)c->bridges + w->n_bridges;
	for (size_t i = 0; i < n; i++) {
		c->bridges[i] =
			strdup(i < w->n_bridges ? w->bridges[i] : w->names_links[i - w->n_bridges]);
		if (!c->bridges[i])
			return -ENOMEM;
	}
	c->peers = calloc(w->n_peers + 1, sizeof(*c->peers));
	if (!c->peers)
		return -ENOMEM;
	if (w->n_peers)
		memcpy(c->peers, w->peers, w->n_peers * sizeof(*c->peers));
	c->want.peers = c->peers;
	return 0;
}

int ipt_check_start(sd_event *event, enum ipt_backend b, enum ipt_family f, const struct ipt_want *w,
		    ipt_spawned_fn spawned, ipt_done_fn done, void *userdata, struct ipt_check **ret)
{
	struct ipt_check *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	*c = (struct ipt_check){
		.event = event, .backend = b, .family = f, .spawned = spawned, .done = done, .userdata = userdata
	};
	c->report.backend = b;
	c->report.family = f;
	r = copy_want(c, w);
	if (r >= 0)
		r = start_command(c, false, NULL);
	if (r < 0) {
		ipt_check_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

int ipt_check_run(enum ipt_backend b, enum ipt_family f, const struct ipt_want *w,
		  struct ipt_report *ret)
{
	_cleanup_free_ char *input = NULL;
	struct command_result r = {};
	char path[64], *argv[6];
	int k;

	*ret = (struct ipt_report){ .backend = b, .family = f };
	k = argv_for(b, f, false, path, argv);
	if (k >= 0)
		k = command_run(argv, NULL, &r);
	if (k < 0)
		return k;
	input = read_save(ret, w, &r);
	command_result_clear(&r);
	if (input) {
		k = argv_for(b, f, true, path, argv);
		if (k >= 0)
			k = command_run(argv, input, &r);
		if (k < 0)
			return k;
		read_restore(ret, &r);
		command_result_clear(&r);
	}
	settle_report(ret, w);
	return 0;
}

/* ---- legacy iptables: a signature instead of events */

int ipt_legacy_watch_open(struct ipt_legacy_watch *w)
{
	w->fd[IPT_IPV4] = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (w->fd[IPT_IPV4] < 0)
		return -errno;
	w->fd[IPT_IPV6] = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (w->fd[IPT_IPV6] < 0) {
		int r = -errno;

		w->fd[IPT_IPV4] = safe_close(w->fd[IPT_IPV4]);
		return r;
	}
	return 0;
}

void ipt_legacy_watch_close(struct ipt_legacy_watch *w)
{
	for (int i = 0; i < _IPT_FAMILY_MAX; i++)
		w->fd[i] = safe_close(w->fd[i]);
}

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/*
 * The entries with their counters zeroed: counters change with every
 * packet, the rules do not. ipt_entry and ip6t_entry differ before
 * next_offset; both have it and the counters, at offsets the headers give.
 */
static void zero_counters(enum ipt_family f, unsigned char *b, unsigned int size)
{
	size_t off_next = f == IPT_IPV4 ? offsetof(struct ipt_entry, next_offset)
					: offsetof(struct ip6t_entry, next_offset);
	size_t off_cnt = f == IPT_IPV4 ? offsetof(struct ipt_entry, counters)
				       : offsetof(struct ip6t_entry, counters);

	for (unsigned int o = 0; o + off_cnt + sizeof(struct xt_counters) <= size;) {
		uint16_t next;

		memcpy(&next, b + o + off_next, sizeof(next));
		memset(b + o + off_cnt, 0, sizeof(struct xt_counters));
		if (next == 0)
			break;
		o += next;
	}
}

uint64_t ipt_legacy_signature(const struct ipt_legacy_watch *w, enum ipt_family f)
{
	/* ipt_getinfo and ip6t_getinfo have the same layout, as do the get_entries. */
	struct ipt_getinfo info = { .name = "filter" };
	socklen_t len = sizeof(info);
	int level = f == IPT_IPV4 ? IPPROTO_IP : IPPROTO_IPV6;
	_cleanup_free_ struct ipt_get_entries *e = NULL;
	uint64_t h = 0xcbf29ce484222325ULL;

	/* Asking for a table that is not listed would create it, for good. */
	if (w->fd[f] < 0 || !ipt_legacy_present(f))
		return 0;
	if (getsockopt(w->fd[f], level, IPT_SO_GET_INFO, &info, &len) < 0)
		return 0;
	h = fnv1a(h, (const unsigned char *)&info, sizeof(info));
	len = (socklen_t)(sizeof(*e) + info.size);
	e = calloc(1, len);
	if (!e)
		return h;
	strcpy(e->name, "filter");
	e->size = info.size;
	/* EAGAIN: it changed between the two calls; the hash differs either way. */
	if (getsockopt(w->fd[f], level, IPT_SO_GET_ENTRIES, e, &len) < 0)
		return h ^ 1;
	zero_counters(f, (unsigned char *)e->entrytable, info.size);
	return fnv1a(h, (const unsigned char *)e->entrytable, info.size);
}

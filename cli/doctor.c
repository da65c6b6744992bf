/* doctor.c - vmnet-broker doctor: what on this host would break guests, one line per finding
 *
 * What needs no privilege is looked at here: whether the daemon's socket
 * can be reached (and why not), /dev/net/tun. What needs CAP_NET_ADMIN
 * (nftables dumps, iptables, firewalld) the daemon looks at, in its own
 * namespace, and tells in `status` ("host"); this reads it and says what
 * to do about each finding.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "util.h"
#include "vmnet-broker.h"

enum level {
	OK,
	INFO,
	WARN,
	FAIL,
};

struct findings {
	unsigned int fails;
};

/* "fail  what -- what to do": one line, the level first, so that grep finds them. */
_printf_(3, 4) static void say(struct findings *f, enum level l, const char *fmt, ...)
{
	static const char *const names[] = { "ok", "info", "warn", "fail" };
	va_list ap;

	printf("%-5s ", names[l]);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (l == FAIL)
		f->fails++;
}

static const char *socket_path(const struct globals *g)
{
	const char *env = getenv(VMNET_BROKER_SOCKET_ENV);

	if (g->socket)
		return g->socket;
	return env && *env ? env : VMNET_BROKER_DEFAULT_SOCKET;
}

/* The group that owns @path, if the caller is in it only by /etc/group (not this session). */
static const char *group_not_in_session(const char *path)
{
	struct stat st;
	struct group *gr;
	gid_t groups[256];
	int n;

	if (stat(path, &st) < 0 || !(gr = getgrgid(st.st_gid)))
		return NULL;
	n = getgroups((int)ELEMENTSOF(groups), groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == st.st_gid)
			return NULL;
	return gr->gr_name;
}

/* Can we connect to the daemon's socket? Return: true when we can. */
static bool check_socket(struct findings *f, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	const char *group;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		say(f, FAIL, "socket path %s is too long -- give a shorter --socket", path);
		return false;
	}
	strcpy(sa.sun_path, path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		say(f, OK, "the daemon answers on %s", path);
		return true;
	}
	switch (errno) {
	case ENOENT:
		say(f, FAIL,
		    "no socket at %s -- start the daemon: systemctl enable --now "
		    "vmnet-brokerd.socket (or run vmnet-brokerd)",
		    path);
		break;
	case EACCES:
	case EPERM:
		group = group_not_in_session(path);
		say(f, FAIL,
		    "not allowed to connect to %s -- be root or a member of group %s "
		    "(usermod -aG %s $USER), then log in again",
		    path, group ? group : "vmnet-broker", group ? group : "vmnet-broker");
		break;
	case ECONNREFUSED:
		say(f, FAIL,
		    "nothing listens on %s (left by a daemon that is gone) -- systemctl restart "
		    "vmnet-brokerd.socket, or start vmnet-brokerd",
		    path);
		break;
	default:
		say(f, FAIL, "cannot connect to %s: %s", path, strerror(errno));
	}
	return false;
}

static void check_tun(struct findings *f)
{
	if (access("/dev/net/tun", F_OK) == 0)
		say(f, OK, "/dev/net/tun exists (TAP ports)");
	else
		say(f, FAIL, "no /dev/net/tun: no TAP port can be made -- modprobe tun");
}

static bool member_true(json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

static const char *member_str(json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : dflt;
}

/* Whether a running network of mode @mode is up. */
static bool any_network(json_t *status, const char *mode)
{
	json_t *n;
	size_t i;

	json_array_foreach(json_object_get(status, "networks"), i, n)
		if (!mode || streq(member_str(n, "mode", ""), mode))
			return true;
	return false;
}

static void check_forwarding(struct findings *f, json_t *host, json_t *status)
{
	json_t *fwd = json_object_get(host, "forwarding");
	bool shared = any_network(status, "shared");

	if (member_true(fwd, "ipv4"))
		say(f, OK, "IPv4 forwarding is on");
	else if (shared)
		say(f, FAIL,
		    "net.ipv4.ip_forward is 0 while shared networks are up: guests cannot get out -- "
		    "something turned it off after the daemon turned it on: sysctl -w "
		    "net.ipv4.ip_forward=1, and look for what does that");
	else
		say(f, INFO,
		    "net.ipv4.ip_forward is 0: the daemon turns it on with the first shared "
		    "network");
	if (!member_true(fwd, "ipv6") && shared)
		say(f, WARN,
		    "net.ipv6.conf.all.forwarding is 0 while shared networks are up: guests have no "
		    "IPv6 way out -- sysctl -w net.ipv6.conf.all.forwarding=1");
	if (member_true(json_object_get(host, "br_netfilter"), "ipv4"))
		say(f, INFO,
		    "br_netfilter is loaded (bridge-nf-call-iptables=1): traffic between "
		    "guests on one bridge also passes every firewall's forward chain below");
}

static void check_table(struct findings *f, json_t *host, json_t *status)
{
	json_t *nft = json_object_get(host, "nftables"), *last = json_object_get(nft, "last_restore");
	json_int_t backoff = json_integer_value(json_object_get(nft, "backoff"));

	if (any_network(status, NULL) && !member_true(nft, "table"))
		say(f, FAIL,
		    "table inet vmnet_broker is missing -- the daemon restores it within a "
		    "second; if it stays missing, see the daemon's log");
	else if (any_network(status, NULL))
		say(f, OK, "table inet vmnet_broker is in place");
	if (last)
		say(f, INFO,
		    "table inet vmnet_broker was restored %" JSON_INTEGER_FORMAT
		    " time(s); last at %s: %s",
		    json_integer_value(json_object_get(nft, "restores")),
		    member_str(last, "time", "?"), member_str(last, "cause", "?"));
	if (backoff > 0)
		say(f, WARN,
		    "table inet vmnet_broker keeps being removed; the daemon waits %" JSON_INTEGER_FORMAT
		    " s before restoring it -- stop whatever keeps flushing the ruleset",
		    backoff);
}

static void check_iptables(struct findings *f, json_t *host)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(host, "iptables"), i, e) {
		const char *fam = member_str(e, "family", "ipv4");
		char prog[64];
		bool drops = streq(member_str(e, "forward_policy", ""), "drop") ||
			     streq(member_str(e, "input_policy", ""), "drop");

		snprintf(prog, sizeof(prog), "%s-%s (%s)",
			 streq(fam, "ipv6") ? "ip6tables" : "iptables",
			 member_str(e, "backend", "?"), fam);
		if (json_object_get(e, "error"))
			say(f, FAIL, "%s: %s", prog, member_str(e, "error", ""));
		else if (!member_true(e, "in_place"))
			say(f, FAIL,
			    "%s: the broker's accept rules are not in place: guests lose NAT and "
			    "each other -- see the daemon's log, restart vmnet-brokerd",
			    prog);
		else if (json_object_get(e, "jump_from") || member_true(e, "input_jump"))
			say(f, OK,
			    "%s: FORWARD policy %s, INPUT %s; the broker's accept rules are in "
			    "place%s%s%s",
			    prog, member_str(e, "forward_policy", "-"),
			    member_str(e, "input_policy", "-"),
			    json_object_get(e, "jump_from") ? ", from " : "",
			    member_str(e, "jump_from", ""),
			    member_true(e, "input_jump") ? " and INPUT" : "");
		else
			say(f, OK, "%s: %s", prog,
			    drops ? "nothing there drops guests' traffic" : "accepts everything");
	}
}

static void check_foreign(struct findings *f, json_t *host)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(host, "foreign_drop_chains"), i, c) {
		bool fwd = streq(member_str(c, "hook", ""), "forward");

		say(f, FAIL,
		    "nftables table %s %s, chain %s: hook %s, policy drop; the broker does not change "
		    "others' tables -- add there: %s",
		    member_str(c, "family", "?"), member_str(c, "table", "?"),
		    member_str(c, "chain", "?"), member_str(c, "hook", "?"),
		    fwd ? "iifname \"vmbr*\" accept; oifname \"vmbr*\" accept"
			: "iifname \"vmbr*\" udp dport { 53, 67 } accept; iifname \"vmbr*\" tcp "
			  "dport 53 accept; iifname \"vmbr*\" meta l4proto { icmp, ipv6-icmp } accept");
	}
}

static void check_firewalld(struct findings *f, json_t *host, json_t *status)
{
	json_t *fw = json_object_get(host, "firewalld"), *n, *ifs = json_object_get(fw, "interfaces");
	size_t i, j, missing = 0;

	if (!member_true(fw, "running"))
		return;
	json_array_foreach(json_object_get(status, "networks"), i, n) {
		bool found = false;
		json_t *s;

		json_array_foreach(ifs, j, s)
			found |= streq(json_string_value(s), member_str(n, "bridge", ""));
		missing += !found;
	}
	if (json_object_get(fw, "error"))
		say(f, FAIL, "firewalld: %s -- see the daemon's log", member_str(fw, "error", ""));
	else if (missing)
		say(f, FAIL,
		    "firewalld: %zu bridge(s) not in zone %s yet: guests lose DHCP, DNS and "
		    "forwarding -- it follows within a second; if not, see the daemon's log",
		    missing, member_str(fw, "zone", "?"));
	else
		say(f, OK, "firewalld: every bridge is in zone %s", member_str(fw, "zone", "?"));
}

static void check_rest(struct findings *f, json_t *host, json_t *status)
{
	json_t *dns = json_object_get(host, "dns"), *det = json_object_get(host, "detected"), *n;
	size_t i;

	if (json_array_size(det)) {
		char buf[128] = "";

		json_array_foreach(det, i, n) {
			size_t l = strlen(buf);

			snprintf(buf + l, sizeof(buf) - l, "%s%s", l ? ", " : "",
				 json_string_value(n) ? json_string_value(n) : "?");
		}
		say(f, INFO, "found on the host: %s (the broker keeps its networks open there)", buf);
	}
	if (member_true(dns, "wildcard_listener"))
		say(f, INFO,
		    "a DNS server of the host listens on port 53 of every address: networks created "
		    "since have their dnsmasq on port %" JSON_INTEGER_FORMAT
		    ", where guests' DNS is redirected",
		    json_integer_value(json_object_get(dns, "alternate_port")));
	json_array_foreach(json_object_get(status, "networks"), i, n)
		if (json_is_integer(json_object_get(n, "dnsmasq_pid")) &&
		    json_integer_value(json_object_get(n, "dnsmasq_pid")) == 0)
			say(f, WARN,
			    "network %s: its dnsmasq is down and being restarted: no DHCP or DNS -- "
			    "see the daemon's log",
			    member_str(n, "name", "?"));
}

/* What the daemon says of the host. Return: false when it could not be asked. */
static bool check_daemon(struct findings *f, const char *path)
{
	_cleanup_(json_decrefp) json_t *status = NULL;
	_cleanup_free_ char *text = NULL;
	vmnet_broker_return_t s;
	json_t *host;

	s = vmnet_broker_query(path, "status", &text);
	if (s != VMNET_BROKER_SUCCESS) {
		say(f, FAIL, "status: %s: %s", vmnet_broker_status_name(s),
		    vmnet_broker_last_error_message());
		return false;
	}
	status = json_loads(text, 0, NULL);
	host = json_object_get(status, "host");
	if (!json_is_object(host)) {
		say(f, INFO,
		    "the daemon is older than this command and tells nothing of the host's "
		    "firewalls");
		return true;
	}
	check_forwarding(f, host, status);
	check_table(f, host, status);
	check_iptables(f, host);
	check_foreign(f, host);
	check_firewalld(f, host, status);
	check_rest(f, host, status);
	return true;
}

int cmd_doctor(const struct command *c, struct globals *g, int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "socket", required_argument, NULL, 'S' },
		{},
	};
	struct findings f = {};
	const char *path;
	int opt, done = -1;

	while (done < 0 && (opt = getopt_long(argc, argv, "h", options, NULL)) >= 0)
		(void)common_option(g, c, opt, &done);
	if (done >= 0)
		return done;
	if (optind < argc)
		return usage_error(c, "unexpected argument '%s'", argv[optind]);
	path = socket_path(g);
	check_tun(&f);
	if (check_socket(&f, path))
		(void)check_daemon(&f, path);
	return f.fails ? EXIT_FAILURE : EXIT_SUCCESS;
}

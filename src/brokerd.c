/* brokerd.c - vmnet-brokerd: options, setup, and the sd-event loop */
#include <arpa/inet.h>
#include <cap-ng.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "adopt.h"
#include "bgclose.h"
#include "broker.h"
#include "frr.h"
#include "log.h"
#include "server.h"
#include "pool.h"
#include "request.h"
#include "util.h"

#define DEFAULT_SOCKET "/run/vmnet-broker/broker.sock"
#define DEFAULT_CONFIG_DIR "/etc/vmnet-broker.d"
#define DEFAULT_STATE_DIR "/run/vmnet-broker"
#define DEFAULT_POOL "192.168.64.0/18"
#define DEFAULT_IDLE_TIMEOUT 120

static bool remove_all;         /* --remove-all: a one-shot mode of main(), not broker state */
static uint64_t exit_idle_usec; /* --exit-idle: how main() ends under socket activation */

static void help(void)
{
	printf("Usage: vmnet-brokerd [OPTIONS]\n"
	       "\n"
	       "The vmnet-broker daemon: owns named virtual networks (bridge, nftables,\n"
	       "dnsmasq) and hands ports on them to VM tools over a unix socket.\n"
	       "\n"
	       "  --socket PATH           listening socket (default " DEFAULT_SOCKET ")\n"
	       "  --config-dir DIR        network files NAME.json (default " DEFAULT_CONFIG_DIR ")\n"
	       "  --state-dir DIR         runtime state, dnsmasq files (default " DEFAULT_STATE_DIR ")\n"
	       "  --idle-timeout SECONDS  keep an unused network this long (default %d; 0: remove at once)\n"
	       "  --subnet-pool CIDR      dynamic /24 subnets come from here (default " DEFAULT_POOL ")\n"
	       "  --resolv-file PATH      upstream DNS servers for dnsmasq (default /etc/resolv.conf)\n"
	       "  --log-level LEVEL       err, warning, notice, info (default) or debug\n"
	       "  --exit-idle SECONDS     with a socket from systemd: exit after this long with\n"
	       "                          no network and no client (default 0: never)\n"
	       "  --max-ports-per-user N  ports and holds one non-root user may have (default %d)\n"
	       "  --max-networks N        networks at once (default %d)\n"
	       "  --max-connections N     client connections at once (default %d; the last\n"
	       "                          max(4, N/32) are kept for root)\n"
	       "  --max-connections-per-user N  connections one non-root user may hold\n"
	       "                          (default max(4, --max-connections / 8))\n"
	       "  --client-timeout SECONDS  drop a client that sends nothing this long, or that\n"
	       "                          holds no lease, waits for no address and sends no\n"
	       "                          request this long (default %d)\n"
	       "  --span-address ADDR     this host in network files that span hosts (default:\n"
	       "                          the one of their host addresses this host holds)\n"
	       "  --frr-dir DIR           FRR's vty sockets, for EVPN spans (default " FRR_RUN_DIR ")\n"
	       "  --remove-all            adopt what an earlier daemon left, then remove every\n"
	       "                          network and port, in use or not, and exit\n"
	       "  -h --help               show this help\n"
	       "     --version            show the version\n"
	       "\n"
	       "Runs in the foreground and logs to stderr. Started by systemd with a\n"
	       "socket unit, it serves the socket it is given instead of --socket, and\n"
	       "the socket unit starts it again after an --exit-idle exit.\n",
	       DEFAULT_IDLE_TIMEOUT, BROKER_MAX_PORTS_PER_USER, BROKER_MAX_NETWORKS,
	       SERVER_MAX_CONNECTIONS, SERVER_SILENCE_TIMEOUT_SEC);
}

static int parse_seconds(const char *s, uint64_t *ret_usec)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > 365UL * 24 * 3600)
		return -EINVAL;
	*ret_usec = (uint64_t)v * 1000000;
	return 0;
}

/* A limit: 1 to 1000000. */
static int parse_count(const char *s, size_t *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < 1 || v > 1000000)
		return -EINVAL;
	*ret = v;
	return 0;
}

enum {
	ARG_SOCKET = 256,
	ARG_CONFIG,
	ARG_STATE,
	ARG_IDLE,
	ARG_POOL,
	ARG_RESOLV,
	ARG_LOG,
	ARG_VERSION,
	ARG_REMOVE_ALL,
	ARG_MAX_PORTS,
	ARG_MAX_NETWORKS,
	ARG_MAX_CONNS,
	ARG_MAX_CONNS_PER_USER,
	ARG_CLIENT_TIMEOUT,
	ARG_EXIT_IDLE,
	ARG_SPAN_ADDRESS,
	ARG_FRR_DIR,
};

static const struct option options[] = {
	{ "socket", required_argument, NULL, ARG_SOCKET },
	{ "config-dir", required_argument, NULL, ARG_CONFIG },
	{ "state-dir", required_argument, NULL, ARG_STATE },
	{ "idle-timeout", required_argument, NULL, ARG_IDLE },
	{ "subnet-pool", required_argument, NULL, ARG_POOL },
	{ "resolv-file", required_argument, NULL, ARG_RESOLV },
	{ "log-level", required_argument, NULL, ARG_LOG },
	{ "remove-all", no_argument, NULL, ARG_REMOVE_ALL },
	{ "max-ports-per-user", required_argument, NULL, ARG_MAX_PORTS },
	{ "max-networks", required_argument, NULL, ARG_MAX_NETWORKS },
	{ "max-connections", required_argument, NULL, ARG_MAX_CONNS },
	{ "max-connections-per-user", required_argument, NULL, ARG_MAX_CONNS_PER_USER },
	{ "client-timeout", required_argument, NULL, ARG_CLIENT_TIMEOUT },
	{ "exit-idle", required_argument, NULL, ARG_EXIT_IDLE },
	{ "span-address", required_argument, NULL, ARG_SPAN_ADDRESS },
	{ "frr-dir", required_argument, NULL, ARG_FRR_DIR },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, ARG_VERSION },
	{}
};

/* A limit, @arg, for --@name into @ret. Return: 0 or -EINVAL (logged). */
static int parse_limit(const char *name, const char *arg, size_t *ret)
{
	if (parse_count(arg, ret) < 0)
		return log_error_errno(-EINVAL, "Invalid --%s '%s'", name, arg);
	return 0;
}

/* An IPv4 unicast address for --span-address. Return: 0 or -EINVAL (logged). */
static int parse_span_address(const char *arg, uint32_t *ret)
{
	struct in_addr a;

	if (inet_pton(AF_INET, arg, &a) != 1 || a.s_addr == 0)
		return log_error_errno(-EINVAL, "Invalid --span-address '%s': want an IPv4 address",
				       arg);
	*ret = ntohl(a.s_addr);
	return 0;
}

/* Option @c with argument @arg into @o. Return: 0 or -EINVAL (logged). */
static int parse_option(int c, const char *arg, struct broker_options *o)
{
	int r;

	switch (c) {
	case ARG_SOCKET:
		o->socket_path = arg;
		return 0;
	case ARG_CONFIG:
		o->config_dir = arg;
		return 0;
	case ARG_STATE:
		o->state_dir = arg;
		return 0;
	case ARG_RESOLV:
		o->resolv_file = arg;
		return 0;
	case ARG_IDLE:
		if (parse_seconds(arg, &o->idle_timeout_usec) < 0)
			return log_error_errno(-EINVAL, "Invalid --idle-timeout '%s'", arg);
		return 0;
	case ARG_POOL:
		if (prefix4_parse(arg, &o->pool) < 0 || o->pool.len > POOL_SUBNET_LEN ||
		    !strchr(arg, '/'))
			return log_error_errno(-EINVAL,
					       "Invalid --subnet-pool '%s': want an IPv4 CIDR of /24 or wider",
					       arg);
		return 0;
	case ARG_LOG:
		r = log_parse_level(arg);
		if (r < 0)
			return log_error_errno(r, "Invalid --log-level '%s'", arg);
		log_max_level = r;
		return 0;
	case ARG_MAX_PORTS:
		return parse_limit("max-ports-per-user", arg, &o->max_ports_per_user);
	case ARG_MAX_NETWORKS:
		return parse_limit("max-networks", arg, &o->max_networks);
	case ARG_MAX_CONNS:
		return parse_limit("max-connections", arg, &o->max_connections);
	case ARG_MAX_CONNS_PER_USER:
		return parse_limit("max-connections-per-user", arg, &o->max_connections_per_user);
	case ARG_CLIENT_TIMEOUT:
		if (parse_seconds(arg, &o->silence_timeout_usec) < 0 || o->silence_timeout_usec == 0)
			return log_error_errno(-EINVAL, "Invalid --client-timeout '%s'", arg);
		return 0;
	case ARG_REMOVE_ALL:
		remove_all = true;
		return 0;
	case ARG_EXIT_IDLE:
		if (parse_seconds(arg, &exit_idle_usec) < 0)
			return log_error_errno(-EINVAL, "Invalid --exit-idle '%s'", arg);
		return 0;
	case ARG_SPAN_ADDRESS:
		return parse_span_address(arg, &o->span_address);
	case ARG_FRR_DIR:
		o->frr_dir = arg;
		return 0;
	default:
		return -EINVAL;
	}
}

/* Return: 1 to run, 0 to exit successfully (--help, --version), or -EINVAL. */
static int parse_args(int argc, char **argv, struct broker_options *o)
{
	int c, r;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		if (c == 'h') {
			help();
			return 0;
		}
		if (c == ARG_VERSION) {
			printf("vmnet-brokerd %s\n", VMNET_VERSION);
			return 0;
		}
		r = parse_option(c, optarg, o);
		if (r < 0)
			return r;
	}
	if (optind < argc)
		return log_error_errno(-EINVAL, "Unexpected argument '%s' (see --help)", argv[optind]);
	return 1;
}

/* sd_listen_fds(): a socket unit passes one SOCK_SEQPACKET listener. */
static int take_activation_socket(int *ret_fd)
{
	int n = sd_listen_fds(1);

	*ret_fd = -EBADF;
	if (n < 0)
		return log_error_errno(n, "Failed to read passed sockets: %m");
	if (n == 0)
		return 0;
	if (n > 1 || sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_SEQPACKET, 1, NULL, 0) <= 0)
		return log_error_errno(-EINVAL,
				       "Expected one listening SOCK_SEQPACKET unix socket from systemd");
	*ret_fd = SD_LISTEN_FDS_START;
	return 0;
}

/*
 * --exit-idle. A check every quarter of the timeout (1 s to 60 s) notes when
 * the broker was first seen idle and stops the loop once it has stayed so
 * for the whole timeout. Polling keeps broker.c free of exit logic; a
 * connection that came and went between two checks is of no consequence,
 * since systemd keeps the listening socket: a client that connects after
 * the last check waits in its backlog and makes systemd start us again.
 */
struct idle_exit {
	struct broker *broker;
	uint64_t timeout_usec;
	uint64_t period_usec;
	uint64_t idle_since; /* CLOCK_MONOTONIC; 0: busy at the last check */
};

static int on_exit_idle_check(sd_event_source *s, uint64_t now, void *userdata)
{
	struct idle_exit *ie = userdata;
	int r;

	if (!broker_is_idle(ie->broker)) {
		ie->idle_since = 0;
	} else if (ie->idle_since == 0) {
		ie->idle_since = now;
	} else if (now - ie->idle_since >= ie->timeout_usec) {
		log_info("No network and no client for %" PRIu64 " s, exiting; the socket unit starts "
			 "the daemon again on the next connection",
			 (now - ie->idle_since) / 1000000);
		return sd_event_exit(sd_event_source_get_event(s), 0);
	}
	r = sd_event_source_set_time_relative(s, ie->period_usec);
	if (r >= 0)
		r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	if (r < 0)
		log_warning_errno(r, "Failed to re-arm the --exit-idle check, staying up: %m");
	return 0;
}

/*
 * FRR's vty sockets are mode 0770, group frrvty: FRR's documented way to
 * let a user run vtysh. Root without CAP_DAC_OVERRIDE (which the daemon
 * does not keep) is such a user too, so join the group while setgroups()
 * is still allowed. vtysh, the daemon's child, inherits it. Without the
 * group (no FRR installed) nothing changes.
 */
static void join_frrvty(void)
{
	struct group *g = getgrnam("frrvty");
	_cleanup_free_ gid_t *groups = NULL;
	int n;

	if (!g || geteuid() != 0)
		return;
	n = getgroups(0, NULL);
	groups = n >= 0 ? calloc((size_t)n + 1, sizeof(gid_t)) : NULL;
	if (!groups || (n = getgroups(n, groups)) < 0)
		return;
	for (int i = 0; i < n; i++)
		if (groups[i] == g->gr_gid)
			return;
	groups[n++] = g->gr_gid;
	if (setgroups((size_t)n, groups) < 0)
		log_warning("Failed to join group frrvty, EVPN spans cannot reach FRR: %m");
}

/*
 * Setup is done (socket bound and chowned, netlink, nft and the raw
 * router advertisement socket open, earlier networks adopted): keep only
 * what serving needs. CAP_NET_ADMIN for links, nft, TAPs and sysctls;
 * CAP_SYS_ADMIN for setns() into a client's namespace; CAP_KILL to
 * signal dnsmasq once it runs as its own user. The bounding set also
 * keeps what dnsmasq, started as root, needs before it drops to that
 * user; nothing else can ever come back.
 */
static int drop_privileges(void)
{
	if (geteuid() != 0)
		return 0;
	capng_clear(CAPNG_SELECT_ALL);
	if (capng_updatev(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_NET_ADMIN,
			  CAP_SYS_ADMIN, CAP_KILL, -1) < 0 ||
	    capng_updatev(CAPNG_ADD, CAPNG_BOUNDING_SET, CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_KILL,
			  CAP_NET_RAW, CAP_NET_BIND_SERVICE, CAP_SETUID, CAP_SETGID, -1) < 0)
		return -EINVAL;
	if (capng_apply(CAPNG_SELECT_ALL) < 0)
		return -EPERM;
	return 0;
}

/*
 * systemd sets $JOURNAL_STREAM to "DEV:INODE" of the stream it connected
 * to stderr. A child that inherited the variable but whose stderr was
 * redirected (say, a daemon started by hand from a shell of a service)
 * must not prefix "<N>" to lines a person or a file reads, so compare.
 */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	log_info("Received %s, shutting down", strsignal((int)si->ssi_signo));
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

/* The event loop, with the signals it handles blocked for everyone else. */
static int new_event_loop(sd_event **ret)
{
	sigset_t mask;
	int r;

	/* sd-event wants these blocked; dnsmasq gets a clean mask at spawn. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = sd_event_default(ret);
	if (r < 0)
		return log_error_errno(r, "Failed to create event loop: %m");
	(void)sd_event_add_signal(*ret, NULL, SIGTERM, on_signal, NULL);
	(void)sd_event_add_signal(*ret, NULL, SIGINT, on_signal, NULL);
	return 0;
}

/*
 * Each connection is an fd, and so are the netlink, nftables, inotify,
 * signal and timer sources, and per network a dnsmasq's pidfd, the RA
 * socket's membership and a TAP's queues on their way out. A soft
 * RLIMIT_NOFILE of 1024 (a shell, another init system) would run out
 * before --max-connections: raise it to what they need, as far as the
 * hard limit lets. dnsmasq inherits it, which it copes with (poll()).
 */
static void raise_fd_limit(const struct broker_options *o)
{
	rlim_t want = (rlim_t)o->max_connections + 256 + 8 * (rlim_t)o->max_networks;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
		log_warning("RLIMIT_NOFILE hard limit %llu is below what --max-connections %zu "
			    "needs (%llu): connections past it wait until others close",
			    (unsigned long long)rl.rlim_max, o->max_connections,
			    (unsigned long long)want);
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warning_errno(-errno, "Failed to raise RLIMIT_NOFILE to %llu: %m",
				  (unsigned long long)rl.rlim_cur);
	else
		log_debug("Raised RLIMIT_NOFILE to %llu", (unsigned long long)rl.rlim_cur);
}

/* The broker, listening, with what an earlier daemon left adopted. */
static int start_broker(sd_event *event, struct broker_options *o, struct broker **ret)
{
	_cleanup_(broker_freep) struct broker *b = NULL;
	int r;

	raise_fd_limit(o);
	if (mkdir(o->state_dir, 0755) < 0 && errno != EEXIST)
		return log_error_errno(-errno, "Failed to create state directory '%s': %m",
				       o->state_dir);
	r = take_activation_socket(&o->listen_fd);
	if (r < 0)
		return r;
	r = broker_new(event, o, request_dispatch, &b);
	if (r < 0)
		return r;
	/* After listen(), which proves no other daemon runs; before the loop,
	 * so clients wait in the backlog until adoption is done. */
	r = broker_adopt(b);
	if (r < 0)
		return r;
	if (!remove_all)
		broker_watch_host(b);
	*ret = TAKE_PTR(b);
	return 0;
}

/* --exit-idle: the periodic check of @ie, when the socket came from systemd. */
static void watch_exit_idle(sd_event *event, bool activated, struct idle_exit *ie, sd_event_source **ret)
{
	int r;

	if (exit_idle_usec == 0)
		return;
	if (!activated) {
		/* Nothing would start us again: the socket would just vanish. */
		log_notice("Ignoring --exit-idle: it needs a socket from systemd");
		return;
	}
	ie->timeout_usec = exit_idle_usec;
	ie->period_usec = exit_idle_usec / 4;
	if (ie->period_usec < 1000000)
		ie->period_usec = 1000000;
	if (ie->period_usec > 60000000)
		ie->period_usec = 60000000;
	r = sd_event_add_time_relative(event, ret, CLOCK_MONOTONIC, ie->period_usec, 0,
				       on_exit_idle_check, ie);
	if (r < 0)
		log_warning_errno(r, "Failed to start the --exit-idle check, staying up: %m");
}

static int run(struct broker_options *o)
{
	_cleanup_(sd_event_unrefp) sd_event *event = NULL;
	_cleanup_(sd_event_source_unrefp) sd_event_source *idle_check = NULL;
	_cleanup_(broker_freep) struct broker *b = NULL;
	struct idle_exit ie = {};
	int r;

	r = new_event_loop(&event);
	if (r < 0)
		return r;
	/* Before adoption, which may run vtysh already. */
	join_frrvty();
	r = start_broker(event, o, &b);
	if (r < 0)
		return r;
	if (remove_all) {
		broker_remove_all(b, 10 * 1000000ULL);
		b = broker_free(b);
		log_info("Removed every network");
		return 0;
	}
	broker_start_persistent(b);
	r = drop_privileges();
	if (r < 0)
		return log_error_errno(r, "Failed to drop capabilities: %m");
	r = bgclose_start();
	if (r < 0)
		log_warning_errno(r, "Failed to start the closing thread, closing in place: %m");
	log_info("vmnet-brokerd %s serving on %s", VMNET_VERSION,
		 o->listen_fd >= 0 ? "the socket from systemd" : o->socket_path);
	ie.broker = b;
	watch_exit_idle(event, o->listen_fd >= 0, &ie, &idle_check);
	(void)sd_notify(0, "READY=1");
	r = sd_event_loop(event);
	(void)sd_notify(0, "STOPPING=1");
	/* The closing threads last: stopping may still close TAP fds. */
	b = broker_free(b);
	bgclose_stop();
	return r < 0 ? log_error_errno(r, "Event loop failed: %m") : 0;
}

int main(int argc, char **argv)
{
	struct broker_options o = {
		.socket_path = DEFAULT_SOCKET,
		.listen_fd = -EBADF,
		.config_dir = DEFAULT_CONFIG_DIR,
		.state_dir = DEFAULT_STATE_DIR,
		.idle_timeout_usec = (uint64_t)DEFAULT_IDLE_TIMEOUT * 1000000,
		.max_ports_per_user = BROKER_MAX_PORTS_PER_USER,
		.max_networks = BROKER_MAX_NETWORKS,
		.max_connections = SERVER_MAX_CONNECTIONS,
		.silence_timeout_usec = SERVER_SILENCE_TIMEOUT_SEC * 1000000ULL,
	};
	int r;

	log_set_journal_prefix(stderr_is_journal());
	(void)prefix4_parse(DEFAULT_POOL, &o.pool);
	r = parse_args(argc, argv, &o);
	if (r <= 0)
		return r < 0 ? (r == -EINVAL ? 2 : 1) : 0;
	return run(&o) < 0 ? 1 : 0;
}

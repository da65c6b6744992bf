/* dhcp.c - one dnsmasq per network: DHCP reservations and DNS
 *
 * dnsmasq runs in the foreground as our child, watched by an sd-event
 * child source. It drops to its own account after binding (--user,
 * --group: dnsmasq-env.c), so it opens the lease file before that and
 * rereads the hosts file as that account: its files live in
 * STATE/DNSMASQ_DIR, which that account alone may read besides root.
 *
 * Names. The guests' DNS names are the daemon's to decide (names.c): it
 * writes them to NAME.names, which dnsmasq serves (--addn-hosts) under
 * the network's domain. The host names guests send in DHCP stay out of
 * that domain: dnsmasq records them in its lease file, where the daemon
 * reads them, but puts them in DNS only under a domain of its own that
 * nobody asks (--domain=DHCP_DOMAIN with --dhcp-fqdn, which leaves no
 * bare name either). Else dnsmasq would give a name to the newest guest
 * that asks for it, taking it from another, and a name of ours for an
 * address would override the host name its guest sent (host_from_dns()
 * in dnsmasq takes hosts-file names of its own domain).
 *
 * A network that spans hosts has a second dnsmasq, its names server: the
 * same names file, answered to the other hosts (dhcp_names_server_new();
 * span-names.c says why it is a second one).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/pidfd.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bgclose.h"
#include "dhcp-leases.h"
#include "dhcp.h"
#include "dnsmasq-env.h"
#include "log.h"
#include "proc.h"
#include "pool.h"
#include "protocol.h"
#include "util.h"

#define DNSMASQ_PATH "/usr/sbin/dnsmasq"
#define STOP_GRACE_MS 2000
#define STARTUP_USEC (1000 * 1000ULL) /* dnsmasq's start-up is over by then */
#define READY_TIMEOUT_MS 500          /* longest a new network waits for dnsmasq to listen */
#define ARGV_MAX (48 + 64) /* and a --server for each other host of a span (SPAN_HOSTS_MAX) */
#define RESTART_MIN_USEC (250 * 1000ULL)
#define RESTART_MAX_USEC (30 * 1000 * 1000ULL)
#define RESTART_STABLE_USEC (60 * 1000 * 1000ULL) /* up this long: not crashing in a row */
/* NAME.NAMES_PID: the pid file of a span's names server (one word: NAME may have dots). */
#define NAMES_PID "names-pid"
/* Where dnsmasq keeps the guests' own host names: .invalid never resolves (RFC 6761). */
#define DHCP_DOMAIN "vmnet-dhcp.invalid"

extern char **environ;

struct dhcp_server {
	char *hosts_path;
	char *leases_path;
	char *pid_path; /* dnsmasq writes it once its sockets are bound */
	bool hup_ok;    /* dnsmasq (this pid) catches SIGHUP: no need to look again */
	pid_t pid;
	sd_event *event;
	sd_event_source *child;
	sd_event_source *reload_timer;  /* armed while a SIGHUP waits for the handler */
	sd_event_source *restart_timer; /* armed while dnsmasq is down, for the backoff */
	char **argv;
	uint64_t started_usec;          /* CLOCK_MONOTONIC at the last spawn */
	sd_event_source *settle_timer;  /* one more SIGHUP once start-up is over */
	unsigned int restarts;          /* in a row, for the backoff */
	struct dhcp_lease_file *leases; /* dnsmasq's lease file, read and watched */
	struct dnsmasq_env *env;        /* NULL: the daemon's own environment */
	dhcp_exit_fn on_exit;
	void *userdata;
	char *names_path;   /* NAME.names: the guests' DNS names, for --addn-hosts; NULL: none */
	char *domain;       /* what the names are under */
	char *names_text;   /* its contents as last written */
	char *servers_path; /* NAME.servers: a span's names servers to ask; NULL: not a span's */
	char *servers_text; /* its contents as last written */
	dhcp_leases_fn on_leases;
};

pid_t dhcp_server_pid(const struct dhcp_server *s)
{
	return s->pid;
}

static int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -EBADF;
	int r;

	if (asprintf(&tmp, "%s.tmp", path) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	if (write(fd, data, len) != (ssize_t)len) {
		r = errno ? -errno : -EIO;
		(void)unlink(tmp);
		return r;
	}
	if (rename(tmp, path) < 0) {
		r = -errno;
		(void)unlink(tmp);
		return r;
	}
	return 0;
}

/* The mode of the files dnsmasq reads: its account's alone, as dnsmasq-env.c says. */
static mode_t file_mode(const struct dhcp_server *s)
{
	return s->env ? dnsmasq_env_file_mode(s->env) : 0644;
}

static int on_reload_timer(sd_event_source *src, uint64_t usec, void *userdata);

static int on_settle_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct dhcp_server *s = userdata;

	s->settle_timer = sd_event_source_disable_unref(s->settle_timer);
	if (s->pid > 0)
		(void)kill(s->pid, SIGHUP);
	return 0;
}

/*
 * SIGHUP makes dnsmasq reread the hosts file, but a dnsmasq that has not
 * yet installed its handler dies of it (its default action). Right after
 * spawn that window is real, so until the handler is there, retry soon.
 * Even with the handler in place, dnsmasq ignores every signal but
 * SIGTERM until its start-up is done (sig_handler() while its pid is
 * unset), so a reservation signalled in its first moments could be lost:
 * signal once more when start-up is surely over.
 */
static int request_reload(struct dhcp_server *s)
{
	uint64_t now = 0;

	if (s->pid <= 0 || s->reload_timer)
		return 0;
	if (!s->hup_ok)
		s->hup_ok = proc_catches_signal(s->pid, SIGHUP);
	if (!s->hup_ok)
		return sd_event_add_time_relative(s->event, &s->reload_timer, CLOCK_MONOTONIC,
						  10 * 1000, 0, on_reload_timer, s);
	if (kill(s->pid, SIGHUP) < 0)
		return -errno;
	(void)sd_event_now(s->event, CLOCK_MONOTONIC, &now);
	if (now - s->started_usec < STARTUP_USEC && !s->settle_timer)
		return sd_event_add_time(s->event, &s->settle_timer, CLOCK_MONOTONIC,
					 s->started_usec + STARTUP_USEC, 0, on_settle_timer, s);
	return 0;
}

static int on_reload_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct dhcp_server *s = userdata;
	int r;

	s->reload_timer = sd_event_source_disable_unref(s->reload_timer);
	r = request_reload(s);
	if (r < 0)
		log_debug_errno(r, "Failed to signal dnsmasq %d: %m", (int)s->pid);
	return 0;
}

int dhcp_server_set_hosts(struct dhcp_server *s, const struct dhcp_host *hosts, size_t n)
{
	_cleanup_free_ char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	int r;

	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char mac[18], ip[16];
		fprintf(f, "%s,%s\n", mac_format(hosts[i].mac, mac),
			addr4_format(hosts[i].address, ip, sizeof(ip)));
	}
	if (fclose(f) != 0)
		return -ENOMEM;
	r = write_file_atomic(s->hosts_path, buf ? buf : "", size, file_mode(s));
	if (r < 0)
		return r;
	return request_reload(s);
}

/*
 * @path gets *@buf (@size bytes, taken) unless *@last has it already, and
 * dnsmasq rereads its files. Return: 1 when it changed, 0 when not (no
 * reload for nothing: dnsmasq drops its cache at each), or negative errno.
 */
static int replace_file(struct dhcp_server *s, const char *path, char **last, char **buf, size_t size)
{
	const char *text = *buf ? *buf : "";
	int r;

	if (*last && streq(*last, text))
		return 0;
	r = write_file_atomic(path, text, size, file_mode(s));
	if (r < 0)
		return r;
	free(*last);
	*last = TAKE_PTR(*buf);
	r = request_reload(s);
	return r < 0 ? r : 1;
}

int dhcp_server_set_names(struct dhcp_server *s, const struct dhcp_name *names, size_t n)
{
	_cleanup_free_ char *buf = NULL;
	size_t size = 0;
	FILE *f;

	if (!s->names_path)
		return 0;
	f = open_memstream(&buf, &size);
	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char ip[16];

		fprintf(f, "%s %s.%s\n", addr4_format(names[i].address, ip, sizeof(ip)),
			names[i].name, s->domain);
	}
	if (fclose(f) != 0)
		return -ENOMEM;
	return replace_file(s, s->names_path, &s->names_text, &buf, size);
}

int dhcp_server_set_name_peers(struct dhcp_server *s, const uint32_t *peers, size_t n)
{
	_cleanup_free_ char *buf = NULL;
	size_t size = 0;
	FILE *f;
	int r;

	if (!s->servers_path)
		return 0;
	f = open_memstream(&buf, &size);
	if (!f)
		return -ENOMEM;
	if (n == 0)
		fprintf(f, "server=/%s/\n", s->domain); /* ours alone, as --local */
	for (size_t i = 0; i < n; i++) {
		char a[16];

		fprintf(f, "server=/%s/%s\n", s->domain, addr4_format(peers[i], a, sizeof(a)));
	}
	if (fclose(f) != 0)
		return -ENOMEM;
	r = replace_file(s, s->servers_path, &s->servers_text, &buf, size);
	return r < 0 ? r : 0;
}

int dhcp_server_reload(struct dhcp_server *s)
{
	return request_reload(s);
}

/* Append one printf-formatted argument to NULL-terminated @argv (room for ARGV_MAX). */
_printf_(3, 4) static int argv_add(char **argv, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (*n + 1 >= ARGV_MAX)
		return -E2BIG;
	va_start(ap, fmt);
	r = vasprintf(&argv[*n], fmt, ap);
	va_end(ap);
	if (r < 0) {
		argv[*n] = NULL;
		return -ENOMEM;
	}
	(*n)++;
	return 0;
}

/* --user and --group: its own account, which alone may read its files (dnsmasq-env.c). */
static int argv_add_account(char **argv, size_t *n, const struct dnsmasq_env *env)
{
	int r = 0;

	if (env && dnsmasq_env_user(env)) {
		r |= argv_add(argv, n, "--user=%s", dnsmasq_env_user(env));
		r |= argv_add(argv, n, "--group=%s", dnsmasq_env_group(env));
	}
	return r;
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* What dnsmasq serves by DHCP: addresses, and the options of the network. */
static int add_dhcp_args(char **argv, size_t *n, const struct dhcp_server *s,
			 const struct dhcp_params *p)
{
	uint8_t len = p->prefix_len ? p->prefix_len : 24;
	char gw[16], net[16], mask[16], first[16], last[16];
	int r = 0;

	addr4_format(p->gateway, gw, sizeof(gw));
	addr4_format(p->gateway & prefix4_mask(len), net, sizeof(net));
	addr4_format(prefix4_mask(len), mask, sizeof(mask));
	/*
	 * Any MAC gets an address of the dynamic range; the rest of the
	 * subnet is the ports', each served to its port's MAC only from the
	 * hosts file (address.c). Without a range (a /30), static mode: only
	 * those. dnsmasq serves a reservation outside its ranges as long as
	 * it lies in a range's subnet, which the mask makes the whole subnet.
	 */
	if (!p->no_dhcp4 && p->range_first)
		r |= argv_add(argv, n, "--dhcp-range=%s,%s,%s,1h",
			      addr4_format(p->range_first, first, sizeof(first)),
			      addr4_format(p->range_last, last, sizeof(last)), mask);
	else if (!p->no_dhcp4)
		r |= argv_add(argv, n, "--dhcp-range=%s,static,%s,1h", net, mask);
	if (p->lease_max)
		r |= argv_add(argv, n, "--dhcp-lease-max=%u", p->lease_max);
	/*
	 * dnsmasq would ping an address before it offers it from the range,
	 * waiting up to 3 s, in its one thread (DNS waits too), for every new
	 * guest. A guest that finds its address in use (ARP, RFC 5227) declines
	 * it and gets another; the ports' addresses are the daemon's, never pinged.
	 */
	r |= argv_add(argv, n, "--no-ping");
	/* Even without DHCP: the file names this dnsmasq as the network's. */
	r |= argv_add(argv, n, "--dhcp-hostsfile=%s", s->hosts_path);
	r |= argv_add(argv, n, "--dhcp-leasefile=%s", s->leases_path);
	r |= argv_add(argv, n, "--dhcp-authoritative");
	r |= argv_add(argv, n, "--dhcp-no-override");
	r |= argv_add(argv, n, "--dhcp-option=option:mtu,%u", p->mtu);
	if (p->router)
		r |= argv_add(argv, n, "--dhcp-option=option:router,%s", gw);
	else
		r |= argv_add(argv, n, "--dhcp-option=option:router"); /* none: host-only */
	return r;
}

/*
 * DNS: none (--port=0), or the gateway offered as the server, listening
 * on port 53 or, where a DNS server of the host holds 53, on dns_port
 * (guests still ask 53: the nftables table redirects it, nft.c); the
 * guests' names; the upstream servers, or none.
 */
static int add_dns_args(char **argv, size_t *n, const struct dhcp_server *s,
			const struct dhcp_params *p)
{
	char gw[16];
	int r = 0;

	addr4_format(p->gateway, gw, sizeof(gw));
	/* Host names guests send are recorded, never served (see the top). */
	r |= argv_add(argv, n, "--domain=" DHCP_DOMAIN);
	r |= argv_add(argv, n, "--dhcp-fqdn");
	if (p->no_dns) {
		r |= argv_add(argv, n, "--port=0"); /* and so no DNS server is offered */
		return r;
	}
	r |= argv_add(argv, n, "--dhcp-option=option:dns-server,%s", gw);
	if (p->dns_port)
		r |= argv_add(argv, n, "--port=%u", p->dns_port);
	r |= argv_add(argv, n, "--local=/invalid/");
	if (s->names_path) {
		/*
		 * Names under the network's domain are ours alone: never asked
		 * upstream. A span's other hosts' guests' names are theirs: the
		 * servers file names the other hosts' names servers that answer
		 * (dhcp_server_set_name_peers()), each asked in turn, and what
		 * none knows is REFUSED; with none, it says "local" as --local.
		 */
		if (s->servers_path)
			r |= argv_add(argv, n, "--servers-file=%s", s->servers_path);
		else
			r |= argv_add(argv, n, "--local=/%s/", s->domain);
		r |= argv_add(argv, n, "--addn-hosts=%s", s->names_path);
		r |= argv_add(argv, n, "--dhcp-option=option:domain-name,%s", s->domain);
	}
	if (!p->dns_upstream)
		r |= argv_add(argv, n, "--no-resolv");
	else if (p->resolv_file)
		r |= argv_add(argv, n, "--resolv-file=%s", p->resolv_file);
	return r;
}

/*
 * A span's names server (span-names.c): the names file of the network's
 * dnsmasq, at the names link only, and nothing else: no DHCP, no hosts
 * file, no upstream. A name it lacks, and any name not of the domain,
 * it answers REFUSED, which sends the asking dnsmasq on to the next host
 * (NXDOMAIN would end the search there). Its answers have TTL 0, as all
 * of dnsmasq's local ones: the asker keeps none, a guest that moves is
 * found where it is now.
 */
static int add_names_server_args(char **argv, size_t *n, const struct dhcp_params *p,
				 const char *names_path)
{
	int r = 0;

	r |= argv_add(argv, n, "--no-resolv");
	r |= argv_add(argv, n, "--addn-hosts=%s", names_path);
	if (p->dns_port)
		r |= argv_add(argv, n, "--port=%u", p->dns_port);
	return r;
}

/*
 * argv for dnsmasq at @interface; every string malloc'ed in one
 * NULL-terminated vector. With @names_path, a span's names server's.
 */
static int build_argv(const struct dhcp_server *s, const struct dhcp_params *p,
		      const char *interface, const char *names_path, char ***ret)
{
	char **argv;
	size_t n = 0;
	int r = 0;

	argv = calloc(ARGV_MAX, sizeof(char *));
	if (!argv)
		return -ENOMEM;
	r |= argv_add(argv, &n, DNSMASQ_PATH);
	r |= argv_add(argv, &n, "--keep-in-foreground");
	r |= argv_add(argv, &n, "--conf-file=/dev/null"); /* nothing from /etc/dnsmasq.conf */
	r |= argv_add(argv, &n, "--pid-file=%s", s->pid_path);
	r |= argv_add_account(argv, &n, p->env);
	/*
	 * Only this bridge, and never lo: several dnsmasqs live side by side.
	 * Bound once to the addresses the bridge has from its creation, not
	 * --bind-dynamic: that would make every dnsmasq re-read all of the
	 * host's interfaces at each address change anywhere (ra.c says why
	 * that matters), and it needs the address events that
	 * dnsmasq-preload.c keeps from dnsmasq.
	 */
	r |= argv_add(argv, &n, "--bind-interfaces");
	r |= argv_add(argv, &n, "--interface=%s", interface);
	r |= argv_add(argv, &n, "--except-interface=lo");
	r |= argv_add(argv, &n, "--no-hosts"); /* the host's /etc/hosts is not the guests' */
	r |= argv_add(argv, &n, "--log-facility=-");
	if (names_path) {
		r |= add_names_server_args(argv, &n, p, names_path);
	} else {
		r |= argv_add(argv, &n, "--quiet-dhcp");
		r |= add_dhcp_args(argv, &n, s, p);
		r |= add_dns_args(argv, &n, s, p);
	}
	if (r) {
		strv_free(argv);
		return -ENOMEM;
	}
	*ret = argv;
	return 0;
}

static int on_child(sd_event_source *src, const siginfo_t *si, void *userdata);
static int on_child_gone(struct dhcp_server *s, const siginfo_t *si);

static int start(struct dhcp_server *s)
{
	int r;

	s->hup_ok = false;
	/* A session of its own: dnsmasq outlives the daemon, for the next one to
	 * adopt, and a Ctrl-C at the daemon's terminal must not reach it. */
	r = proc_spawn(s->argv, s->env ? dnsmasq_env_get(s->env) : environ, NULL, true, &s->pid);
	if (r < 0)
		return r;
	(void)sd_event_now(s->event, CLOCK_MONOTONIC, &s->started_usec);
	r = sd_event_add_child(s->event, &s->child, s->pid, WEXITED, on_child, s);
	if (r < 0) {
		/* Never leave a dnsmasq nobody watches. */
		(void)kill(s->pid, SIGKILL);
		(void)waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
	return r;
}

static int on_restart_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct dhcp_server *s = userdata;
	int r;

	s->restart_timer = sd_event_source_disable_unref(s->restart_timer);
	r = start(s);
	if (r < 0)
		/* Try again later: the exit callback has told the policy layer. */
		return on_child_gone(s, NULL);
	return 0;
}

/*
 * dnsmasq went away: restart it after a delay that doubles with each
 * crash in a row (250 ms up to 30 s), so a dnsmasq that cannot start
 * does not spin. Its lease and hosts files stay, so guests keep their
 * addresses across the restart.
 */
static int on_child_gone(struct dhcp_server *s, const siginfo_t *si)
{
	uint64_t now = 0, delay;

	(void)sd_event_now(s->event, CLOCK_MONOTONIC, &now);
	if (now - s->started_usec > RESTART_STABLE_USEC)
		s->restarts = 0;
	delay = RESTART_MIN_USEC << (s->restarts < 7 ? s->restarts : 7);
	if (delay > RESTART_MAX_USEC)
		delay = RESTART_MAX_USEC;
	s->restarts++;
	if (s->on_exit)
		s->on_exit(s, si, delay, s->userdata);
	return sd_event_add_time_relative(s->event, &s->restart_timer, CLOCK_MONOTONIC, delay, 0,
					  on_restart_timer, s);
}

static int on_child(sd_event_source *src, const siginfo_t *si, void *userdata)
{
	struct dhcp_server *s = userdata;

	s->child = sd_event_source_unref(s->child);
	s->reload_timer = sd_event_source_disable_unref(s->reload_timer);
	s->settle_timer = sd_event_source_disable_unref(s->settle_timer);
	s->pid = 0;
	return on_child_gone(s, si);
}

static uint64_t mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Return: true when @ifd has reported a write of @name (the pid file). */
static bool saw_file(int ifd, const char *name)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *e;
	bool seen = false;
	ssize_t n;

	while ((n = read(ifd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n; p += sizeof(*e) + e->len) {
			e = (const struct inotify_event *)p;
			if (e->len && streq(e->name, name))
				seen = true;
		}
	return seen;
}

/* Freeing an inotify instance waits for an SRCU grace period: ~20 ms at
 * 150 networks, too long for the loop, on every new network. */
static void bgclosep(int *fd)
{
	if (*fd >= 0)
		bgclose(*fd);
}

/*
 * Start dnsmasq and wait until it listens: the acquire that created the
 * network answers only then, so the guest's first DHCPDISCOVER is not
 * lost (a guest that asks too early retries only a second or more
 * later). dnsmasq writes its pid file after binding its DHCP and DNS
 * sockets, in the foreground too; the hosts file is in place before the
 * spawn, and dnsmasq reads it once its start-up is done. Blocking the
 * loop this long (3-20 ms) happens once per network creation, which is
 * synchronous anyway. A dnsmasq that dies or dawdles is left to the
 * supervision in on_child(): the network works without DHCP meanwhile.
 */
static int start_and_wait(struct dhcp_server *s)
{
	_cleanup_(bgclosep) int ifd = -EBADF;
	_cleanup_close_ int pfd = -EBADF;
	const char *base = strrchr(s->pid_path, '/') + 1;
	_cleanup_free_ char *dir = strndup(s->pid_path, (size_t)(base - s->pid_path));
	uint64_t t0, deadline, now;
	int r;

	if (!dir)
		return -ENOMEM;
	(void)unlink(s->pid_path);
	ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd >= 0 && inotify_add_watch(ifd, dir, IN_CLOSE_WRITE | IN_MOVED_TO) < 0)
		ifd = safe_close(ifd);
	r = start(s);
	if (r < 0 || ifd < 0)
		return r;
	pfd = pidfd_open(s->pid, 0);
	t0 = mono_usec();
	deadline = t0 + READY_TIMEOUT_MS * 1000ULL;
	while ((now = mono_usec()) < deadline) {
		struct pollfd p[2] = { { .fd = ifd, .events = POLLIN },
				       { .fd = pfd, .events = POLLIN } };

		r = poll(p, pfd >= 0 ? 2 : 1, (int)((deadline - now + 999) / 1000));
		if (r < 0 && errno != EINTR)
			break;
		if (p[0].revents && saw_file(ifd, base)) {
			log_debug("dnsmasq %d listening after %llu us", (int)s->pid,
				  (unsigned long long)(mono_usec() - t0));
			if (s->env)
				dnsmasq_env_check(s->env, s->pid);
			return 0;
		}
		if (pfd >= 0 && p[1].revents)
			return 0; /* it exited: on_child() logs it and starts it again */
	}
	log_warning("dnsmasq %d not listening after %d ms; DHCP may answer late", (int)s->pid,
		    READY_TIMEOUT_MS);
	return 0;
}

/* STATE/DNSMASQ_DIR/NAME.@ext into *@ret. Return: 0 or -ENOMEM (*@ret NULL). */
static int state_path(const struct dhcp_params *p, const char *ext, char **ret)
{
	if (asprintf(ret, "%s/" DNSMASQ_DIR "/%s.%s", p->state_dir, p->name, ext) >= 0)
		return 0;
	*ret = NULL;
	return -ENOMEM;
}

/* NAME.names, empty until the daemon has names to serve, when the network serves names. */
static int set_up_names(struct dhcp_server *s, const struct dhcp_params *p)
{
	if (p->no_dns || !p->domain || !p->domain[0])
		return 0;
	s->domain = strdup(p->domain);
	if (!s->domain || state_path(p, "names", &s->names_path) < 0)
		return -ENOMEM;
	return write_file_atomic(s->names_path, "", 0, file_mode(s));
}

static void on_lease_file(void *userdata)
{
	struct dhcp_server *s = userdata;

	if (s->on_leases)
		s->on_leases(s, s->userdata);
}

int dhcp_server_leases(struct dhcp_server *s, struct dhcp_host **ret, size_t *ret_n)
{
	return dhcp_lease_file_read(s->leases, ret, ret_n);
}

/* A server not yet started, for @p's network. NULL: out of memory. */
static struct dhcp_server *server_alloc(sd_event *event, const struct dhcp_params *p,
					dhcp_exit_fn on_exit, void *userdata)
{
	struct dhcp_server *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->env = p->env;
	s->on_exit = on_exit;
	s->userdata = userdata;
	s->event = event;
	return s;
}

int dhcp_server_new(sd_event *event, const struct dhcp_params *p, const struct dhcp_host *hosts,
		    size_t n_hosts, dhcp_exit_fn on_exit, void *userdata, struct dhcp_server **ret)
{
	_cleanup_(dhcp_server_freep) struct dhcp_server *s = NULL;
	int r;

	s = server_alloc(event, p, on_exit, userdata);
	if (!s)
		return -ENOMEM;
	s->on_leases = p->on_leases;
	if (state_path(p, "hosts", &s->hosts_path) < 0 ||
	    state_path(p, "leases", &s->leases_path) < 0 || state_path(p, "pid", &s->pid_path) < 0)
		return -ENOMEM;
	r = set_up_names(s, p);
	if (r < 0)
		return r;
	if (p->name_peers && s->names_path) {
		if (state_path(p, "servers", &s->servers_path) < 0)
			return -ENOMEM;
		r = dhcp_server_set_name_peers(s, NULL, 0);
		if (r < 0)
			return r;
	}
	r = dhcp_server_set_hosts(s, hosts, n_hosts);
	if (r < 0)
		return r;
	/* Made before dnsmasq runs, to be watched as soon as it listens. */
	r = dhcp_lease_file_new(p->watch, s->leases_path, on_lease_file, s, &s->leases);
	if (r < 0)
		return r;
	r = build_argv(s, p, p->bridge, NULL, &s->argv);
	if (r < 0)
		return r;
	r = start_and_wait(s);
	if (r < 0)
		return r;
	dhcp_lease_file_watch(s->leases);
	*ret = TAKE_PTR(s);
	return 0;
}

int dhcp_names_server_new(sd_event *event, const struct dhcp_params *p, const char *link,
			  dhcp_exit_fn on_exit, void *userdata, struct dhcp_server **ret)
{
	_cleanup_(dhcp_server_freep) struct dhcp_server *s = NULL;
	_cleanup_free_ char *names_path = NULL;
	int r;

	s = server_alloc(event, p, on_exit, userdata);
	if (!s)
		return -ENOMEM;
	if (state_path(p, "names", &names_path) < 0 || state_path(p, NAMES_PID, &s->pid_path) < 0)
		return -ENOMEM;
	r = build_argv(s, p, link, names_path, &s->argv);
	if (r < 0)
		return r;
	r = start_and_wait(s);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(s);
	return 0;
}

static void dhcp_server_release(struct dhcp_server *s);

/* Stop watching: unref'ing a child source neither kills nor reaps. */
static void drop_sources(struct dhcp_server *s)
{
	s->leases = dhcp_lease_file_free(s->leases);
	s->child = sd_event_source_disable_unref(s->child);
	s->reload_timer = sd_event_source_disable_unref(s->reload_timer);
	s->settle_timer = sd_event_source_disable_unref(s->settle_timer);
	s->restart_timer = sd_event_source_disable_unref(s->restart_timer);
}

/* Wait up to @ms for @pid to exit; Return: true when reaped. */
static bool reap_within(pid_t pid, int ms)
{
	_cleanup_close_ int pfd = pidfd_open(pid, 0);
	pid_t r;

	/* A pidfd polls readable once the child exits: dnsmasq takes about
	 * a millisecond after SIGTERM, and the loop waits no longer. */
	if (pfd >= 0)
		(void)poll(&(struct pollfd){ .fd = pfd, .events = POLLIN }, 1, ms);
	for (int waited = 0;; waited += 10) {
		r = waitpid(pid, NULL, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD))
			return true;
		if (waited >= ms || pfd >= 0)
			return false;
		(void)nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
}

struct dhcp_server *dhcp_server_free(struct dhcp_server *s)
{
	if (!s)
		return NULL;
	/* Drop the child source first so sd-event does not reap behind us. */
	drop_sources(s);
	if (s->pid > 0) {
		(void)kill(s->pid, SIGTERM);
		if (!reap_within(s->pid, STOP_GRACE_MS)) {
			log_debug("dnsmasq %d ignored SIGTERM, killing", (int)s->pid);
			(void)kill(s->pid, SIGKILL);
			(void)waitpid(s->pid, NULL, 0);
		}
	}
	if (s->hosts_path)
		(void)unlink(s->hosts_path);
	if (s->leases_path)
		(void)unlink(s->leases_path);
	if (s->pid_path)
		(void)unlink(s->pid_path);
	if (s->names_path)
		(void)unlink(s->names_path);
	if (s->servers_path)
		(void)unlink(s->servers_path);
	dhcp_server_release(s);
	return NULL;
}

static void dhcp_server_release(struct dhcp_server *s)
{
	free(s->hosts_path);
	free(s->leases_path);
	free(s->pid_path);
	free(s->names_path);
	free(s->domain);
	free(s->names_text);
	free(s->servers_path);
	free(s->servers_text);
	strv_free(s->argv);
	free(s);
}

struct dhcp_server *dhcp_server_abandon(struct dhcp_server *s)
{
	if (!s)
		return NULL;
	/* Unref without killing: sd-event leaves the child alone, and it
	 * becomes init's once we exit. */
	drop_sources(s);
	dhcp_server_release(s);
	return NULL;
}

/* The pid in the dnsmasq pid file @path, or 0. */
static pid_t read_pid_path(const char *path)
{
	char buf[32];
	int pid;

	if (proc_read_file(path, O_NOFOLLOW, buf, sizeof(buf)) <= 0)
		return 0;
	return sscanf(buf, "%d", &pid) == 1 && pid > 0 ? (pid_t)pid : 0;
}

/* The pid in dnsmasq's pid file @dir/NAME.pid, or 0. */
static pid_t read_pid_file(const char *dir, const char *name)
{
	_cleanup_free_ char *path = NULL;

	if (asprintf(&path, "%s/%s.pid", dir, name) < 0)
		return 0;
	return read_pid_path(path);
}

static int signal_process(pid_t pid, int pfd, int sig)
{
	if (pfd >= 0)
		return pidfd_send_signal(pfd, sig, NULL, 0) < 0 ? -errno : 0;
	return kill(pid, sig) < 0 ? -errno : 0;
}

/* Wait up to @ms for @pid, not our child, to be gone or a zombie. */
static bool gone_within(pid_t pid, int pfd, int ms)
{
	/* Its pidfd polls readable once it has exited, files closed. */
	if (pfd >= 0)
		(void)poll(&(struct pollfd){ .fd = pfd, .events = POLLIN }, 1, ms);
	for (int waited = 0; !proc_exited(pid); waited += 10) {
		if (waited >= ms)
			return false;
		(void)nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
	return true;
}

/* Stop @pid if its command line has one of @want (@n of them). */
static void stop_stale(pid_t pid, const char *const *want, size_t n)
{
	_cleanup_close_ int pfd = -EBADF;
	bool ours = false;

	if (pid <= 0)
		return;
	/* The pidfd first, the check second: then the signals cannot hit
	 * a process that took the pid over in between. */
	pfd = pidfd_open(pid, 0);
	for (size_t i = 0; i < n && !ours; i++)
		ours = proc_cmdline_has(pid, want[i]);
	if (!ours)
		return;
	(void)signal_process(pid, pfd, SIGTERM);
	if (!gone_within(pid, pfd, STOP_GRACE_MS)) {
		(void)signal_process(pid, pfd, SIGKILL);
		(void)gone_within(pid, pfd, STOP_GRACE_MS);
	}
}

/*
 * A daemon of before DNSMASQ_DIR kept NAME.hosts, .leases and .pid in
 * STATE itself, readable by all: the lease file moves (guests keep their
 * addresses), the rest goes; the new dnsmasq writes them anew.
 */
static void move_old_files(const char *state_dir, const char *name)
{
	static const char *const gone[] = { "hosts", "hosts.tmp", "pid" };
	_cleanup_free_ char *from = NULL, *to = NULL;

	if (asprintf(&from, "%s/%s.leases", state_dir, name) < 0 ||
	    asprintf(&to, "%s/" DNSMASQ_DIR "/%s.leases", state_dir, name) < 0)
		return;
	if (access(from, F_OK) == 0 && access(to, F_OK) < 0 && rename(from, to) < 0)
		log_debug_errno(-errno, "Failed to move '%s' into '" DNSMASQ_DIR "/': %m", from);
	(void)unlink(from);
	for (size_t i = 0; i < ELEMENTSOF(gone); i++) {
		free(from);
		if (asprintf(&from, "%s/%s.%s", state_dir, name, gone[i]) < 0)
			return;
		(void)unlink(from);
	}
}

/* A span's names server an earlier daemon left: its pid file names it. */
static void stop_stale_names(const char *dir, const char *name)
{
	_cleanup_free_ char *want = NULL;

	if (asprintf(&want, "--pid-file=%s/%s." NAMES_PID, dir, name) < 0)
		return;
	stop_stale(read_pid_path(want + strlen("--pid-file=")), (const char *const[]){ want }, 1);
}

void dhcp_stop_stale(pid_t pid, const char *state_dir, const char *name)
{
	_cleanup_free_ char *dir = NULL, *want = NULL, *want_old = NULL;
	pid_t current, old;

	if (asprintf(&dir, "%s/" DNSMASQ_DIR, state_dir) < 0)
		return;
	if (asprintf(&want, "--dhcp-hostsfile=%s/%s.hosts", dir, name) < 0 ||
	    asprintf(&want_old, "--dhcp-hostsfile=%s/%s.hosts", state_dir, name) < 0)
		return;
	stop_stale_names(dir, name);
	current = read_pid_file(dir, name);
	old = read_pid_file(state_dir, name);
	/* The record has the pid of the dnsmasq the network started with;
	 * one restarted since then wrote its own to the pid file. */
	stop_stale(pid, (const char *const[]){ want, want_old }, 2);
	if (current != pid)
		stop_stale(current, (const char *const[]){ want, want_old }, 2);
	if (old != pid && old != current)
		stop_stale(old, (const char *const[]){ want, want_old }, 2);
	move_old_files(state_dir, name);
}

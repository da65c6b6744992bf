/* dhcp-leases.c - dnsmasq's lease file: read when it changed, and watched
 *
 * The daemon reads each network's lease file for two things: the
 * addresses dnsmasq gave (a port's address is never one of them, and
 * `status` shows every guest's), and the host names guests sent (their
 * DNS names, names.c). It reads it again only when it changed (inode,
 * size, mtime), so that every acquire may ask. One inotify instance for
 * every network's file says when it changed (a watch of the state
 * directory would wake the daemon for its own journal writes), and the
 * file is read once the burst of writes has settled.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dhcp-leases.h"
#include "log.h"
#include "protocol.h"
#include "util.h"

#define SETTLE_USEC (20 * 1000ULL) /* dnsmasq rewrites its lease file in a few writes */
#define WATCH_BUCKETS 64

/* One line of dnsmasq's lease file. */
struct cached_lease {
	struct dhcp_host h;
	long long expiry; /* 0: never */
};

/* Every network's lease file, watched by one inotify instance. */
struct dhcp_watch {
	sd_event *event;
	int fd;
	sd_event_source *io;
	LIST_HEAD(, dhcp_lease_file) by_wd[WATCH_BUCKETS];
};

struct dhcp_lease_file {
	char *path;
	struct stat st;             /* the file as last read */
	struct cached_lease *cache; /* what it said then; NULL: never read */
	size_t n;
	struct dhcp_watch *watch;            /* NULL: nobody asks when it changes */
	int wd;                              /* its watch; -1: none */
	LIST_ENTRY(dhcp_lease_file) wd_link; /* in watch->by_wd */
	sd_event_source *timer;              /* armed while the file settles */
	dhcp_lease_file_fn fn;
	void *userdata;
};

/* One lease file line: "EXPIRY MAC ADDRESS HOSTNAME CLIENTID"; HOSTNAME "*" for none. */
static bool parse_lease_line(const char *line, struct cached_lease *ret)
{
	char mac[32], ip[32], name[sizeof(ret->h.name)] = "*";
	struct in_addr a;

	/* A name longer than 64 stays cut at 64: too long for DNS, as names.c sees. */
	if (sscanf(line, "%lld %31s %31s %64s", &ret->expiry, mac, ip, name) < 3)
		return false; /* e.g. the "duid" line of DHCPv6 */
	if (mac_parse(mac, ret->h.mac) < 0 || inet_pton(AF_INET, ip, &a) != 1)
		return false;
	ret->h.address = ntohl(a.s_addr);
	/* The name without dnsmasq's domain (--dhcp-fqdn records it whole). */
	name[strcspn(name, ".")] = '\0';
	snprintf(ret->h.name, sizeof(ret->h.name), "%s", streq(name, "*") ? "" : name);
	return true;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Reread the file into f->cache when it changed. */
static int load(struct dhcp_lease_file *f)
{
	_cleanup_free_ struct cached_lease *v = NULL;
	_cleanup_free_ char *line = NULL;
	size_t n = 0, cap = 0, len = 0;
	struct stat st;
	FILE *in;

	/* Every acquire asks: one stat() when nothing changed. */
	if (stat(f->path, &st) < 0) {
		if (errno != ENOENT)
			return -errno;
		st = (struct stat){ 0 };
	}
	/* A file rewritten within the timestamps' granularity (jiffies on
	 * tmpfs) may look unchanged: trust only stamps a second old. */
	if (f->cache && same_file(&st, &f->st) && st.st_mtim.tv_sec + 1 < time(NULL))
		return 0;
	in = fopen(f->path, "re");
	if (!in && errno != ENOENT)
		return -errno;
	while (in && getline(&line, &len, in) > 0) {
		struct cached_lease c;

		if (!parse_lease_line(line, &c))
			continue;
		if (n == cap) {
			struct cached_lease *g;

			cap = cap ? cap * 2 : 16;
			g = realloc(v, cap * sizeof(*v));
			if (!g) {
				fclose(in);
				return -ENOMEM;
			}
			v = g;
		}
		v[n++] = c;
	}
	if (in)
		fclose(in);
	if (!v && !(v = malloc(sizeof(*v)))) /* non-NULL: "read, empty" */
		return -ENOMEM;
	free(f->cache);
	f->cache = TAKE_PTR(v);
	f->n = n;
	f->st = st;
	return 0;
}

int dhcp_lease_file_read(struct dhcp_lease_file *f, struct dhcp_host **ret, size_t *ret_n)
{
	time_t now = time(NULL);
	struct dhcp_host *v;
	size_t n = 0;
	int r;

	*ret = NULL;
	*ret_n = 0;
	r = load(f);
	if (r < 0)
		return r;
	v = calloc(f->n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < f->n; i++)
		if (f->cache[i].expiry == 0 || f->cache[i].expiry >= (long long)now)
			v[n++] = f->cache[i].h;
	*ret = v;
	*ret_n = n;
	return 0;
}

/* ---- the watch */

static int on_settled(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct dhcp_lease_file *f = userdata;

	f->timer = sd_event_source_disable_unref(f->timer);
	f->fn(f->userdata);
	return 0;
}

/*
 * dnsmasq rewrites its lease file in place (truncate, then write): read
 * it once the writes have settled, not between them, and once for a
 * burst of DHCP exchanges.
 */
static void changed(struct dhcp_lease_file *f)
{
	int r;

	if (f->timer)
		return;
	r = sd_event_add_time_relative(f->watch->event, &f->timer, CLOCK_MONOTONIC, SETTLE_USEC, 0,
				       on_settled, f);
	if (r < 0)
		log_debug_errno(r, "Failed to arm the lease file timer: %m");
}

static struct dhcp_lease_file *watch_find(struct dhcp_watch *w, int wd)
{
	struct dhcp_lease_file *f;

	LIST_FOREACH(f, &w->by_wd[(unsigned int)wd % WATCH_BUCKETS], wd_link)
		if (f->wd == wd)
			return f;
	return NULL;
}

static int on_watch_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct dhcp_watch *w = userdata;
	const struct inotify_event *e;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n; p += sizeof(*e) + e->len) {
			struct dhcp_lease_file *f;

			e = (const struct inotify_event *)p;
			f = e->wd >= 0 ? watch_find(w, e->wd) : NULL;
			if (!f)
				continue; /* IN_Q_OVERFLOW has wd -1: a burst we read anyway */
			if (e->mask & IN_IGNORED) {
				/* The file went (removed, or its file system): no more events. */
				LIST_REMOVE(f, wd_link);
				f->wd = -1;
			}
			changed(f);
		}
	return 0;
}

int dhcp_watch_new(sd_event *event, struct dhcp_watch **ret)
{
	struct dhcp_watch *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->event = event;
	for (size_t i = 0; i < WATCH_BUCKETS; i++)
		LIST_INIT(&w->by_wd[i]);
	w->fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (w->fd < 0) {
		r = -errno;
		free(w);
		return r;
	}
	r = sd_event_add_io(event, &w->io, w->fd, EPOLLIN, on_watch_io, w);
	if (r < 0) {
		dhcp_watch_free(w);
		return r;
	}
	*ret = w;
	return 0;
}

struct dhcp_watch *dhcp_watch_free(struct dhcp_watch *w)
{
	if (!w)
		return NULL;
	/* Every lease file is gone: nothing refers to it any more. */
	sd_event_source_disable_unref(w->io);
	/* The SRCU wait of freeing the instance, once, as the daemon stops. */
	safe_close(w->fd);
	free(w);
	return NULL;
}

/* ---- the file */

int dhcp_lease_file_new(struct dhcp_watch *w, const char *path, dhcp_lease_file_fn fn,
			void *userdata, struct dhcp_lease_file **ret)
{
	struct dhcp_lease_file *f = calloc(1, sizeof(*f));
	int fd;

	if (!f || !(f->path = strdup(path))) {
		free(f);
		return -ENOMEM;
	}
	f->watch = w;
	f->wd = -1;
	f->fn = fn;
	f->userdata = userdata;
	/* dnsmasq opens it as root before it drops privileges, so it is
	 * root's alone; one an earlier dnsmasq left stays, with its leases. */
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		int r = -errno;

		dhcp_lease_file_free(f);
		return r;
	}
	safe_close(fd);
	*ret = f;
	return 0;
}

void dhcp_lease_file_watch(struct dhcp_lease_file *f)
{
	if (!f->watch || f->wd >= 0)
		return;
	f->wd = inotify_add_watch(f->watch->fd, f->path, IN_MODIFY | IN_CLOSE_WRITE);
	if (f->wd < 0) {
		/* Still correct: status reads the file when asked; only waits are slower. */
		log_debug("Failed to watch %s: %m", f->path);
		f->wd = -1;
		return;
	}
	LIST_INSERT_HEAD(&f->watch->by_wd[(unsigned int)f->wd % WATCH_BUCKETS], f, wd_link);
}

struct dhcp_lease_file *dhcp_lease_file_free(struct dhcp_lease_file *f)
{
	if (!f)
		return NULL;
	f->timer = sd_event_source_disable_unref(f->timer);
	if (f->wd >= 0) {
		LIST_REMOVE(f, wd_link);
		(void)inotify_rm_watch(f->watch->fd, f->wd);
	}
	free(f->cache);
	free(f->path);
	free(f);
	return NULL;
}

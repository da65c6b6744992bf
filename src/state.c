/* state.c - what the daemon records in its state dir so the next daemon can adopt it
 *
 * Two files per network. NAME.state is a snapshot of the network and all
 * its leases, rewritten whole (temp file + rename), so a crash leaves
 * either the old or the new version, never half of one. NAME.journal
 * holds the lease changes since that snapshot, one line each, appended
 * with one write(): a lease change costs one short line, not a rewrite of
 * every lease. The network (network.c) writes a new snapshot and empties
 * the journal when its own fields change and when the journal grows past
 * twice its lease count, so the journal stays as long as the snapshot at
 * most. Every change is on record before the reply leaves the daemon: a
 * port a client was told about is always on record.
 *
 * Reading is the snapshot, then the journal replayed over it in order.
 * Each lease has an id, so replay is idempotent (see state_replay()): the
 * daemon may die between renaming a snapshot into place and emptying the
 * journal, or in the middle of a line.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"
#include "util.h"

#define STATE_MAX_BYTES (4 << 20)
/* Up to 2 x 1024 lines of up to 2 KB (a lease with 16 port_forwards). */
#define JOURNAL_MAX_BYTES (16 << 20)
/* Room for most journal lines without a malloc(). */
#define LINE_BUF 2048

static int get_str(json_t *o, const char *key, char *dst, size_t size)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (!s || strlen(s) >= size)
		return -EINVAL;
	strcpy(dst, s);
	return 0;
}

static int get_int(json_t *o, const char *key, long long min, long long max, long long *ret)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return -EINVAL;
	*ret = json_integer_value(v);
	return 0;
}

static int get_mac(json_t *o, const char *key, uint8_t mac[6])
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? mac_parse(s, mac) : -EINVAL;
}

static int get_addr4(json_t *o, const char *key, uint32_t *ret)
{
	const char *s = json_string_value(json_object_get(o, key));
	struct in_addr a;

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*ret = ntohl(a.s_addr);
	return 0;
}

static int parse_forward(json_t *o, struct port_forward *f)
{
	char proto[8];
	long long v;
	int r;

	if (!json_is_object(o) || get_str(o, "protocol", proto, sizeof(proto)) < 0)
		return -EINVAL;
	r = forward_protocol_from_string(proto);
	if (r < 0)
		return -EINVAL;
	f->protocol = (enum forward_protocol)r;
	if (get_int(o, "external_port", 1, 65535, &v) < 0)
		return -EINVAL;
	f->external_port = (uint16_t)v;
	if (get_int(o, "internal_port", 1, 65535, &v) < 0)
		return -EINVAL;
	f->internal_port = (uint16_t)v;
	return get_addr4(o, "internal_address", &f->internal_address);
}

/* "port_forwards", as lease_port_json() writes it; none when absent. */
static int parse_forwards(json_t *o, struct state_lease *l)
{
	json_t *a = json_object_get(o, "port_forwards"), *v;
	size_t i;

	if (!a)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > REQUEST_FORWARDS_MAX)
		return -EINVAL;
	json_array_foreach(a, i, v) {
		struct port_forward *f = &l->forwards[i];

		if (parse_forward(v, f) < 0)
			return -EINVAL;
		/* One host port goes to one guest (forward.c). */
		for (size_t j = 0; j < i; j++)
			if (l->forwards[j].protocol == f->protocol &&
			    l->forwards[j].external_port == f->external_port)
				return -EINVAL;
	}
	l->n_forwards = (unsigned int)json_array_size(a);
	return 0;
}

static int parse_lease(json_t *o, struct state_lease *l)
{
	char kind[16];
	long long v;
	int r;

	/* An older daemon's record has no id: adoption gives it one. */
	if (json_object_get(o, "id")) {
		if (get_int(o, "id", 1, INT64_MAX, &v) < 0)
			return -EINVAL;
		l->id = (uint64_t)v;
	}
	if (get_str(o, "kind", kind, sizeof(kind)) < 0)
		return -EINVAL;
	r = port_kind_from_string(kind);
	if (r < 0)
		return r;
	l->kind = (enum port_kind)r;
	if (l->kind != PORT_NONE) {
		if (get_str(o, "ifname", l->ifname, sizeof(l->ifname)) < 0 ||
		    !ifname_is_valid(l->ifname) || get_mac(o, "mac", l->mac) < 0 ||
		    get_int(o, "ifindex", 1, INT32_MAX, &v) < 0)
			return -EINVAL;
		l->ifindex = (int)v;
	}
	/* Host numbers reach the widest subnet a file may have; lease_adopt() checks the range. */
	if (get_int(o, "host", 0, (1 << (32 - CONFIG_MASK_MIN)) - 2, &v) < 0)
		return -EINVAL;
	l->host = (unsigned int)v;
	if (get_int(o, "uid", 0, UINT32_MAX - 1, &v) < 0)
		return -EINVAL;
	l->uid = (uid_t)v;
	if (get_int(o, "pid", 0, INT32_MAX, &v) < 0)
		return -EINVAL;
	l->pid = (pid_t)v;
	if (get_str(o, "label", l->label, sizeof(l->label)) < 0)
		return -EINVAL;
	/* An older daemon took labels that are refused now (control and bidi
	 * characters): the lease must survive the upgrade, not its label. */
	label_sanitize(l->label);
	if (json_object_get(o, "persistent")) {
		if (!json_is_boolean(json_object_get(o, "persistent")))
			return -EINVAL;
		l->persistent = json_is_true(json_object_get(o, "persistent"));
	}
	return parse_forwards(o, l);
}

/* What a lease record must agree on with its network. */
static bool lease_fits(const struct state_network *n, const struct state_lease *l)
{
	/* Forwards go to the lease's own address (lease.c, take_forwards()). */
	if (l->n_forwards && (l->kind == PORT_NONE || !l->host))
		return false;
	for (unsigned int i = 0; i < l->n_forwards; i++)
		if (l->forwards[i].internal_address != n->subnet.addr + l->host)
			return false;
	return true;
}

static struct state_lease *find_lease(struct state_network *n, uint64_t id)
{
	for (size_t i = 0; i < n->n_leases; i++)
		if (n->leases[i].id == id)
			return &n->leases[i];
	return NULL;
}

/* Room for one more lease. */
static int grow_leases(struct state_network *n)
{
	struct state_lease *v;
	size_t want;

	if (n->n_leases < n->leases_alloc)
		return 0;
	want = n->leases_alloc ? n->leases_alloc * 2 : 8;
	v = reallocarray(n->leases, want, sizeof(*v));
	if (!v)
		return -ENOMEM;
	n->leases = v;
	n->leases_alloc = want;
	return 0;
}

/* "dhcp_range": [FIRST, LAST], host numbers of the subnet; optional. */
static int parse_range(json_t *o, struct state_network *n)
{
	json_t *v = json_object_get(o, "dhcp_range"), *a, *b;
	json_int_t first, last, size = (json_int_t)1 << (32 - n->subnet.len);

	if (!v)
		return 0;
	a = json_array_get(v, 0);
	b = json_array_get(v, 1);
	if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(a) || !json_is_integer(b))
		return -EINVAL;
	first = json_integer_value(a);
	last = json_integer_value(b);
	if (first < 0 || last < first || last >= size - 1 || (first == 0 && last != 0))
		return -EINVAL;
	n->has_range = true;
	n->range_first = (unsigned int)first;
	n->range_last = (unsigned int)last;
	return 0;
}

/* "domain": the network's DNS domain, "" for none; optional. */
static int parse_domain(json_t *o, struct state_network *n)
{
	json_t *v = json_object_get(o, "domain");
	const char *s = json_string_value(v);

	if (!v)
		return 0;
	if (!s || (*s && !dns_domain_is_valid(s)))
		return -EINVAL;
	n->has_domain = true;
	snprintf(n->domain, sizeof(n->domain), "%s", s);
	return 0;
}

/* "span", when the network spans hosts: its VXLAN device. */
static int parse_span(json_t *o, struct state_span *s)
{
	long long x;

	if (!o)
		return 0;
	if (!json_is_object(o) || get_int(o, "vni", 1, SPAN_VNI_MAX, &x) < 0)
		return -EINVAL;
	s->vni = (uint32_t)x;
	if (get_str(o, "vxlan", s->vxlan, sizeof(s->vxlan)) < 0 || !ifname_is_valid(s->vxlan) ||
	    get_int(o, "vxlan_ifindex", 0, INT32_MAX, &x) < 0)
		return -EINVAL;
	s->vxlan_ifindex = (int)x;
	return get_addr4(o, "local", &s->local);
}

static int parse_network(json_t *o, struct state_network *n)
{
	char mode[16], subnet[32], ula[INET6_ADDRSTRLEN];
	json_t *leases, *v;
	long long x;
	size_t i;

	if (get_int(o, "version", STATE_VERSION, STATE_VERSION, &x) < 0 ||
	    get_str(o, "name", n->name, sizeof(n->name)) < 0 || !network_name_is_valid(n->name) ||
	    get_str(o, "mode", mode, sizeof(mode)) < 0 ||
	    get_str(o, "bridge", n->bridge, sizeof(n->bridge)) < 0 || !ifname_is_valid(n->bridge) ||
	    get_mac(o, "bridge_mac", n->bridge_mac) < 0 ||
	    get_str(o, "subnet", subnet, sizeof(subnet)) < 0 || prefix4_parse(subnet, &n->subnet) < 0 ||
	    n->subnet.len < CONFIG_MASK_MIN || n->subnet.len > CONFIG_MASK_MAX ||
	    get_str(o, "ula", ula, sizeof(ula)) < 0 || inet_pton(AF_INET6, ula, n->ula) != 1)
		return -EINVAL;
	if (streq(mode, "shared"))
		n->mode = MODE_SHARED;
	else if (streq(mode, "host"))
		n->mode = MODE_HOST;
	else
		return -EINVAL;
	if (get_int(o, "bridge_ifindex", 1, INT32_MAX, &x) < 0)
		return -EINVAL;
	n->bridge_ifindex = (int)x;
	if (get_int(o, "mtu", 68, 65535, &x) < 0)
		return -EINVAL;
	n->mtu = (unsigned int)x;
	if (get_int(o, "dnsmasq_pid", 0, INT32_MAX, &x) < 0)
		return -EINVAL;
	n->dnsmasq_pid = (pid_t)x;
	if (!json_is_boolean(json_object_get(o, "dhcp")))
		return -EINVAL;
	n->dhcp = json_is_true(json_object_get(o, "dhcp"));
	if (parse_range(o, n) < 0 || parse_domain(o, n) < 0 ||
	    parse_span(json_object_get(o, "span"), &n->span) < 0)
		return -EINVAL;

	leases = json_object_get(o, "leases");
	if (!json_is_array(leases))
		return -EINVAL;
	n->leases_alloc = json_array_size(leases) + 1;
	n->leases = calloc(n->leases_alloc, sizeof(*n->leases));
	if (!n->leases)
		return -ENOMEM;
	json_array_foreach(leases, i, v) {
		struct state_lease *l = &n->leases[n->n_leases];

		if (!json_is_object(v) || parse_lease(v, l) < 0 || !lease_fits(n, l))
			return -EINVAL;
		/* The journal names leases by id: two of one id are a broken file. */
		if (l->id && find_lease(n, l->id))
			return -EINVAL;
		n->n_leases++;
	}
	return 0;
}

int state_parse(const char *text, size_t len, struct state_network *ret)
{
	struct state_network n = {};
	json_t *o;
	int r;

	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return -EINVAL;
	}
	r = parse_network(o, &n);
	json_decref(o);
	if (r < 0) {
		state_network_clear(&n);
		return r;
	}
	*ret = n;
	return 0;
}

/* {"add": LEASE} */
static int replay_add(struct state_network *n, json_t *o)
{
	struct state_lease l, *old;
	int r;

	/* Padding too: records are compared whole (fuzz-state.c). */
	memset(&l, 0, sizeof(l));
	if (!json_is_object(o) || parse_lease(o, &l) < 0 || !l.id || !lease_fits(n, &l))
		return -EINVAL;
	/* Already there: the snapshot was written after this line. */
	old = find_lease(n, l.id);
	if (old) {
		memcpy(old, &l, sizeof(l));
		return 0;
	}
	r = grow_leases(n);
	if (r < 0)
		return r;
	memcpy(&n->leases[n->n_leases++], &l, sizeof(l));
	return 0;
}

/* {"del": ID} */
static int replay_del(struct state_network *n, json_t *v)
{
	struct state_lease *l;

	if (!json_is_integer(v) || json_integer_value(v) < 1)
		return -EINVAL;
	/* Unknown: it was never recorded in a snapshot, or is gone from it already. */
	l = find_lease(n, (uint64_t)json_integer_value(v));
	if (!l)
		return 0;
	/* Keep the order of the others: adoption and status list leases in it. */
	memmove(l, l + 1, (size_t)(n->leases + n->n_leases - (l + 1)) * sizeof(*l));
	n->n_leases--;
	return 0;
}

static int replay_line(struct state_network *n, const char *line, size_t len)
{
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL), *v;
	int r = -EINVAL;

	if (json_is_object(o) && json_object_size(o) == 1) {
		if ((v = json_object_get(o, "add")))
			r = replay_add(n, v);
		else if ((v = json_object_get(o, "del")))
			r = replay_del(n, v);
	}
	json_decref(o);
	return r;
}

int state_replay(struct state_network *n, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	int skipped = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		int r;

		if (!nl)
			return skipped + 1; /* cut short by a crash mid-write */
		r = replay_line(n, p, (size_t)(nl - p));
		if (r == -ENOMEM)
			return r;
		if (r < 0 && skipped < INT_MAX)
			skipped++;
		p = nl + 1;
	}
	return skipped;
}

void state_network_clear(struct state_network *n)
{
	free(n->leases);
	n->leases = NULL;
	n->n_leases = 0;
	n->leases_alloc = 0;
}

static char *state_path(const char *dir, const char *name, const char *suffix)
{
	char *p;

	return asprintf(&p, "%s/%s.state%s", dir, name, suffix) < 0 ? NULL : p;
}

static char *journal_path(const char *dir, const char *name)
{
	char *p;

	return asprintf(&p, "%s/%s.journal", dir, name) < 0 ? NULL : p;
}

int state_save(const char *dir, const char *name, json_t *doc)
{
	_cleanup_free_ char *path = state_path(dir, name, "");
	_cleanup_free_ char *tmp = state_path(dir, name, ".tmp");
	int r;

	if (!path || !tmp)
		return -ENOMEM;
	/* 0600: the state names every client; only root reads it. */
	errno = 0;
	r = json_dump_file(doc, tmp, JSON_COMPACT);
	if (r < 0 || chmod(tmp, 0600) < 0 || rename(tmp, path) < 0) {
		r = errno ? -errno : -EIO;
		(void)unlink(tmp);
		return r;
	}
	return 0;
}

int state_journal_open(const char *dir, const char *name)
{
	_cleanup_free_ char *path = journal_path(dir, name);
	int fd;

	if (!path)
		return -ENOMEM;
	/* 0600 as the snapshot; O_APPEND: each write() lands whole at the end. */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	return fd < 0 ? -errno : fd;
}

int state_journal_reset(int fd)
{
	return ftruncate(fd, 0) < 0 ? -errno : 0;
}

void state_journal_remove(const char *dir, const char *name)
{
	_cleanup_free_ char *path = journal_path(dir, name);

	if (path)
		(void)unlink(path);
}

/* One line, one write(): a reader sees it whole, or cut short at the end. */
static int journal_write(int fd, const char *line, size_t len)
{
	ssize_t n = write(fd, line, len);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int state_journal_add(int fd, json_t *lease)
{
	_cleanup_free_ char *big = NULL;
	json_t *doc = json_pack("{s:O}", "add", lease);
	char buf[LINE_BUF], *line = buf;
	size_t len;

	if (!doc)
		return -ENOMEM;
	len = json_dumpb(doc, buf, sizeof(buf) - 1, JSON_COMPACT);
	if (len >= sizeof(buf)) {
		/* Many port_forwards: measure, then dump again into enough room. */
		big = malloc(len + 1);
		if (big)
			len = json_dumpb(doc, big, len, JSON_COMPACT);
		line = big;
	}
	json_decref(doc);
	if (!line || len == 0)
		return -ENOMEM;
	line[len++] = '\n';
	return journal_write(fd, line, len);
}

int state_journal_del(int fd, uint64_t id)
{
	char line[64];
	int len = snprintf(line, sizeof(line), "{\"del\":%llu}\n", (unsigned long long)id);

	return journal_write(fd, line, (size_t)len);
}

void state_forget(const char *dir, const char *name)
{
	_cleanup_free_ char *path = state_path(dir, name, "");

	if (path)
		(void)unlink(path);
	state_journal_remove(dir, name);
}

static int read_file(int dirfd, const char *name, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	ssize_t n;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max)
		return -EINVAL;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size)
		return n < 0 ? -errno : -EIO;
	*ret = TAKE_PTR(buf);
	*ret_len = (size_t)n;
	return 0;
}

/*
 * The journal of DIR/NAME.state over @n. One that is missing is empty:
 * no lease changed since the snapshot, or an older daemon wrote it.
 * Return: the lines skipped, or negative errno (the journal, or part of
 * it, could not be read).
 */
static int load_journal(int dirfd, const char *state_name, struct state_network *n)
{
	_cleanup_free_ char *name = NULL, *text = NULL;
	size_t len = 0;
	int r;

	if (asprintf(&name, "%.*s.journal", (int)(strlen(state_name) - 6), state_name) < 0)
		return -ENOMEM;
	r = read_file(dirfd, name, JOURNAL_MAX_BYTES, &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	return state_replay(n, text, len);
}

int state_load_all(const char *dir, struct state_network **ret, size_t *ret_n)
{
	_cleanup_(closedirp) DIR *d = opendir(dir);
	struct state_network *v = NULL;
	size_t n = 0;
	struct dirent *de;

	*ret = NULL;
	*ret_n = 0;
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		_cleanup_free_ char *text = NULL;
		size_t len = strlen(de->d_name), tlen = 0;
		struct state_network *g;
		int r;

		if (len <= 6 || !streq(de->d_name + len - 6, ".state"))
			continue;
		if (read_file(dirfd(d), de->d_name, STATE_MAX_BYTES, &text, &tlen) < 0)
			continue;
		g = realloc(v, (n + 1) * sizeof(*v));
		if (!g)
			break;
		v = g;
		if (state_parse(text, tlen, &v[n]) < 0)
			continue;
		/* Without the journal the snapshot is still the best record
		 * there is: the caller says what was lost. */
		r = load_journal(dirfd(d), de->d_name, &v[n]);
		if (r < 0)
			v[n].journal_error = r;
		else
			v[n].journal_skipped = r;
		n++;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

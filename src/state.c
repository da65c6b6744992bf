/* state.c - what the daemon records in its state dir so the next daemon can adopt it
 *
 * One file per network, NAME.state, rewritten whole (temp file + rename)
 * on every change, so a crash leaves either the old or the new version,
 * never half of one. It is written before a reply leaves the daemon: a
 * port a client was told about is always on record.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"
#include "util.h"

#define STATE_MAX_BYTES (4 << 20)

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

static int parse_lease(json_t *o, struct state_lease *l)
{
	char kind[16];
	long long v;
	int r;

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
	if (get_str(o, "label", l->label, sizeof(l->label)) < 0 || !label_is_valid(l->label))
		return -EINVAL;
	return 0;
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
	    get_str(o, "subnet", subnet, sizeof(subnet)) < 0 ||
	    prefix4_parse(subnet, &n->subnet) < 0 || n->subnet.len < CONFIG_MASK_MIN ||
	    n->subnet.len > CONFIG_MASK_MAX ||
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

	leases = json_object_get(o, "leases");
	if (!json_is_array(leases))
		return -EINVAL;
	n->leases = calloc(json_array_size(leases) + 1, sizeof(*n->leases));
	if (!n->leases)
		return -ENOMEM;
	json_array_foreach(leases, i, v) {
		if (!json_is_object(v) || parse_lease(v, &n->leases[n->n_leases]) < 0)
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

void state_network_clear(struct state_network *n)
{
	free(n->leases);
	n->leases = NULL;
	n->n_leases = 0;
}

static char *state_path(const char *dir, const char *name, const char *suffix)
{
	char *p;

	return asprintf(&p, "%s/%s.state%s", dir, name, suffix) < 0 ? NULL : p;
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

void state_forget(const char *dir, const char *name)
{
	_cleanup_free_ char *path = state_path(dir, name, "");

	if (path)
		(void)unlink(path);
}

static int read_file(int dirfd, const char *name, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	ssize_t n;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size > STATE_MAX_BYTES)
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

		if (len <= 6 || !streq(de->d_name + len - 6, ".state"))
			continue;
		if (read_file(dirfd(d), de->d_name, &text, &tlen) < 0)
			continue;
		g = realloc(v, (n + 1) * sizeof(*v));
		if (!g)
			break;
		v = g;
		if (state_parse(text, tlen, &v[n]) == 0)
			n++;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

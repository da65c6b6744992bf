/* sysctl.c - the daemon namespace's sysctls: forwarding, and per-link IPv6 settings */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sysctl.h"
#include "util.h"

static int write_file(const char *path, const char *value)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(value);
	ssize_t w;

	if (fd < 0)
		return -errno;
	w = write(fd, value, len);
	if (w < 0)
		return -errno;
	return w == (ssize_t)len ? 0 : -EIO;
}

int sysctl_write(const char *path, const char *value)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "/proc/sys/%s", path);
	return write_file(p, value);
}

int sysctl_read_uint(const char *path, unsigned int *ret)
{
	char p[PATH_MAX], v[24] = "";
	_cleanup_close_ int fd = -EBADF;
	unsigned int u;
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/sys/%s", path);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, v, sizeof(v) - 1);
	if (n < 0)
		return -errno;
	if (sscanf(v, "%u", &u) != 1)
		return -EINVAL;
	*ret = u;
	return 0;
}

int sysctl_write_ipv4_link(const char *ifname, const char *key, const char *value)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "/proc/sys/net/ipv4/conf/%s/%s", ifname, key);
	return write_file(p, value);
}

int sysctl_write_ipv6_link(const char *ifname, const char *key, const char *value)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "/proc/sys/net/ipv6/conf/%s/%s", ifname, key);
	return write_file(p, value);
}

void sysctl_keep_router_advertisements(void (*changed)(const char *ifname))
{
	_cleanup_(closedirp) DIR *d = opendir("/proc/sys/net/ipv6/conf");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[PATH_MAX], v[4] = "";
		_cleanup_close_ int fd = -EBADF;

		if (de->d_name[0] == '.' || streq(de->d_name, "all") || streq(de->d_name, "lo"))
			continue;
		snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/accept_ra", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || read(fd, v, sizeof(v) - 1) <= 0 || v[0] != '1')
			continue;
		if (write_file(path, "2") == 0 && changed)
			changed(de->d_name);
	}
}

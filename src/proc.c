/* proc.c - processes: starting one, and what /proc says about one
 *
 * proc_spawn() starts dnsmasq (dhcp.c), the iptables programs
 * (command.c) and vtysh (vtysh.c) with the same clean signal state. dhcp.c watches processes that are not (or no longer) its children:
 * the dnsmasq an earlier daemon left, and its own dnsmasq's readiness for
 * SIGHUP. Each answer is one small read; none is cached, since the
 * process may change between two questions.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"

ssize_t proc_read_file(const char *path, int flags, char *buf, size_t size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* /proc/@pid/@what into @buf, as proc_read_file(). */
static ssize_t read_pid_file(pid_t pid, const char *what, char *buf, size_t size)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	return proc_read_file(path, 0, buf, size);
}

bool proc_cmdline_has(pid_t pid, const char *arg)
{
	char buf[8192];
	ssize_t n = read_pid_file(pid, "cmdline", buf, sizeof(buf));

	if (n <= 0)
		return false;
	for (char *a = buf; a < buf + n; a += strlen(a) + 1)
		if (streq(a, arg))
			return true;
	return false;
}

bool proc_exited(pid_t pid)
{
	char buf[256], *p;

	if (read_pid_file(pid, "stat", buf, sizeof(buf)) <= 0)
		return true;
	/* "PID (COMM) STATE ...": COMM may hold spaces and parentheses. */
	p = strrchr(buf, ')');
	return !p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X';
}

bool proc_catches_signal(pid_t pid, int sig)
{
	_cleanup_free_ char *line = NULL;
	char path[64];
	size_t cap = 0;
	bool caught = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (getline(&line, &cap, f) > 0) {
		unsigned long long mask;

		if (sscanf(line, "SigCgt: %llx", &mask) == 1) {
			caught = mask & (1ULL << (sig - 1));
			break;
		}
	}
	fclose(f);
	return caught;
}

int proc_netlink_groups(int protocol, unsigned int portid, unsigned int *ret_groups)
{
	char line[256];
	int r = -ENOENT;
	FILE *f;

	f = fopen("/proc/net/netlink", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long sk;
		int proto;
		unsigned int id, groups; /* port ids go past INT_MAX */

		if (sscanf(line, "%llx %d %u %x", &sk, &proto, &id, &groups) != 4 ||
		    proto != protocol || id != portid)
			continue;
		*ret_groups = groups;
		r = 0;
		break;
	}
	fclose(f);
	return r;
}

int proc_spawn(char *const argv[], char *const envp[], const int fds[3], bool new_session, pid_t *ret)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int r, i;

	/* The daemon blocks SIGCHLD/SIGTERM/... for sd-event; posix_spawn would
	 * pass that mask on, and a dnsmasq with SIGHUP blocked never rereads. */
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
						(new_session ? POSIX_SPAWN_SETSID : 0));
	posix_spawn_file_actions_init(&fa);
	for (i = 0; i < 3; i++)
		if (fds && fds[i] >= 0)
			posix_spawn_file_actions_adddup2(&fa, fds[i], i);
		else if (i == STDIN_FILENO)
			posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	r = -posix_spawn(ret, argv[0], &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return r;
}

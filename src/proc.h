/* proc.h - processes: starting one, and what /proc says about one (command line, state, signals, sockets) */
#ifndef VMNET_PROC_H
#define VMNET_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/**
 * proc_read_file() - the start of @path, NUL-terminated, into @buf
 * @flags:	added to O_RDONLY | O_CLOEXEC (O_NOFOLLOW, say)
 * Return: the bytes read, or 0 or negative errno.
 */
ssize_t proc_read_file(const char *path, int flags, char *buf, size_t size);

/**
 * proc_spawn() - start @argv[0] with @argv and @envp, as the daemon's child
 * @fds:	stdin, stdout and stderr for the child; where NULL or negative:
 *		stdin /dev/null, stdout and stderr the daemon's
 * @new_session: in a session of its own (setsid)
 *
 * The child starts with no signal blocked and every handler at its
 * default, whatever the daemon blocks for sd-event.
 * Return: 0 with the pid in *@ret, or negative errno.
 */
int proc_spawn(char *const argv[], char *const envp[], const int fds[3], bool new_session, pid_t *ret);
/* Whether /proc/@pid/cmdline has the argument @arg. */
bool proc_cmdline_has(pid_t pid, const char *arg);
/*
 * Whether @pid is gone or a zombie. Not "its cmdline is empty": the
 * kernel drops a dying process's memory before its files, so its sockets
 * may still be bound for a moment after that.
 */
bool proc_exited(pid_t pid);
/* Whether @pid has a handler for @sig (SigCgt in /proc/PID/status). */
bool proc_catches_signal(pid_t pid, int sig);
/**
 * proc_netlink_groups() - the multicast groups of a netlink socket of this namespace
 * @protocol:	NETLINK_ROUTE, say
 * @portid:	the socket's port id (a process's first socket: its pid)
 * Return: 0 with *@ret_groups set, -ENOENT when no such socket, or negative errno.
 */
int proc_netlink_groups(int protocol, unsigned int portid, unsigned int *ret_groups);

#endif

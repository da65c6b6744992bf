/* vtysh.c - FRR's vtysh as a child of the event loop: commands in, its output out
 *
 * A vtysh call takes 25-50 ms (it connects to each daemon's vty socket
 * and waits for the answers), too long for the loop that serves every
 * acquire. So vtysh runs as a child: its output comes through a pipe
 * watched by sd-event, and its exit through a child source, like dnsmasq
 * (dhcp.c). vtysh takes the commands as arguments (-c); nothing is
 * written to FRR's files: its history would go to $HOME/.history_frr
 * (the daemon's is root's), hence -H /dev/null.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "util.h"
#include "vtysh.h"

#define ARGS_FIXED 8 /* vtysh -H /dev/null --vty_socket DIR -d DAEMON NULL */

struct vtysh_job {
	pid_t pid; /* 0 once reaped */
	int out_fd;
	sd_event_source *io;
	sd_event_source *child;
	sd_event_source *timer;
	char *buf;
	size_t len, cap;
	bool eof;
	bool exited;
	int status;
	vtysh_done_fn done;
	void *userdata;
};

/* A plain environment: no pager, no locale surprises in what we parse. */
static char *const vtysh_env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };

static void drop_sources(struct vtysh_job *j)
{
	j->io = sd_event_source_disable_unref(j->io);
	j->child = sd_event_source_disable_unref(j->child);
	j->timer = sd_event_source_disable_unref(j->timer);
}

struct vtysh_job *vtysh_job_free(struct vtysh_job *j)
{
	if (!j)
		return NULL;
	/* The child source goes first, so sd-event does not reap behind us. */
	drop_sources(j);
	if (j->pid > 0) {
		(void)kill(j->pid, SIGKILL);
		(void)waitpid(j->pid, NULL, 0);
	}
	safe_close(j->out_fd);
	free(j->buf);
	free(j);
	return NULL;
}

static void vtysh_job_freep(struct vtysh_job **j)
{
	vtysh_job_free(*j);
}

/* Both ends are in: tell the caller, then go. */
static void maybe_finish(struct vtysh_job *j)
{
	if (!j->eof || !j->exited)
		return;
	j->done(j->status, j->buf ? j->buf : "", j->len, j->userdata);
	vtysh_job_free(j);
}

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct vtysh_job *j = userdata;
	char chunk[16384];
	ssize_t n;

	n = read(fd, chunk, sizeof(chunk));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		j->eof = true;
		j->io = sd_event_source_disable_unref(j->io);
		maybe_finish(j);
		return 0;
	}
	/* Past the limit the rest is read and dropped: vtysh must not block. */
	if (j->len + (size_t)n + 1 > j->cap && j->len + (size_t)n < VTYSH_OUTPUT_MAX) {
		size_t cap = (j->len + (size_t)n + 1) * 2;
		char *b = realloc(j->buf, cap);

		if (!b)
			return 0;
		j->buf = b;
		j->cap = cap;
	}
	if (j->len + (size_t)n + 1 <= j->cap) {
		memcpy(j->buf + j->len, chunk, (size_t)n);
		j->len += (size_t)n;
		j->buf[j->len] = '\0';
	}
	return 0;
}

static int on_child_exit(sd_event_source *s, const siginfo_t *si, void *userdata)
{
	struct vtysh_job *j = userdata;

	j->child = sd_event_source_disable_unref(j->child);
	j->pid = 0;
	j->exited = true;
	j->timer = sd_event_source_disable_unref(j->timer);
	if (j->status == 0) /* not -ETIMEDOUT already */
		j->status = si->si_code == CLD_EXITED ? si->si_status : -EINTR;
	maybe_finish(j);
	return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct vtysh_job *j = userdata;

	j->timer = sd_event_source_disable_unref(j->timer);
	j->status = -ETIMEDOUT;
	if (j->pid > 0)
		(void)kill(j->pid, SIGKILL);
	return 0;
}

/* vtysh with its output (both streams) into @out, in a session of its own. */
static int spawn(struct vtysh_job *j, char **argv, int out)
{
	return proc_spawn(argv, vtysh_env, (const int[3]){ -EBADF, out, out }, true, &j->pid);
}

/* vtysh's argument vector; the strings are @c's. */
static const char **build_argv(const struct vtysh_call *c)
{
	const char **argv = calloc(ARGS_FIXED + 2 * c->n_commands, sizeof(char *));
	size_t n = 0;

	if (!argv)
		return NULL;
	argv[n++] = VTYSH_PATH;
	argv[n++] = "-H";
	argv[n++] = "/dev/null";
	if (c->vty_dir) {
		argv[n++] = "--vty_socket";
		argv[n++] = c->vty_dir;
	}
	if (c->daemon) {
		argv[n++] = "-d";
		argv[n++] = c->daemon;
	}
	for (size_t i = 0; i < c->n_commands; i++) {
		argv[n++] = "-c";
		argv[n++] = c->commands[i];
	}
	return argv;
}

static int watch(struct vtysh_job *j, sd_event *event)
{
	int r;

	r = sd_event_add_io(event, &j->io, j->out_fd, EPOLLIN, on_output, j);
	if (r >= 0)
		r = sd_event_add_child(event, &j->child, j->pid, WEXITED, on_child_exit, j);
	if (r >= 0)
		r = sd_event_add_time_relative(event, &j->timer, CLOCK_MONOTONIC,
					       VTYSH_TIMEOUT_USEC, 0, on_timeout, j);
	return r;
}

int vtysh_start(sd_event *event, const struct vtysh_call *c, vtysh_done_fn done, void *userdata,
		struct vtysh_job **ret)
{
	_cleanup_(vtysh_job_freep) struct vtysh_job *j = NULL;
	_cleanup_free_ const char **argv = NULL;
	_cleanup_close_ int wr = -EBADF;
	int p[2], r;

	j = calloc(1, sizeof(*j));
	argv = build_argv(c);
	if (!j || !argv)
		return -ENOMEM;
	j->out_fd = -EBADF;
	j->done = done;
	j->userdata = userdata;
	/* Only our end is non-blocking: vtysh's writes must wait, not fail. */
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	j->out_fd = p[0];
	wr = p[1];
	if (fcntl(j->out_fd, F_SETFL, O_NONBLOCK) < 0)
		return -errno;
	/* posix_spawn() takes char *const[]; vtysh never writes to them. */
	r = spawn(j, (char **)argv, wr);
	if (r < 0)
		return log_debug_errno(r, "Failed to run " VTYSH_PATH ": %m");
	r = watch(j, event);
	if (r < 0)
		return r; /* vtysh_job_free() kills and reaps it */
	*ret = TAKE_PTR(j);
	return 0;
}

/* command.c - run a program with some input and collect its output, on the event loop or in place
 *
 * The daemon runs iptables this way (iptables.c). The program's stdin,
 * stdout and stderr are memfds, not pipes: the input is written before
 * the program starts and the output is read after it ended, so nothing
 * can fill up and block either side, and the event loop only waits for
 * the child to exit (an sd-event child source). A program that hangs is
 * killed after COMMAND_TIMEOUT_MS.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "command.h"
#include "proc.h"
#include "util.h"

#define COMMAND_TIMEOUT_MS 10000

struct command {
	sd_event_source *child;
	sd_event_source *timer;
	pid_t pid;
	int out_fd;
	int err_fd;
	command_done_fn done;
	void *userdata;
};

/* Where system tools live, in the order a root shell's PATH has them. */
static const char *const tool_dirs[] = { "/usr/sbin", "/usr/bin", "/sbin", "/bin" };

int command_find(const char *name, char *buf, size_t size)
{
	for (size_t i = 0; i < ELEMENTSOF(tool_dirs); i++) {
		int n = snprintf(buf, size, "%s/%s", tool_dirs[i], name);

		if (n > 0 && (size_t)n < size && access(buf, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

void command_result_clear(struct command_result *r)
{
	r->out = mfree(r->out);
	r->err = mfree(r->err);
}

/* A memfd holding @data (or empty), at offset 0. Return: the fd or negative errno. */
static int memfd_with(const char *name, const char *data)
{
	_cleanup_close_ int fd = memfd_create(name, MFD_CLOEXEC);
	size_t len = data ? strlen(data) : 0, done = 0;

	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	return TAKE_FD(fd);
}

/* Everything in memfd @fd, NUL-terminated and malloc'ed; "" when it cannot be read. */
static char *memfd_read(int fd)
{
	struct stat st;
	char *buf;
	ssize_t n = 0;

	if (fd < 0 || fstat(fd, &st) < 0)
		st.st_size = 0;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return NULL;
	if (st.st_size > 0)
		n = pread(fd, buf, (size_t)st.st_size, 0);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* iptables needs nothing of the daemon's environment, and the C locale keeps its words stable. */
static char *clean_env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };

/* Start @argv; its output memfds into *@ret_out, *@ret_err. */
static int start(char *const argv[], const char *input, pid_t *ret_pid, int *ret_out, int *ret_err)
{
	_cleanup_close_ int in = memfd_with("command-in", input);
	_cleanup_close_ int out = -EBADF, err = -EBADF;
	int r;

	if (in < 0)
		return in;
	out = memfd_with("command-out", NULL);
	if (out < 0)
		return out;
	err = memfd_with("command-err", NULL);
	if (err < 0)
		return err;
	r = proc_spawn(argv, clean_env, (const int[3]){ in, out, err }, false, ret_pid);
	if (r < 0)
		return r;
	*ret_out = TAKE_FD(out);
	*ret_err = TAKE_FD(err);
	return 0;
}

static void collect(struct command_result *r, pid_t pid, int out, int err, const siginfo_t *si)
{
	r->pid = pid;
	r->exit_status = si && si->si_code == CLD_EXITED ? si->si_status : -1;
	r->out = memfd_read(out);
	r->err = memfd_read(err);
}

pid_t command_pid(const struct command *c)
{
	return c->pid;
}

struct command *command_free(struct command *c)
{
	if (!c)
		return NULL;
	c->child = sd_event_source_disable_unref(c->child);
	c->timer = sd_event_source_disable_unref(c->timer);
	if (c->pid > 0) {
		(void)kill(c->pid, SIGKILL);
		(void)waitpid(c->pid, NULL, 0);
	}
	safe_close(c->out_fd);
	safe_close(c->err_fd);
	free(c);
	return NULL;
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata)
{
	struct command *c = userdata;
	struct command_result r = {};

	collect(&r, c->pid, c->out_fd, c->err_fd, si);
	c->pid = 0; /* reaped by sd-event */
	c->child = sd_event_source_disable_unref(c->child);
	c->timer = sd_event_source_disable_unref(c->timer);
	c->done(c, &r, c->userdata);
	command_result_clear(&r);
	return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct command *c = userdata;

	/* The child source reports it, killed. */
	if (c->pid > 0)
		(void)kill(c->pid, SIGKILL);
	return 0;
}

int command_start(sd_event *event, char *const argv[], const char *input, command_done_fn done,
		  void *userdata, struct command **ret)
{
	struct command *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	*c = (struct command){ .out_fd = -EBADF, .err_fd = -EBADF, .done = done, .userdata = userdata };
	r = start(argv, input, &c->pid, &c->out_fd, &c->err_fd);
	if (r >= 0)
		r = sd_event_add_child(event, &c->child, c->pid, WEXITED, on_child, c);
	if (r >= 0)
		r = sd_event_add_time_relative(event, &c->timer, CLOCK_MONOTONIC,
					       COMMAND_TIMEOUT_MS * 1000ULL, 0, on_timeout, c);
	if (r < 0) {
		command_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

int command_run(char *const argv[], const char *input, struct command_result *ret)
{
	_cleanup_close_ int out = -EBADF, err = -EBADF, pfd = -EBADF;
	siginfo_t si = {};
	pid_t pid;
	int r;

	r = start(argv, input, &pid, &out, &err);
	if (r < 0)
		return r;
	pfd = pidfd_open(pid, 0);
	if (pfd >= 0 &&
	    poll(&(struct pollfd){ .fd = pfd, .events = POLLIN }, 1, COMMAND_TIMEOUT_MS) == 0)
		(void)kill(pid, SIGKILL);
	while (waitid(P_PID, (id_t)pid, &si, WEXITED) < 0)
		if (errno != EINTR)
			return -errno;
	collect(ret, pid, out, err, &si);
	return ret->out && ret->err ? 0 : -ENOMEM;
}

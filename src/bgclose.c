/* bgclose.c - close() off the event loop, for fds whose last close is slow
 *
 * The last close() of a TAP destroys the device, and the kernel then
 * waits for RCU grace periods: 15-30 ms in which the daemon would serve
 * nobody. The daemon's copy of a TAP fd is the last one whenever the
 * client closed its copy first (a client that gives up, or one quicker
 * than our close() after sendmsg()), so these closes go to a few threads
 * that do nothing else. A few, not one: once one thread is busy
 * destroying, the fds queued behind it are the last ones too, and a burst
 * of clients would wait for their TAPs to be destroyed one after the
 * other, where the clients themselves would have done it side by side.
 * The fd numbers travel through a pipe (one int per read, so any idle
 * thread takes the next); they stay allocated until closed, so no reuse
 * race.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

#include "bgclose.h"
#include "log.h"
#include "util.h"

#define THREADS 8

/*
 * Process-wide on purpose, unlike the rest of the daemon's state: the
 * threads close fds of the process's one fd table, they start once in
 * main() after the capabilities are dropped (capabilities are per
 * thread), and every module that may hold the last reference to a TAP or
 * an inotify instance (a reply's TAP fds, port.c, dhcp.c) closes through
 * them. A handle passed down to each of those would buy nothing: a second
 * broker in the same process would share this pool as it shares the fd
 * table.
 */
static struct {
	int queue_fd; /* write end; -EBADF: close in place */
	int read_fd;
	pthread_t threads[THREADS];
	size_t n_threads;
} pool = { .queue_fd = -EBADF, .read_fd = -EBADF };

static void *closer(void *arg)
{
	int rfd = (int)(intptr_t)arg;
	int fd;
	ssize_t n;

	for (;;) {
		n = read(rfd, &fd, sizeof(fd));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != sizeof(fd))
			break; /* EOF: bgclose_stop() */
		(void)close(fd);
	}
	return NULL;
}

int bgclose_start(void)
{
	sigset_t all, old;
	int p[2], r;

	if (pool.queue_fd >= 0)
		return 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	/* Never block the loop on a full queue: close in place instead. */
	if (fcntl(p[1], F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		close(p[0]);
		close(p[1]);
		return r;
	}
	/* Signals are the event loop's business: the threads take none. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (r = 0; pool.n_threads < THREADS; pool.n_threads++) {
		r = -pthread_create(&pool.threads[pool.n_threads], NULL, closer,
				    (void *)(intptr_t)p[0]);
		if (r < 0)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pool.read_fd = p[0];
	pool.queue_fd = p[1];
	if (pool.n_threads == 0) {
		bgclose_stop();
		return r;
	}
	return 0;
}

int bgclose(int fd)
{
	if (fd < 0)
		return -EBADF;
	/* A pipe write of one int is atomic; the pipe holds 16k of them. */
	if (pool.queue_fd < 0 || write(pool.queue_fd, &fd, sizeof(fd)) != sizeof(fd))
		(void)close(fd);
	return -EBADF;
}

void bgclose_stop(void)
{
	/* EOF, once the queue is drained, ends every thread. */
	pool.queue_fd = safe_close(pool.queue_fd);
	for (; pool.n_threads > 0; pool.n_threads--)
		(void)pthread_join(pool.threads[pool.n_threads - 1], NULL);
	pool.read_fd = safe_close(pool.read_fd);
}

/* vtysh.h - FRR's vtysh as a child of the event loop: commands in, its output out */
#ifndef VMNET_VTYSH_H
#define VMNET_VTYSH_H

#include <stddef.h>
#include <systemd/sd-event.h>

#define VTYSH_PATH "/usr/bin/vtysh"
#define VTYSH_TIMEOUT_USEC (15 * 1000 * 1000ULL) /* a vtysh still running then is killed */
#define VTYSH_OUTPUT_MAX (4 * 1024 * 1024)       /* bytes kept of what it prints */

struct vtysh_job;

/*
 * @status: vtysh's exit status (0: every command was accepted; vtysh stops
 * at the first refused one), or negative errno: it could not be run, or
 * was killed (-ETIMEDOUT after VTYSH_TIMEOUT_USEC). @out: what it printed
 * on stdout and stderr, NUL-terminated, @len bytes. The job frees itself
 * after this returns; the callback must not free it.
 */
typedef void (*vtysh_done_fn)(int status, const char *out, size_t len, void *userdata);

/* One run of vtysh. */
struct vtysh_call {
	const char *vty_dir;         /* --vty_socket; NULL: FRR's own directory */
	const char *daemon;          /* -d: only this daemon; NULL: every one vtysh finds */
	const char *const *commands; /* each one -c */
	size_t n_commands;
};

/**
 * vtysh_start() - run vtysh with @c's commands, off the loop
 *
 * Its output is read through a pipe as it comes, and @done is called once
 * it has exited and its output is in. No history file is written
 * (vtysh -H /dev/null), and it runs with a plain environment.
 * Return: 0 with *@ret set, or negative errno (@done is never called).
 */
int vtysh_start(sd_event *event, const struct vtysh_call *c, vtysh_done_fn done, void *userdata,
		struct vtysh_job **ret);
/* Kill and reap a vtysh that still runs; @done is not called. NULL-safe. */
struct vtysh_job *vtysh_job_free(struct vtysh_job *j);

#endif

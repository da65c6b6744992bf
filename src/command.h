/* command.h - run a program with some input and collect its output, on the event loop or in place */
#ifndef VMNET_COMMAND_H
#define VMNET_COMMAND_H

#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

/* What a finished program left. */
struct command_result {
	pid_t pid;
	int exit_status; /* its exit code; -1 when it was killed or could not run */
	char *out;       /* stdout, NUL-terminated and malloc'ed; NULL when out of memory */
	char *err;       /* stderr, likewise */
};

void command_result_clear(struct command_result *r);

struct command;

/* Called once, when the program has exited and its output is in. @r is valid during the call. */
typedef void (*command_done_fn)(struct command *c, const struct command_result *r, void *userdata);

/**
 * command_find() - the path of program @name in the directories system tools live in
 * Return: 0 with the path in @buf, or -ENOENT.
 */
int command_find(const char *name, char *buf, size_t size);

/**
 * command_start() - run @argv[0] (a path) with @input on its stdin, on the event loop
 * @input:	written whole before the program reads it (it must fit a pipe, 64 KiB),
 *		or NULL for /dev/null
 *
 * The program gets a clean environment (PATH, LC_ALL=C) and a clean signal
 * mask. @done runs when it has exited; command_free() before that kills it.
 * Return: 0 or negative errno (@done never runs then).
 */
int command_start(sd_event *event, char *const argv[], const char *input, command_done_fn done,
		  void *userdata, struct command **ret);
/* Kill the program if it still runs (SIGKILL), reap it, forget it. NULL-safe. */
struct command *command_free(struct command *c);
/* The program's pid (0 once reaped). */
pid_t command_pid(const struct command *c);

/**
 * command_run() - the same, waiting in place for the program to end
 *
 * For where no event loop turns: the daemon's last steps before it exits.
 * Return: 0 with *@ret filled (command_result_clear() it), or negative errno.
 */
int command_run(char *const argv[], const char *input, struct command_result *ret);

#endif

/* cli.h - what the commands of vmnet-broker share: the command table's shape and error output */
#ifndef VMNET_CLI_H
#define VMNET_CLI_H

#include <stdbool.h>

#include "util.h"
#include "vmnet-broker.h"

#define PROGRAM "vmnet-broker"
#define EXIT_USAGE 2
#define VMNET_BROKER_DEFAULT_CONFIG_DIR "/etc/vmnet-broker.d" /* the daemon's --config-dir */
#define SOCKET_HELP                                                                \
	"  --socket PATH   the daemon's socket (default $" VMNET_BROKER_SOCKET_ENV \
	",\n                  else " VMNET_BROKER_DEFAULT_SOCKET ")\n"

struct globals {
	const char *socket; /* NULL: $VMNET_BROKER_SOCKET, else the default */
};

struct command {
	const char *name;
	const char *args;    /* synopsis after the name */
	const char *summary; /* one line for the program's --help */
	const char *help;    /* the command's options, for its --help */
	const char *notes;   /* more text after them, or NULL */
	int (*run)(const struct command *c, struct globals *g, int argc, char **argv);
};

/**
 * usage_error() - say what is wrong with the command line, and where the help is
 * @c:		the command, or NULL before one was named
 *
 * Return: EXIT_USAGE.
 */
_printf_(2, 3) int usage_error(const struct command *c, const char *fmt, ...);

/**
 * broker_error() - print @status's name and the library's message for it
 *
 * Return: EXIT_FAILURE.
 */
int broker_error(vmnet_broker_return_t status);

/**
 * common_option() - handle the options every command takes: --help and --socket
 * @done:	set to the exit status when the command is over
 *
 * Return: -1 when @opt was one of them and handled, else @opt.
 */
int common_option(struct globals *g, const struct command *c, int opt, int *done);

/**
 * add_forward() - "tcp:2222:22" (PROTOCOL:HOST_PORT:GUEST_PORT) onto @o's port_forwards
 * Return: VMNET_BROKER_SUCCESS, or VMNET_BROKER_INVALID_REQUEST with the library's message.
 */
vmnet_broker_return_t add_forward(struct vmnet_broker_options *o, const char *spec);

/* `run`, in run.c. Return: the exit status; on success it does not return. */
int cmd_run(const struct command *c, struct globals *g, int argc, char **argv);

#endif

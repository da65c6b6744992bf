/* cli.h - what the commands of vmnet-broker share: the command table's shape and error output */
#ifndef VMNET_CLI_H
#define VMNET_CLI_H

#include <stdbool.h>

#include <jansson.h>

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

/**
 * parse_forward() - "tcp:2222:22" (PROTOCOL:HOST_PORT:GUEST_PORT), or with
 * @host_port_only "tcp:2222", into @ret (its protocol points into @spec's copy @buf)
 * Return: 0, or -1 when it is not one.
 */
int parse_forward(const char *spec, bool host_port_only, char buf[8], struct vmnet_broker_forward *ret);

/* `run`, in run.c. Return: the exit status; on success it does not return. */
int cmd_run(const struct command *c, struct globals *g, int argc, char **argv);
/* `release`, `forward` and `stop`, in manage.c. Return: the exit status. */
int cmd_release(const struct command *c, struct globals *g, int argc, char **argv);
int cmd_forward(const struct command *c, struct globals *g, int argc, char **argv);
int cmd_stop(const struct command *c, struct globals *g, int argc, char **argv);

/* ---- fields.c */

/* Print @text, a reply, as indented JSON. Return: EXIT_SUCCESS. */
int print_json(const char *text);
/* A string member of @obj, or "-" where the daemon gave none. */
const char *str_or_dash(json_t *obj, const char *key);

/* ---- print.c */

/* A `status` reply as tables: networks, and their leases with their forwards. */
void print_status(json_t *root);
/* status' "host": what the daemon found of the host's firewalls and did (print-host.c). */
void print_host(json_t *host);
/* A `networks` reply as a table, with each file's errors. */
void print_networks(json_t *root);
/* The "name" of each of a reply's "networks", one a line (--names). */
void print_names(json_t *root);
/* Each of @lease's port_forwards on a line of its own, after @indent. */
void print_forwards(json_t *lease, const char *indent);
/* "tcp 2222 -> 192.168.64.3:22, [fd..:..]:22" of one forward, into @buf. Return: @buf. */
const char *forward_text(json_t *forward, char *buf, size_t size);
/* "lease 7: uid 1000 pid 42 label 'vm1': tap vmtap3 mac ... address ...", into @buf. */
const char *lease_text(json_t *lease, char *buf, size_t size);
/* `doctor`, in doctor.c. Return: the exit status, 1 when a check failed. */
int cmd_doctor(const struct command *c, struct globals *g, int argc, char **argv);

#endif

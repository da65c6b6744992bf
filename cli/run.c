/* run.c - `vmnet-broker run`: pass TAP ports to a command as fds 3, 4, ... and exec it */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util.h"
#include "vmnet-broker.h"

#define RUN_FD_FIRST 3 /* where the first TAP fd goes */

/* `run`: what one --network asks for, and then what it got. */
struct run_network {
	char *spec; /* the --network argument, split in place */
	const char *name;
	struct vmnet_broker_options *opts;
	bool has_label;
	struct vmnet_broker_network *net;
};

struct run_args {
	struct run_network *networks;
	size_t n_networks;
	bool verbose;
};

static void run_args_done(struct run_args *a)
{
	for (size_t i = 0; i < a->n_networks; i++) {
		vmnet_broker_network_release(a->networks[i].net);
		vmnet_broker_options_free(a->networks[i].opts);
		free(a->networks[i].spec);
	}
	free(a->networks);
	*a = (struct run_args){ 0 };
}

/*
 * Cut the next item off *@cursor, at a comma; ",," stands for a comma in
 * the item, as in QEMU's option syntax. Return: the item, or NULL at the end.
 */
static char *next_item(char **cursor)
{
	char *start = *cursor, *r, *w;

	if (!start)
		return NULL;
	for (r = w = start; *r; r++) {
		if (*r == ',' && r[1] == ',') {
			*w++ = *r++;
			continue;
		}
		if (*r == ',') {
			*w = '\0';
			*cursor = r + 1;
			return start;
		}
		*w++ = *r;
	}
	*w = '\0';
	*cursor = NULL;
	return start;
}

static int out_of_memory(void)
{
	fputs(PROGRAM ": run: out of memory\n", stderr);
	return EXIT_FAILURE;
}

static int parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };

	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		if (streq(s, yes[i]) || streq(s, no[i])) {
			*ret = streq(s, yes[i]);
			return 0;
		}
	}
	return -EINVAL;
}

/* One key=value of a --network; Return: 0, or EXIT_USAGE after saying why. */
static int run_network_key(const struct command *c, struct run_network *rn, char *item)
{
	char *value = strchr(item, '=');
	vmnet_broker_return_t s;
	bool on;

	if (!value)
		return usage_error(c, "--network %s: '%s' is not KEY=VALUE", rn->name, item);
	*value++ = '\0';
	if (streq(item, "mac")) {
		s = vmnet_broker_options_set_mac(rn->opts, value);
	} else if (streq(item, "label")) {
		rn->has_label = true;
		s = vmnet_broker_options_set_label(rn->opts, value);
	} else if (streq(item, "vnet_hdr")) {
		if (parse_bool(value, &on) < 0)
			return usage_error(c, "--network %s: vnet_hdr is on or off, not '%s'",
					   rn->name, value);
		s = vmnet_broker_options_set_vnet_hdr(rn->opts, on);
	} else if (streq(item, "queues")) {
		char *end;
		unsigned long n;

		errno = 0;
		n = strtoul(value, &end, 10);
		if (errno || end == value || *end || *value == '-' || n > UINT_MAX)
			return usage_error(c, "--network %s: queues is a number, not '%s'",
					   rn->name, value);
		s = vmnet_broker_options_set_multi_queue(rn->opts, (unsigned int)n);
	} else if (streq(item, "forward")) {
		s = add_forward(rn->opts, value);
	} else {
		return usage_error(c,
				   "--network %s: unknown key '%s' (want mac, label, "
				   "vnet_hdr, queues or forward)",
				   rn->name, item);
	}
	if (s != VMNET_BROKER_SUCCESS)
		return usage_error(c, "--network %s: invalid %s: %s", rn->name, item,
				   vmnet_broker_last_error_message());
	return 0;
}

/* Add the network of "NAME[,KEY=VALUE]..." to @a; Return: 0, or the exit status after saying so. */
static int run_network_add(const struct command *c, struct run_args *a, const char *spec)
{
	struct run_network *rn, *more;
	char *cursor, *item;
	int r;

	more = realloc(a->networks, (a->n_networks + 1) * sizeof(*more));
	if (!more)
		return out_of_memory();
	a->networks = more;
	rn = &a->networks[a->n_networks];
	*rn = (struct run_network){ .spec = strdup(spec), .opts = vmnet_broker_options_new() };
	a->n_networks++; /* counted at once, so run_args_done() frees it whatever happens */
	if (!rn->spec || !rn->opts)
		return out_of_memory();

	cursor = rn->spec;
	rn->name = next_item(&cursor);
	if (!*rn->name)
		return usage_error(c, "--network '%s' has no network name", spec);
	while ((item = next_item(&cursor))) {
		r = run_network_key(c, rn, item);
		if (r != 0)
			return r;
	}
	return 0;
}

/* Return: -1 to go on, with the command at argv[optind], or the exit status. */
static int run_parse(const struct command *c, struct globals *g, int argc, char **argv,
		     struct run_args *a)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "network", required_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "socket", required_argument, NULL, 'S' },
		{},
	};
	int opt, r, done = -1;

	/* "+": the options end at CMD (or "--"); CMD's own are not ours. */
	while (done < 0 && (opt = getopt_long(argc, argv, "+hn:v", options, NULL)) >= 0) {
		opt = common_option(g, c, opt, &done);
		if (opt == 'v')
			a->verbose = true;
		if (opt == 'n' && (r = run_network_add(c, a, optarg)) != 0)
			done = r;
	}
	if (done >= 0)
		return done;
	if (a->n_networks == 0)
		return usage_error(c, "no --network given");
	if (optind >= argc)
		return usage_error(c, "missing the command to run after '--'");
	return -1;
}

/* Acquire every network of @a, in order; Return: 0, or the exit status after saying why. */
static int run_acquire(struct globals *g, struct run_args *a, const char *cmd, size_t *ret_n_fds)
{
	const char *base = strrchr(cmd, '/') ? strrchr(cmd, '/') + 1 : cmd;
	char label[64];
	size_t n_fds = 0;

	/* Unless told otherwise, the lease names what it runs: "run qemu-system-x86_64". */
	snprintf(label, sizeof(label), "run %s", base);
	for (size_t i = 0; i < a->n_networks; i++) {
		struct run_network *rn = &a->networks[i];
		vmnet_broker_return_t s;

		if (g->socket) {
			s = vmnet_broker_options_set_socket(rn->opts, g->socket);
			if (s != VMNET_BROKER_SUCCESS)
				return broker_error(s);
		}
		/* Where it fails (a label too odd for the protocol), there is just no label. */
		if (!rn->has_label)
			(void)vmnet_broker_options_set_label(rn->opts, label);
		rn->net = vmnet_broker_acquire_network_with_options(rn->name, rn->opts, &s);
		if (!rn->net)
			return broker_error(s);
		n_fds += vmnet_broker_network_fd_count(rn->net);
	}
	*ret_n_fds = n_fds;
	return 0;
}

/* Append @item to the comma-separated list in *@list; Return: 0 or -ENOMEM. */
static int list_append(char **list, const char *item)
{
	char *more;

	if (asprintf(&more, "%s%s%s", *list ? *list : "", *list ? "," : "", item ? item : "") < 0)
		return -ENOMEM;
	free(*list);
	*list = more;
	return 0;
}

/* VMNET_BROKER_FDS, _MACS and _ADDRESSES for what @a got; Return: 0 or -ENOMEM. */
static int run_environment(const struct run_args *a, size_t n_fds)
{
	_cleanup_free_ char *fds = NULL, *macs = NULL, *addresses = NULL;
	char number[16];

	for (size_t i = 0; i < n_fds; i++) {
		snprintf(number, sizeof(number), "%zu", RUN_FD_FIRST + i);
		if (list_append(&fds, number) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < a->n_networks; i++)
		if (list_append(&macs, vmnet_broker_network_port_mac(a->networks[i].net)) < 0 ||
		    list_append(&addresses, vmnet_broker_network_port_address(a->networks[i].net)) < 0)
			return -ENOMEM;
	/* Empty lists when nothing came: netns ports carry no fds. */
	if (setenv("VMNET_BROKER_FDS", fds ? fds : "", 1) < 0 ||
	    setenv("VMNET_BROKER_MACS", macs ? macs : "", 1) < 0 ||
	    setenv("VMNET_BROKER_ADDRESSES", addresses ? addresses : "", 1) < 0)
		return -errno;
	return 0;
}

/*
 * Take every TAP fd out of the handles and renumber them RUN_FD_FIRST,
 * RUN_FD_FIRST + 1, ... in order, without FD_CLOEXEC, so they survive exec.
 * Releasing the handles closes their connections: for `tap` that ends
 * nothing, as a TAP's lease lives as long as its fd. Return: 0 or -errno.
 */
static int run_place_fds(struct run_args *a, size_t n_fds)
{
	_cleanup_free_ int *fds = calloc(n_fds ? n_fds : 1, sizeof(int));
	int target_end = RUN_FD_FIRST + (int)n_fds;
	size_t k = 0;
	int r = 0;

	if (!fds)
		return -ENOMEM;
	for (size_t i = 0; i < a->n_networks; i++) {
		struct run_network *rn = &a->networks[i];

		for (size_t q = 0; q < vmnet_broker_network_fd_count(rn->net); q++)
			fds[k++] = vmnet_broker_network_take_fd(rn->net, q);
		vmnet_broker_network_release(TAKE_PTR(rn->net));
	}
	/*
	 * The fds we hold may already sit where others must go (a TAP received
	 * as fd 4 while the first one is to become 4): first move them all above
	 * the target range, then dup2() each into place. dup2() gives the new
	 * fd no FD_CLOEXEC, which is what passes it on through exec.
	 */
	for (k = 0; k < n_fds; k++) {
		int moved = fcntl(fds[k], F_DUPFD_CLOEXEC, target_end);

		if (moved < 0) {
			r = -errno;
			break;
		}
		safe_close(fds[k]);
		fds[k] = moved;
	}
	for (size_t i = 0; r == 0 && i < n_fds; i++)
		if (dup2(fds[i], RUN_FD_FIRST + (int)i) < 0)
			r = -errno;
	for (k = 0; k < n_fds; k++)
		safe_close(fds[k]);
	return r;
}

static void run_report(const struct run_args *a)
{
	int fd = RUN_FD_FIRST;

	for (size_t i = 0; i < a->n_networks; i++) {
		const struct vmnet_broker_network *net = a->networks[i].net;
		size_t n = vmnet_broker_network_fd_count(net);
		const char *address = vmnet_broker_network_port_address(net);

		fprintf(stderr, PROGRAM ": fd %d%s", fd, n > 1 ? "-" : "");
		if (n > 1)
			fprintf(stderr, "%d", fd + (int)n - 1);
		fprintf(stderr, ": network %s port %s mac %s address %s\n", a->networks[i].name,
			vmnet_broker_network_port_ifname(net) ?: "-",
			vmnet_broker_network_port_mac(net) ?: "-", address ? address : "-");
		fd += (int)n;
	}
}

int cmd_run(const struct command *c, struct globals *g, int argc, char **argv)
{
	_cleanup_(run_args_done) struct run_args a = { 0 };
	size_t n_fds = 0;
	int r;

	r = run_parse(c, g, argc, argv, &a);
	if (r >= 0)
		return r;
	r = run_acquire(g, &a, argv[optind], &n_fds);
	if (r != 0)
		return r;
	if (a.verbose)
		run_report(&a);
	r = run_environment(&a, n_fds);
	if (r == 0)
		r = run_place_fds(&a, n_fds);
	if (r < 0) {
		errno = -r;
		fprintf(stderr, PROGRAM ": run: failed to pass the TAP fds on: %m\n");
		return EXIT_FAILURE;
	}
	fflush(stdout);
	execvp(argv[optind], argv + optind);
	r = errno;
	fprintf(stderr, PROGRAM ": run: cannot run '%s': %m\n", argv[optind]);
	/* As env(1) and the shells: 127 when CMD is not there, 126 when it cannot run. */
	return r == ENOENT ? 127 : 126;
}

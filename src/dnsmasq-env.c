/* dnsmasq-env.c - the environment dnsmasq starts with: the daemon's, with dnsmasq-preload.so
 *
 * Each dnsmasq gets dnsmasq-preload.so (see dnsmasq-preload.c), so that
 * its rtnetlink socket joins no multicast groups and the address and
 * route events of the namespace do not wake every network's dnsmasq. The
 * library is preloaded into a process that starts as root: only a copy
 * that root owns and nobody else may write is used.
 */
#include <errno.h>
#include <limits.h>
#include <linux/netlink.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dnsmasq-env.h"
#include "log.h"
#include "proc.h"
#include "util.h"

#define PRELOAD_NAME "dnsmasq-preload.so"
#define LD_PRELOAD_EQ "LD_PRELOAD="

extern char **environ;

struct dnsmasq_env {
	bool made;             /* dnsmasq_env_get() has looked for the library */
	bool checked;          /* dnsmasq_env_check() has looked at a dnsmasq */
	char **env;            /* environ with our LD_PRELOAD; NULL: environ as it is */
	char *ld_preload;      /* env's LD_PRELOAD= entry, the one string env owns */
	char beside[PATH_MAX]; /* the library beside the daemon's executable */
};

int dnsmasq_env_new(struct dnsmasq_env **ret)
{
	struct dnsmasq_env *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	*ret = e;
	return 0;
}

struct dnsmasq_env *dnsmasq_env_free(struct dnsmasq_env *e)
{
	if (!e)
		return NULL;
	free(e->ld_preload);
	free(e->env);
	free(e);
	return NULL;
}

/* A library to preload into a process running as root: root's, and
 * writable by nobody else. */
static bool trusted_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 &&
	       !(st.st_mode & (S_IWGRP | S_IWOTH));
}

/*
 * Where dnsmasq-preload.so is: beside the daemon's own executable when it
 * runs from the build tree, else where it is installed. NULL if neither:
 * dnsmasq then works as well, only woken by every address and route event
 * in the namespace (dnsmasq-preload.c).
 */
static const char *find_preload(struct dnsmasq_env *e)
{
	ssize_t n = readlink("/proc/self/exe", e->beside, sizeof(e->beside));
	char *slash = NULL;

	if (n > 0 && (size_t)n < sizeof(e->beside) - sizeof(PRELOAD_NAME)) {
		e->beside[n] = 0;
		slash = strrchr(e->beside, '/');
	}
	if (slash) {
		strcpy(slash + 1, PRELOAD_NAME);
		if (trusted_file(e->beside))
			return e->beside;
	}
	if (trusted_file(DNSMASQ_PRELOAD))
		return DNSMASQ_PRELOAD;
	log_warning("No %s beside the daemon or at %s that only root can write: each dnsmasq "
		    "will wake for every address and route change",
		    PRELOAD_NAME, DNSMASQ_PRELOAD);
	return NULL;
}

/* environ, with LD_PRELOAD= @lib appended to what it preloads. */
static int make_env(struct dnsmasq_env *e, const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	_cleanup_free_ char **env = NULL;
	size_t n = 0, k = 0;

	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(char *));
	if (!env)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], LD_PRELOAD_EQ, strlen(LD_PRELOAD_EQ)) != 0)
			env[k++] = environ[i];
	if (asprintf(&e->ld_preload, LD_PRELOAD_EQ "%s%s%s", old && *old ? old : "",
		     old && *old ? ":" : "", lib) < 0) {
		e->ld_preload = NULL;
		return -ENOMEM;
	}
	env[k] = e->ld_preload;
	e->env = TAKE_PTR(env);
	return 0;
}

char **dnsmasq_env_get(struct dnsmasq_env *e)
{
	const char *lib;

	if (e->made)
		return e->env ? e->env : environ;
	e->made = true;
	lib = find_preload(e);
	if (lib && make_env(e, lib) < 0)
		log_warning("Out of memory: dnsmasq starts without %s", lib);
	return e->env ? e->env : environ;
}

/*
 * A loader that ignores LD_PRELOAD (a security module's exec transition,
 * say) would leave dnsmasq in rtnetlink's groups without a word. Its
 * socket is the rtnetlink one whose port id is its pid (autobind's first
 * choice), in our own namespace's /proc/net/netlink.
 */
void dnsmasq_env_check(struct dnsmasq_env *e, pid_t pid)
{
	unsigned int groups;

	if (e->checked || !e->env)
		return;
	e->checked = true;
	if (proc_netlink_groups(NETLINK_ROUTE, (unsigned int)pid, &groups) == 0 && groups)
		log_warning("dnsmasq %d ignored %s (rtnetlink groups %#x): each dnsmasq "
			    "will wake for every address and route change",
			    (int)pid, PRELOAD_NAME, groups);
}

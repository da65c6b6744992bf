/* dnsmasq-env.h - how dnsmasq starts: its environment (with dnsmasq-preload.so), its
 * account, and the private directory of its files */
#ifndef VMNET_DNSMASQ_ENV_H
#define VMNET_DNSMASQ_ENV_H

#include <sys/types.h>

struct dnsmasq_env;

/* Return: 0 or -ENOMEM. Nothing is looked up until the first dnsmasq_env_get(). */
int dnsmasq_env_new(struct dnsmasq_env **ret);
struct dnsmasq_env *dnsmasq_env_free(struct dnsmasq_env *e);

/**
 * dnsmasq_env_get() - the environment to exec dnsmasq with
 *
 * The daemon's own, with dnsmasq-preload.so added to LD_PRELOAD (after
 * what is there) when a trusted copy is found; made at the first call,
 * since the daemon's environment no longer changes after start-up.
 * Without the library (a warning says so) it is the daemon's own.
 * Return: a NULL-terminated vector that @e owns (or environ).
 */
char **dnsmasq_env_get(struct dnsmasq_env *e);

/*
 * Once, for the first dnsmasq that listens: warn if the preload did not
 * take (dnsmasq @pid's rtnetlink socket is in multicast groups).
 */
void dnsmasq_env_check(struct dnsmasq_env *e, pid_t pid);

/* The account dnsmasq runs as: the Debian package makes it (sysusers.d). */
#define DNSMASQ_USER "vmnet-broker-dnsmasq"
/* STATE/DNSMASQ_DIR holds each network's hosts, lease and pid files. */
#define DNSMASQ_DIR "dnsmasq"

/* What dnsmasq_env_prepare() found. */
enum dnsmasq_privacy {
	DNSMASQ_PRIVATE,       /* the files are root's and DNSMASQ_USER's alone */
	DNSMASQ_FALLBACK_USER, /* ... and another account's, named in the warning */
	DNSMASQ_WORLD,         /* no ACLs: the files are readable by everyone */
};

/**
 * dnsmasq_env_prepare() - the account dnsmasq runs as, and STATE/DNSMASQ_DIR for its files
 *
 * The account is DNSMASQ_USER; without it (warned) dnsmasq's own
 * "dnsmasq", else "nobody". The directory is root's, mode 0750, and a
 * POSIX ACL (a default one too, for the files made in it) lets that
 * account alone read it besides root: other users cannot read who has
 * which MAC and address. On a file system without ACLs the directory and
 * files are readable by all (warned).
 * Return: a enum dnsmasq_privacy, or negative errno (logged).
 */
int dnsmasq_env_prepare(struct dnsmasq_env *e, const char *state_dir);
/* dnsmasq's --user and --group; NULL before dnsmasq_env_prepare() (dnsmasq's defaults). */
const char *dnsmasq_env_user(const struct dnsmasq_env *e);
const char *dnsmasq_env_group(const struct dnsmasq_env *e);
/* The mode of the files the daemon writes for dnsmasq (hosts): 0640, or 0644 without ACLs. */
mode_t dnsmasq_env_file_mode(const struct dnsmasq_env *e);

#endif

/* dnsmasq-env.h - the environment dnsmasq starts with: the daemon's, with dnsmasq-preload.so */
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

#endif

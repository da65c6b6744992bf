/* state.h - what the daemon records in its state dir so the next daemon can adopt it */
#ifndef VMNET_STATE_H
#define VMNET_STATE_H

#include <jansson.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "pool.h"
#include "protocol.h"

#define STATE_VERSION 1

struct state_lease {
	enum port_kind kind;
	char ifname[IFNAMSIZ];
	int ifindex;
	uint8_t mac[6];
	unsigned int host; /* 0: no address */
	uid_t uid;
	pid_t pid;
	char label[LABEL_MAX + 1];
};

struct state_network {
	char name[NETWORK_NAME_MAX + 1];
	enum network_mode mode;
	char bridge[IFNAMSIZ];
	int bridge_ifindex;
	uint8_t bridge_mac[6];
	struct prefix4 subnet;
	uint8_t ula[16];
	unsigned int mtu;
	bool dhcp;
	pid_t dnsmasq_pid; /* 0: none */
	struct state_lease *leases;
	size_t n_leases;
};

/**
 * state_parse() - one NAME.state document into @ret (pure)
 * Return: 0, or -EINVAL for anything malformed (the file is then ignored).
 */
int state_parse(const char *text, size_t len, struct state_network *ret);
void state_network_clear(struct state_network *n);

/* Write @doc as DIR/NAME.state, atomically (rename). Return: 0 or negative errno. */
int state_save(const char *dir, const char *name, json_t *doc);
/* Remove DIR/NAME.state; a missing file is fine. */
void state_forget(const char *dir, const char *name);
/**
 * state_load_all() - every readable, well-formed DIR/ *.state
 * Return: 0 with a malloc'ed array (clear each, then free), or negative errno.
 */
int state_load_all(const char *dir, struct state_network **ret, size_t *ret_n);

#endif

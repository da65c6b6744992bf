/* config.h - what a network should be: the built-in networks and (issue #4) NAME.json files (pure) */
#ifndef VMNET_CONFIG_H
#define VMNET_CONFIG_H

#include <stdbool.h>

#include "protocol.h"

enum network_mode {
	MODE_SHARED, /* NAT to the outside through the host */
	MODE_HOST,   /* guests and host only, no way out */
	_MODE_MAX,
};

struct network_config {
	char name[NETWORK_NAME_MAX + 1];
	enum network_mode mode;
	const char *source; /* "builtin", or the file it came from */
	bool dhcp;
	bool dns_proxy;
	unsigned int mtu;
};

enum {
	CONFIG_E_NOT_FOUND = 1, /* no built-in network and no file of that name */
};

/**
 * config_lookup() - the configuration of network @name
 * @config_dir: where NAME.json files live (read from issue #4 on)
 * Return: 0, or CONFIG_E_NOT_FOUND.
 */
int config_lookup(const char *config_dir, const char *name, struct network_config *ret);

/* Every network config_lookup() could return, in name order; *@ret_n of them. */
int config_list(const char *config_dir, struct network_config **ret, size_t *ret_n);

const char *network_mode_to_string(enum network_mode m);

#endif

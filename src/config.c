/* config.c - what a network should be: the built-in networks and (issue #4) NAME.json files (pure) */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

static const char *const mode_names[] = {
	[MODE_SHARED] = "shared",
	[MODE_HOST] = "host",
};
static_assert(ELEMENTSOF(mode_names) == _MODE_MAX, "mode names");

/* Sorted by name, as `networks` lists them. */
static const struct network_config builtins[] = {
	{ .name = "host", .mode = MODE_HOST, .source = "builtin", .dhcp = true,
	  .dns_proxy = true, .mtu = 1500 },
	{ .name = "shared", .mode = MODE_SHARED, .source = "builtin", .dhcp = true,
	  .dns_proxy = true, .mtu = 1500 },
};

const char *network_mode_to_string(enum network_mode m)
{
	return m < _MODE_MAX ? mode_names[m] : NULL;
}

int config_lookup(const char *config_dir, const char *name, struct network_config *ret)
{
	for (size_t i = 0; i < ELEMENTSOF(builtins); i++)
		if (streq(builtins[i].name, name)) {
			*ret = builtins[i];
			return 0;
		}
	return CONFIG_E_NOT_FOUND;
}

int config_list(const char *config_dir, struct network_config **ret, size_t *ret_n)
{
	struct network_config *v = malloc(sizeof(builtins));

	if (!v)
		return -ENOMEM;
	memcpy(v, builtins, sizeof(builtins));
	*ret = v;
	*ret_n = ELEMENTSOF(builtins);
	return 0;
}

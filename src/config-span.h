/* config-span.h - the `span` object of a network file: one network on several hosts (pure) */
#ifndef VMNET_CONFIG_SPAN_H
#define VMNET_CONFIG_SPAN_H

#include <jansson.h>
#include <stdbool.h>

#include "config.h"

/**
 * config_span_parse() - the value of a file's `span` key into @ret
 * @path:	the file, for the errors
 * @hide:	quote none of the file's text in the errors: not everyone may
 *		read the file (CONFIG_PARSE_HIDE)
 * @errors:	every problem is appended here, keys as "span.hosts[1].slice"
 *
 * Types, ranges and the keys of the object alone; what the span needs of
 * the rest of the file is config_span_check().
 * Return: 0, CONFIG_E_INVALID when errors were appended, or -ENOMEM.
 */
int config_span_parse(const char *path, json_t *v, bool hide, struct span_config *ret,
		      struct config_errors *errors);

/**
 * config_span_check() - what a span needs of the whole of its file @c
 * @mtu_key:	the key to blame for the MTU: "mtu" when the file has it
 * @hosts_ok:	config_span_parse() found no error: the slices can be checked
 *
 * A fixed subnet and IPv6 prefix (every host serves the same), slices
 * inside the subnet and apart, a slice for every host with DHCP, an MTU
 * that leaves room for VXLAN's header, and nothing that would make a host
 * reach another host's guests through the overlay (file port forwards,
 * routed subnets).
 * Return: 0, CONFIG_E_INVALID when errors were appended, or -ENOMEM.
 */
int config_span_check(const char *path, const struct network_config *c, const char *mtu_key,
		      bool hosts_ok, struct config_errors *errors);

#endif

/* forward.h - host ports forwarded to guests: from network files and from acquires */
#ifndef VMNET_FORWARD_H
#define VMNET_FORWARD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

struct broker;
struct network;

/**
 * forward_owner() - which running network forwards host port @port/@proto
 *
 * Counts a network's file forwards and those of every lease on it.
 * Return: that network, or NULL when the port is free.
 */
struct network *forward_owner(struct broker *b, enum forward_protocol proto, uint16_t port);

/**
 * forward_collect() - every forward of @n: its file's, then its leases'
 * Return: 0 with a malloc'ed array in *@ret (NULL when none), or -ENOMEM.
 */
int forward_collect(const struct network *n, struct port_forward **ret, size_t *ret_n);

/* [{"protocol", "external_port", "internal_address", "internal_port"}, ...]; NULL on OOM. */
json_t *forward_list_json(const struct port_forward *v, size_t n);

/* "tcp 2222 -> 192.168.42.10:22" into @buf. Return: @buf. */
char *forward_format(const struct port_forward *f, char *buf, size_t size);

#endif

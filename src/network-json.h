/* network-json.h - what a network says of itself in JSON: replies, status, its snapshot */
#ifndef VMNET_NETWORK_JSON_H
#define VMNET_NETWORK_JSON_H

#include <jansson.h>
#include <sys/types.h>

struct lease;
struct network;

/* {"name", "mode", "bridge", "subnet", "mask", "ipv6_prefix", "prefix_len", "mtu"} */
json_t *network_to_json(const struct network *n);
/* network_to_json() plus state and leases, as `status` shows them to @uid. */
json_t *network_status_json(const struct network *n, uid_t uid);
/*
 * The snapshot of @n in the state dir (record.c writes it): the bridge,
 * addresses, dnsmasq's pid and every lease, all or nothing; NULL on OOM.
 */
json_t *network_record_json(const struct network *n);
/* A lease as `status` shows it to @uid: with its guests and names when it is @uid's (or root's). */
json_t *network_lease_json(const struct network *n, const struct lease *l, uid_t uid);

#endif

/* frr-plan.h - the broker's part of FRR's BGP configuration: what is there, what to send (pure) */
#ifndef VMNET_FRR_PLAN_H
#define VMNET_FRR_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The broker's peer groups: the names mark what in bgpd is the broker's. */
#define FRR_GROUP "vmnet-broker"                 /* the other hosts of its spans */
#define FRR_GROUP_CLIENTS "vmnet-broker-clients" /* those this host reflects routes to */
#define FRR_KEEPALIVE 3                          /* s; hold time 3 x, connect retry below */
#define FRR_CONNECT_RETRY 2                      /* s: a host that comes back is met at once */

/* A BGP neighbour of this host. */
struct frr_peer {
	uint32_t address; /* underlay, host byte order */
	bool client;      /* this host is its route reflector */
};

/* What the broker wants in bgpd: the union of its running EVPN spans. */
struct frr_want {
	uint32_t asn;
	uint32_t local; /* this host's underlay address: update-source, and router-id if none */
	struct frr_peer *peers;
	size_t n_peers;
	uint32_t *vnis; /* of the running EVPN spans */
	size_t n_vnis;
	uint32_t *owned; /* every VNI the broker's files span by EVPN: their stale stanzas go */
	size_t n_owned;
	bool advertise_ours; /* advertise-all-vni was put there by the broker: it goes with the last span */
};

/* What bgpd's running configuration holds of it (`show running-config`). */
struct frr_running {
	uint32_t asn; /* of the default VRF's router bgp; 0: none */
	bool router_id;
	bool group;
	bool group_clients;
	bool advertise_all_vni;
	struct frr_peer *peers; /* members of the broker's groups */
	size_t n_peers;
	uint32_t *vnis; /* vni stanzas under address-family l2vpn evpn */
	size_t n_vnis;
};

enum {
	FRR_E_ASN = 1200, /* bgpd runs another AS than the spans' */
};

void frr_want_clear(struct frr_want *w);
/* Deep copy. Return: 0 or -ENOMEM (*@dst then empty). */
int frr_want_copy(struct frr_want *dst, const struct frr_want *src);
void frr_running_clear(struct frr_running *r);

/**
 * frr_running_parse() - the broker's part of bgpd's running configuration @text
 * Return: 0 or -ENOMEM.
 */
int frr_running_parse(const char *text, struct frr_running *ret);

/**
 * frr_plan() - the vtysh commands that make @run what @want says
 *
 * The whole of the broker's part every time (FRR takes a command that
 * changes nothing as done), and the removal of what is there but no
 * longer wanted: members, groups, stale vni stanzas, and with the last
 * span advertise-all-vni when it was the broker's.
 * Return: 0 with a malloc'ed vector of *@ret_n commands (none: nothing
 * to do), FRR_E_ASN, or -ENOMEM.
 */
int frr_plan(const struct frr_running *run, const struct frr_want *want, char ***ret, size_t *ret_n);
void frr_commands_free(char **v, size_t n);

#endif

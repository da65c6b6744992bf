/* vxlan.h - the kernel side of a span's overlay: the VXLAN device, its bridge port, its flood list */
#ifndef VMNET_VXLAN_H
#define VMNET_VXLAN_H

#include <stdbool.h>
#include <stdint.h>

struct netlink;

/* "vmvx" and up to 8 digits of a 24-bit VNI: fits IFNAMSIZ. */
#define VXLAN_NAME_PREFIX "vmvx"

/* What vxlan_create() makes. */
struct vxlan_spec {
	const char *name;  /* VXLAN_NAME_PREFIX VNI */
	const char *alias; /* the network's bridge alias: adoption and orphans treat it alike */
	uint32_t vni;
	uint32_t local;       /* the underlay address, host byte order */
	int underlay_ifindex; /* the link that holds it */
	uint16_t port;        /* UDP */
	unsigned int mtu;
	bool learning; /* learn remote MACs from traffic (static); EVPN: FRR installs them */
};

/**
 * vxlan_create() - create the VXLAN device, down, with no IPv6 of its own
 *
 * Return: 0 with *@ret_ifindex, or negative errno (nothing left behind).
 */
int vxlan_create(struct netlink *nl, const struct vxlan_spec *s, int *ret_ifindex);

/**
 * vxlan_attach() - make @ifindex a port of @bridge and bring it up
 * @evpn:	the bridge learns nothing on the port and answers ARP and
 *		neighbour solicitations for remote guests itself (FRR fills
 *		its neighbour table)
 * Return: 0 or negative errno.
 */
int vxlan_attach(struct netlink *nl, int ifindex, int bridge, bool evpn);

/**
 * vxlan_flood_add() - send broadcast, unknown unicast and multicast to @dst too
 *
 * One all-zero entry per remote host in the device's forwarding table:
 * head-end replication. Adding one that is there already is no error.
 * Return: 0 or negative errno.
 */
int vxlan_flood_add(struct netlink *nl, int ifindex, uint32_t dst);

#endif

/* lease.c - who holds which port on which network, until when
 *
 * Theory of operation. A lease is one port and its reservation: a MAC, an
 * address served by the network's dnsmasq, and the interface alias that
 * names the holder. It ends when the kernel says the port is gone (the
 * last TAP fd closed, the veth's namespace died: see broker.c's link
 * monitor) or, for `none` and `named_tap`, when the client's connection
 * closes. The broker keeps no fd of a `tap` port, so the VM alone decides
 * how long that lease lives.
 *
 * Adoption. Every lease, its port_forwards included, is recorded in the
 * state dir (network.c, record_lease()) before its reply is sent, and its
 * port's alias names the holder. When the daemon stops, ports stay; the
 * next daemon (adopt.c) takes back each recorded lease whose port is
 * still on its bridge and ends the others.
 * A `named_tap` lease outlives its connection then: it ends when its TAP
 * is deleted. A `none` lease is only a hold and ends with the daemon.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/random.h>

#include "broker.h"
#include "bgclose.h"
#include "lease.h"
#include "log.h"
#include "netlink.h"
#include "network.h"
#include "forward.h"
#include "port.h"
#include "state.h"
#include "util.h"

const char *lease_error_to_string(int code)
{
	switch (code) {
	case LEASE_E_NOT_NETNS:
		return "the file descriptor is not a network namespace";
	case LEASE_E_NOT_OWNER:
		return "the caller does not own that network namespace";
	case LEASE_E_MAC_TAKEN:
		return "that MAC address is already in use on this network";
	case LEASE_E_IFNAME_TAKEN:
		return "that interface name already exists in the namespace";
	case LEASE_E_NO_ADDRESS:
		return "no free address left on this network";
	case LEASE_E_ADDRESS_TAKEN:
		return "the address reserved for that MAC is held by another port";
	case LEASE_E_FORWARD_TAKEN:
		return "a requested host port is already forwarded";
	case LEASE_E_FORWARD_HOST_ONLY:
		return "port_forwards need a shared network: a host network has no way in or out";
	case LEASE_E_FORWARD_NO_ADDRESS:
		return "port_forwards need an address to forward to, and this network has DHCP off";
	default:
		return "unknown lease error";
	}
}

static bool mac_taken(const struct network *n, const uint8_t mac[6])
{
	struct lease *l;

	TAILQ_FOREACH(l, &n->leases, network_link)
		if (l->kind != PORT_NONE && memcmp(l->mac, mac, 6) == 0)
			return true;
	return false;
}

/* A random locally administered unicast MAC. */
static int mac_generate(uint8_t mac[6])
{
	if (getrandom(mac, 6, 0) != 6)
		return -errno;
	mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02);
	return 0;
}

/* The next vmtapN / vmvethN that no link in this namespace has. */
static int pick_ifname(struct broker *b, const char *prefix, char ret[IFNAMSIZ])
{
	int r;

	for (unsigned int tries = 0; tries < 100000; tries++) {
		snprintf(ret, IFNAMSIZ, "%s%u", prefix, b->next_port++ % 100000);
		r = netlink_ifindex(b->nl, ret);
		if (r <= 0)
			return r; /* 0: free; negative: cannot tell */
	}
	return -ENOSPC;
}

static int create_port(struct lease *l, struct network *n, const struct request *req, int netns_fd,
		       int *fds)
{
	struct broker *b = n->broker;
	char alias[256];
	int tmp[QUEUES_MAX];
	int r;

	r = pick_ifname(b, l->kind == PORT_NETNS ? "vmveth" : "vmtap", l->ifname);
	if (r < 0)
		return r;
	switch (l->kind) {
	case PORT_TAP:
	case PORT_NAMED_TAP:
		r = port_open_tap(l->ifname, req->queues, req->vnet_hdr,
				  l->kind == PORT_NAMED_TAP ? l->uid : (uid_t)-1,
				  l->kind == PORT_TAP ? fds : tmp);
		if (r < 0)
			return r;
		if (l->kind == PORT_NAMED_TAP)
			for (unsigned int i = 0; i < req->queues; i++)
				safe_close(tmp[i]);
		r = netlink_ifindex(b->nl, l->ifname);
		l->ifindex = r > 0 ? r : 0;
		if (r <= 0) {
			r = r < 0 ? r : -ENODEV;
			if (l->kind == PORT_TAP)
				for (unsigned int i = 0; i < req->queues; i++)
					fds[i] = bgclose(fds[i]);
			return r;
		}
		break;
	case PORT_NETNS:
		r = netlink_veth_add(b->nl, l->ifname, req->ifname[0] ? req->ifname : "eth0",
				     netns_fd, l->mac, n->config.mtu, &l->ifindex);
		if (r == -EEXIST)
			return LEASE_E_IFNAME_TAKEN;
		if (r < 0)
			return r;
		break;
	default:
		return -EINVAL;
	}
	/* Our end is a bridge port, not a host: without IPv6 it gets no
	 * link-local address, multicast route or MLD, whose events would
	 * wake every listener in the namespace (not our dnsmasqs: see
	 * dnsmasq-preload.c). */
	port_disable_ipv6(l->ifname);
	snprintf(alias, sizeof(alias), LEASE_ALIAS_PREFIX "%s uid=%u pid=%d label=%s",
		 n->config.name, (unsigned)l->uid, (int)l->pid, l->label);
	r = netlink_port_attach(b->nl, l->ifindex, n->bridge_ifindex, alias, n->config.mtu);
	/* The guest end goes up last: with both ends up the carrier is on,
	 * and syncing both makes the first frames go through (see
	 * netlink_link_sync()); a TAP's carrier is on since TUNSETIFF. */
	if (r >= 0 && l->kind == PORT_NETNS)
		r = netlink_veth_peer_up(b->nl, netns_fd, req->ifname[0] ? req->ifname : "eth0");
	if (r >= 0)
		r = netlink_link_sync(b->nl, l->ifindex);
	if (r < 0 && l->kind == PORT_TAP)
		/* Closing the only fds is what removes a plain TAP. */
		for (unsigned int i = 0; i < req->queues; i++)
			fds[i] = bgclose(fds[i]);
	return r;
}

/* The acquire's port_forwards, to the lease's own address. */
static int take_forwards(struct lease *l, const struct request *req)
{
	struct network *n = l->network;

	if (req->n_forwards == 0)
		return 0;
	if (n->config.mode != MODE_SHARED)
		return LEASE_E_FORWARD_HOST_ONLY;
	if (!l->host)
		return LEASE_E_FORWARD_NO_ADDRESS;
	for (unsigned int i = 0; i < req->n_forwards; i++)
		if (forward_owner(n->broker, req->forwards[i].protocol, req->forwards[i].external_port))
			return LEASE_E_FORWARD_TAKEN;
	l->forwards = calloc(req->n_forwards, sizeof(*l->forwards));
	if (!l->forwards)
		return -ENOMEM;
	for (unsigned int i = 0; i < req->n_forwards; i++) {
		l->forwards[i] = req->forwards[i];
		l->forwards[i].internal_address = n->subnet.addr + l->host;
	}
	l->n_forwards = req->n_forwards;
	return 0;
}

int lease_new(struct network *n, const struct request *req, const struct ucred *peer, int netns_fd,
	      struct lease **ret, int *fds)
{
	struct lease *l;
	int r;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->id = n->broker->next_lease_id++;
	l->kind = req->port;
	l->uid = peer->uid;
	l->pid = peer->pid;
	memcpy(l->label, req->label, sizeof(l->label));
	/* Bound to n from the start so lease_free() can undo a half-built lease. */
	l->network = n;

	if (l->kind == PORT_NETNS) {
		r = port_check_netns(netns_fd, peer->uid);
		if (r > 0)
			r = r == PORT_E_NOT_NETNS ? LEASE_E_NOT_NETNS : LEASE_E_NOT_OWNER;
		if (r)
			goto fail;
	}
	if (l->kind != PORT_NONE) {
		if (req->has_mac)
			memcpy(l->mac, req->mac, 6);
		else if ((r = mac_generate(l->mac)) < 0)
			goto fail;
		if (mac_taken(n, l->mac)) {
			r = LEASE_E_MAC_TAKEN;
			goto fail;
		}
		if (n->config.dhcp) {
			r = network_take_address(n, l->mac, &l->host);
			if (r) {
				r = r == NETWORK_E_ADDRESS_TAKEN ? LEASE_E_ADDRESS_TAKEN
								 : LEASE_E_NO_ADDRESS;
				goto fail;
			}
		}
		/* Before the port exists: a refused forward leaves nothing to undo. */
		r = take_forwards(l, req);
		if (r)
			goto fail;
		r = create_port(l, n, req, netns_fd, fds);
		if (r)
			goto fail;
	}
	TAILQ_INSERT_TAIL(&n->leases, l, network_link);
	network_lease_added(n, l);
	if (l->host)
		network_schedule_dhcp_sync(n);
	if (l->n_forwards) {
		r = network_apply_firewall(n->broker);
		if (r < 0)
			goto fail_close;
	}
	*ret = l;
	return 0;
fail_close:
	if (l->kind == PORT_TAP)
		for (unsigned int i = 0; i < req->queues; i++)
			fds[i] = bgclose(fds[i]);
fail:
	lease_free(l);
	return r;
}

/* Remove our end of the port; the kernel may have done it already. */
static void remove_port(struct lease *l)
{
	struct broker *b = l->network->broker;
	int r = 0;

	if (l->ifindex <= 0)
		return;
	if (l->kind == PORT_NETNS) {
		r = netlink_link_del(b->nl, l->ifindex);
	} else if (l->kind == PORT_NAMED_TAP) {
		/* A VM may still hold it open, and then it outlives persistence:
		 * take it off the network first so it cannot keep talking there. */
		r = netlink_port_detach(b->nl, l->ifindex);
		if (r >= 0)
			r = port_remove_persistent_tap(l->ifname);
	}
	/* A plain TAP belongs to whoever holds its fds: never ours to remove. */
	if (r < 0 && r != -ENODEV && r != -ENOENT)
		log_warning_errno(r, "[network %s] Failed to remove port %s, ignoring: %m",
				  l->network->config.name, l->ifname);
}

struct lease *lease_free(struct lease *l)
{
	struct network *n;
	bool linked;

	if (!l)
		return NULL;
	n = l->network;
	/* Inserted leases have a non-NULL tqe_prev; half-built ones do not. */
	linked = l->network_link.tqe_prev != NULL;
	remove_port(l);
	if (l->host)
		network_put_address(n, l->host);
	if (l->client)
		TAILQ_REMOVE(&l->client->leases, l, client_link);
	if (linked) {
		TAILQ_REMOVE(&n->leases, l, network_link);
		network_lease_removed(n, l);
	}
	free(l->forwards);
	free(l);
	return NULL;
}

json_t *lease_port_json(const struct lease *l)
{
	char mac[18], ip[16];
	json_t *o;

	o = json_pack("{s:s}", "kind", port_kind_to_string(l->kind));
	if (!o || l->kind == PORT_NONE)
		return o;
	json_object_set_new(o, "ifname", json_string(l->ifname));
	json_object_set_new(o, "mac", json_string(mac_format(l->mac, mac)));
	if (l->host)
		json_object_set_new(o, "address",
				    json_string(addr4_format(l->network->subnet.addr + l->host, ip,
							     sizeof(ip))));
	if (l->n_forwards)
		json_object_set_new(o, "port_forwards", forward_list_json(l->forwards, l->n_forwards));
	return o;
}

json_t *lease_to_json(const struct lease *l, bool full)
{
	json_t *o = lease_port_json(l);

	if (!o)
		return NULL;
	if (!full) {
		/* Another user's lease: that it exists, not whose or where. */
		json_object_del(o, "mac");
		json_object_del(o, "address");
		json_object_del(o, "port_forwards");
		json_object_set_new(o, "hidden", json_true());
		return o;
	}
	json_object_set_new(o, "uid", json_integer(l->uid));
	json_object_set_new(o, "pid", json_integer(l->pid));
	json_object_set_new(o, "label", json_string(l->label));
	return o;
}

struct lease *lease_abandon(struct lease *l)
{
	if (!l)
		return NULL;
	if (l->client)
		TAILQ_REMOVE(&l->client->leases, l, client_link);
	free(l->forwards);
	free(l);
	return NULL;
}

/*
 * The recorded port_forwards of @rec, unless a running network or an
 * adopted lease forwards one of those host ports already (the files
 * changed while no daemon ran): then the lease keeps its port, without
 * forwards.
 */
static int adopt_forwards(struct lease *l, const struct state_lease *rec)
{
	struct network *n = l->network;
	char what[64];

	if (rec->n_forwards == 0)
		return 0;
	for (unsigned int i = 0; i < rec->n_forwards; i++)
		if (n->config.mode != MODE_SHARED || forward_owner(n->broker, rec->forwards[i].protocol,
								   rec->forwards[i].external_port)) {
			log_warning("[network %s] Port %s: forward %s is taken or the network is "
				    "not shared, adopting the port without its forwards",
				    n->config.name, l->ifname,
				    forward_format(&rec->forwards[i], what, sizeof(what)));
			return 0;
		}
	l->forwards = calloc(rec->n_forwards, sizeof(*l->forwards));
	if (!l->forwards)
		return -ENOMEM;
	memcpy(l->forwards, rec->forwards, rec->n_forwards * sizeof(*l->forwards));
	l->n_forwards = rec->n_forwards;
	return 0;
}

int lease_adopt(struct network *n, const struct state_lease *rec, struct lease **ret)
{
	struct lease *l;
	int r;

	if (rec->kind != PORT_NONE && mac_taken(n, rec->mac))
		return LEASE_E_MAC_TAKEN;
	if (rec->host && network_take_exact_address(n, rec->host) != 0)
		return LEASE_E_NO_ADDRESS;
	l = calloc(1, sizeof(*l));
	if (!l) {
		if (rec->host)
			network_put_address(n, rec->host);
		return -ENOMEM;
	}
	l->network = n;
	/* A record of a daemon of before ids gets one now; the snapshot at
	 * the end of adoption records it. */
	l->id = rec->id ? rec->id : n->broker->next_lease_id++;
	l->kind = rec->kind;
	memcpy(l->ifname, rec->ifname, sizeof(l->ifname));
	l->ifindex = rec->ifindex;
	memcpy(l->mac, rec->mac, 6);
	l->host = rec->host;
	l->uid = rec->uid;
	l->pid = rec->pid;
	memcpy(l->label, rec->label, sizeof(l->label));
	r = adopt_forwards(l, rec);
	if (r < 0) {
		if (l->host)
			network_put_address(n, l->host);
		free(l);
		return r;
	}
	TAILQ_INSERT_TAIL(&n->leases, l, network_link);
	network_lease_added(n, l);
	*ret = l;
	return 0;
}

/* lease.c - one lease: who holds which port, with which MAC, address and forwards
 *
 * Theory of operation. A lease is one port and its reservation: a MAC, an
 * address served by the network's dnsmasq, the port_forwards to that
 * address, and the interface alias that names the holder. It ends when
 * the kernel says the port is gone (the last TAP fd closed, the veth's
 * namespace died: broker.c's link monitor) or, for `none` and
 * `named_tap`, when the client's connection closes. The broker keeps no
 * fd of a `tap` port, so the VM alone decides how long that lease lives.
 *
 * This file is the record; its network owns it (network.c: what it gets,
 * when it ends, how it is recorded).
 *
 * Adoption. Every lease, its port_forwards included, is recorded in the
 * state dir (network.c, record.c) before its reply is sent, and its
 * port's alias names the holder. When the daemon stops, ports stay; the
 * next daemon (adopt.c) takes back each recorded lease whose port is
 * still on its bridge (lease_new_from_record()) and ends the others.
 * A `named_tap` lease outlives its connection then: it ends when its TAP
 * is deleted. A `none` lease is only a hold and ends with the daemon.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "forward.h"
#include "lease.h"
#include "pool.h"
#include "state.h"
#include "util.h"

/* A random locally administered unicast MAC. */
static int mac_generate(uint8_t mac[6])
{
	if (getrandom(mac, 6, 0) != 6)
		return -errno;
	mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02);
	return 0;
}

int lease_append_forwards(struct lease *l, const struct port_forward *v, size_t n)
{
	struct port_forward *g;

	if (n == 0)
		return 0;
	g = reallocarray(l->forwards, l->n_forwards + n, sizeof(*g));
	if (!g)
		return -ENOMEM;
	memcpy(g + l->n_forwards, v, n * sizeof(*v));
	l->forwards = g;
	l->n_forwards += n;
	return 0;
}

const struct port_forward *lease_find_forward(const struct lease *l, enum forward_protocol proto,
					      uint16_t port)
{
	for (size_t i = 0; i < l->n_forwards; i++)
		if (l->forwards[i].protocol == proto && l->forwards[i].external_port == port)
			return &l->forwards[i];
	return NULL;
}

bool lease_remove_forward(struct lease *l, enum forward_protocol proto, uint16_t port)
{
	const struct port_forward *f = lease_find_forward(l, proto, port);
	size_t i;

	if (!f)
		return false;
	/* In order: status lists them as they were asked for. */
	i = (size_t)(f - l->forwards);
	memmove(l->forwards + i, l->forwards + i + 1, (l->n_forwards - i - 1) * sizeof(*f));
	/* Its bit of @shadowed goes too, the later ones down one with their forwards. */
	if (i < 32)
		l->shadowed = (l->shadowed & ((1u << i) - 1)) |
			      ((l->shadowed >> 1) & ~((1u << i) - 1));
	if (--l->n_forwards == 0)
		l->forwards = mfree(l->forwards);
	return true;
}

/* A lease of @kind held by @uid/@pid; the rest is the caller's to fill. */
static struct lease *lease_alloc(uint64_t id, enum port_kind kind, uid_t uid, pid_t pid,
				 const char *label)
{
	struct lease *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->id = id;
	l->port.kind = kind;
	l->uid = uid;
	l->pid = pid;
	snprintf(l->label, sizeof(l->label), "%s", label);
	return l;
}

int lease_new(uint64_t id, const struct request *req, const struct ucred *peer, struct lease **ret)
{
	_cleanup_(lease_freep) struct lease *l = NULL;
	int r;

	l = lease_alloc(id, req->port, peer->uid, peer->pid, req->label);
	if (!l)
		return -ENOMEM;
	l->persistent = req->persistent;
	if (l->port.kind != PORT_NONE) {
		if (req->has_mac)
			memcpy(l->mac, req->mac, 6);
		else if ((r = mac_generate(l->mac)) < 0)
			return r;
	}
	r = lease_append_forwards(l, req->forwards, req->n_forwards);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(l);
	return 0;
}

int lease_new_from_record(const struct state_lease *rec, uint64_t id, struct lease **ret)
{
	_cleanup_(lease_freep) struct lease *l = NULL;
	int r;

	l = lease_alloc(id, rec->kind, rec->uid, rec->pid, rec->label);
	if (!l)
		return -ENOMEM;
	memcpy(l->port.ifname, rec->ifname, sizeof(l->port.ifname));
	l->port.ifindex = rec->ifindex;
	memcpy(l->mac, rec->mac, 6);
	l->host = rec->host;
	l->persistent = rec->persistent;
	r = lease_append_forwards(l, rec->forwards, rec->n_forwards);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(l);
	return 0;
}

void lease_detach_client(struct lease *l)
{
	if (l->client)
		TAILQ_REMOVE(&l->client->leases, l, client_link);
	l->client = NULL;
}

struct lease *lease_free(struct lease *l)
{
	if (!l)
		return NULL;
	lease_detach_client(l);
	/* Its network told them already; this is for one that never had one. */
	lease_waiters_notify(l, 0);
	free(l->forwards);
	free(l);
	return NULL;
}

void lease_waiter_add(struct lease *l, struct lease_waiter *w)
{
	w->lease = l;
	LIST_INSERT_HEAD(&l->waiters, w, link);
}

void lease_waiter_cancel(struct lease_waiter *w)
{
	if (!w || !w->lease)
		return;
	LIST_REMOVE(w, link);
	w->lease = NULL;
}

void lease_waiters_notify(struct lease *l, uint32_t address)
{
	struct lease_waiter *w;

	while ((w = LIST_FIRST(&l->waiters))) {
		lease_waiter_cancel(w);
		w->fn(w, l, address); /* may free @w */
	}
}

void lease_drop_forwards(struct lease *l)
{
	l->forwards = mfree(l->forwards);
	l->n_forwards = 0;
}

json_t *lease_port_json(const struct lease *l, uint32_t subnet)
{
	char mac[18], ip[16];
	json_t *o;

	o = json_pack("{s:s, s:I}", "kind", port_kind_to_string(l->port.kind), "lease_id",
		      (json_int_t)l->id);
	if (o && l->persistent)
		json_object_set_new(o, "persistent", json_true());
	if (!o || l->port.kind == PORT_NONE)
		return o;
	json_object_set_new(o, "ifname", json_string(l->port.ifname));
	json_object_set_new(o, "mac", json_string(mac_format(l->mac, mac)));
	if (l->host)
		json_object_set_new(o, "address",
				    json_string(addr4_format(subnet + l->host, ip, sizeof(ip))));
	if (l->n_forwards)
		json_object_set_new(o, "port_forwards", forward_list_json(l->forwards, l->n_forwards));
	return o;
}

json_t *lease_to_json(const struct lease *l, uint32_t subnet, bool full)
{
	json_t *o = lease_port_json(l, subnet);

	if (!o)
		return NULL;
	if (!full) {
		/* Another user's lease: that it exists, not whose or where. */
		json_object_del(o, "mac");
		json_object_del(o, "address");
		json_object_del(o, "port_forwards");
		json_object_del(o, "lease_id");
		json_object_del(o, "persistent");
		json_object_set_new(o, "hidden", json_true());
		return o;
	}
	json_object_set_new(o, "uid", json_integer(l->uid));
	json_object_set_new(o, "pid", json_integer(l->pid));
	json_object_set_new(o, "label", json_string(l->label));
	return o;
}

json_t *lease_status_json(const struct lease *l, uint32_t subnet, bool full)
{
	json_t *o = lease_to_json(l, subnet, full);
	json_t *fwds = o ? json_object_get(o, "port_forwards") : NULL;

	for (size_t i = 0; fwds && i < l->n_forwards && i < 32; i++)
		if (l->shadowed & (1u << i))
			json_object_set_new(json_array_get(fwds, i), "host_listener", json_true());
	if (o && l->removing)
		json_object_set_new(o, "state", json_string("removing"));
	return o;
}

json_t *lease_record_json(const struct lease *l, uint32_t subnet)
{
	json_t *o = lease_to_json(l, subnet, true);

	/* The record's own name for it, since before the protocol showed it. */
	if (o)
		json_object_del(o, "lease_id");
	if (o && (json_object_set_new(o, "id", json_integer((json_int_t)l->id)) < 0 ||
		  json_object_set_new(o, "ifindex", json_integer(l->port.ifindex)) < 0 ||
		  json_object_set_new(o, "host", json_integer(l->host)) < 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

void lease_alias(const struct lease *l, const char *network, char buf[LEASE_ALIAS_MAX])
{
	/* Every byte of a label escaped: 2 x LABEL_MAX, and the rest fits too. */
	char quoted[2 * LABEL_MAX + 1], *q = quoted;

	for (const char *p = l->label; *p; p++) {
		if (*p == '"' || *p == '\\')
			*q++ = '\\';
		*q++ = *p;
	}
	*q = '\0';
	snprintf(buf, LEASE_ALIAS_MAX, LEASE_ALIAS_PREFIX "%s uid=%u pid=%d label=\"%s\"", network,
		 (unsigned)l->uid, (int)l->pid, quoted);
}

const char *lease_describe(const struct lease *l, uint32_t subnet, char *buf, size_t size)
{
	char mac[18], ip[16];

	if (l->port.kind == PORT_NONE)
		return "none";
	snprintf(buf, size, "%s %s mac %s%s%s", port_kind_to_string(l->port.kind), l->port.ifname,
		 mac_format(l->mac, mac), l->host ? " address " : "",
		 l->host ? addr4_format(subnet + l->host, ip, sizeof(ip)) : "");
	return buf;
}

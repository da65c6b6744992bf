/* forward.c - host ports forwarded to guests: who may, who holds which, and how they read
 *
 * One host port goes to one guest: a forward is refused (CONFLICT) while
 * any running network, by its file or by one of its leases, forwards the
 * same protocol and port. Files are also checked against each other when
 * they are read (config.c). The rules themselves are nft.c's, assembled
 * by firewall.c.
 *
 * Who may. A forward takes the host's port for every outside packet, so
 * a user other than root may have only what the network's file allows
 * (lease_port_forwards): by default, ports it could bind itself, from
 * net.ipv4.ip_unprivileged_port_start up. Ports a valid file forwards,
 * and ports a host service listens on, are the broker's to check
 * (broker_check_forwards()).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "pool.h"
#include "util.h"

int forward_policy_check(const struct lease_forwards *lf, const struct access_peer *peer,
			 const struct port_forward *f, unsigned int unpriv_start)
{
	if (lf->closed)
		return FORWARD_E_CLOSED;
	if (lf->restricted && !access_listed(lf->allowed_users, lf->n_allowed_users,
					     lf->allowed_groups, lf->n_allowed_groups, peer))
		return FORWARD_E_NOT_LISTED;
	/* The file's range may go below the unprivileged ports: its admin says so. */
	if (lf->port_max)
		return f->external_port >= lf->port_min && f->external_port <= lf->port_max
			       ? 0
			       : FORWARD_E_OUT_OF_RANGE;
	return f->external_port >= unpriv_start ? 0 : FORWARD_E_PRIVILEGED;
}

void forward_table_done(struct forward_table *t)
{
	free(t->v);
	*t = (struct forward_table){};
}

struct network *forward_table_owner(const struct forward_table *t, enum forward_protocol proto,
				    uint16_t port)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].protocol == proto && t->v[i].external_port == port)
			return t->v[i].owner;
	return NULL;
}

const struct port_forward *forward_table_first_taken(const struct forward_table *t,
						     const struct port_forward *v, size_t n,
						     struct network **ret_owner)
{
	for (size_t i = 0; i < n; i++) {
		struct network *o = forward_table_owner(t, v[i].protocol, v[i].external_port);

		if (o) {
			if (ret_owner)
				*ret_owner = o;
			return &v[i];
		}
	}
	return NULL;
}

int forward_table_add(struct forward_table *t, const struct port_forward *v, size_t n,
		      struct network *owner, const void *holder)
{
	if (t->n + n > t->allocated) {
		size_t want = (t->n + n) * 2;
		struct forward_claim *g = realloc(t->v, want * sizeof(*g));

		if (!g)
			return -ENOMEM;
		t->v = g;
		t->allocated = want;
	}
	for (size_t i = 0; i < n; i++)
		t->v[t->n++] = (struct forward_claim){
			.protocol = v[i].protocol,
			.external_port = v[i].external_port,
			.owner = owner,
			.holder = holder,
		};
	return 0;
}

void forward_table_remove(struct forward_table *t, const void *holder)
{
	size_t k = 0;

	/* In order: the first claim of a port stays its owner. */
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].holder != holder)
			t->v[k++] = t->v[i];
	t->n = k;
}

char *forward_format(const struct port_forward *f, char *buf, size_t size)
{
	char a[16];

	snprintf(buf, size, "%s %u -> %s:%u", forward_protocol_to_string(f->protocol),
		 f->external_port, addr4_format(f->internal_address, a, sizeof(a)), f->internal_port);
	return buf;
}

json_t *forward_json(const struct port_forward *f)
{
	char ip[16], ip6[INET6_ADDRSTRLEN];
	json_t *o;

	o = json_pack("{s:s, s:i, s:s, s:i}", "protocol", forward_protocol_to_string(f->protocol),
		      "external_port", f->external_port, "internal_address",
		      addr4_format(f->internal_address, ip, sizeof(ip)), "internal_port",
		      f->internal_port);
	if (o && f->has_address6)
		json_object_set_new(o, "internal_address6",
				    json_string(inet_ntop(AF_INET6, f->internal_address6, ip6,
							  sizeof(ip6))));
	return o;
}

json_t *forward_list_json(const struct port_forward *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, forward_json(&v[i]));
	return a;
}

/* forward.c - host ports forwarded to guests: from network files and from acquires
 *
 * One host port goes to one guest: a forward is refused (CONFLICT) while
 * any running network, by its file or by one of its leases, forwards the
 * same protocol and port. Files are also checked against each other when
 * they are read (config.c). The rules themselves are nft.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "forward.h"
#include "lease.h"
#include "network.h"
#include "util.h"

static bool list_has(const struct port_forward *v, size_t n, enum forward_protocol proto, uint16_t port)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].protocol == proto && v[i].external_port == port)
			return true;
	return false;
}

struct network *forward_owner(struct broker *b, enum forward_protocol proto, uint16_t port)
{
	struct network *n;
	struct lease *l;

	TAILQ_FOREACH(n, &b->networks, link) {
		if (list_has(n->config.forwards, n->config.n_forwards, proto, port))
			return n;
		TAILQ_FOREACH(l, &n->leases, network_link)
			if (list_has(l->forwards, l->n_forwards, proto, port))
				return n;
	}
	return NULL;
}

int forward_collect(const struct network *n, struct port_forward **ret, size_t *ret_n)
{
	size_t count = n->config.n_forwards, i;
	const struct lease *l;
	struct port_forward *v;

	*ret = NULL;
	*ret_n = 0;
	TAILQ_FOREACH(l, &n->leases, network_link)
		count += l->n_forwards;
	if (count == 0)
		return 0;
	v = calloc(count, sizeof(*v));
	if (!v)
		return -ENOMEM;
	/* memcpy() from NULL is undefined even for 0 bytes. */
	if (n->config.n_forwards)
		memcpy(v, n->config.forwards, n->config.n_forwards * sizeof(*v));
	i = n->config.n_forwards;
	TAILQ_FOREACH(l, &n->leases, network_link) {
		if (l->n_forwards)
			memcpy(v + i, l->forwards, l->n_forwards * sizeof(*v));
		i += l->n_forwards;
	}
	*ret = v;
	*ret_n = count;
	return 0;
}

char *forward_format(const struct port_forward *f, char *buf, size_t size)
{
	char a[16];

	snprintf(buf, size, "%s %u -> %s:%u", forward_protocol_to_string(f->protocol),
		 f->external_port, addr4_format(f->internal_address, a, sizeof(a)), f->internal_port);
	return buf;
}

json_t *forward_list_json(const struct port_forward *v, size_t n)
{
	json_t *a = json_array();
	char ip[16];

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_pack("{s:s, s:i, s:s, s:i}", "protocol",
						   forward_protocol_to_string(v[i].protocol),
						   "external_port", v[i].external_port,
						   "internal_address",
						   addr4_format(v[i].internal_address, ip, sizeof(ip)),
						   "internal_port", v[i].internal_port));
	return a;
}

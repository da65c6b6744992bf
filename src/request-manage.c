/* request-manage.c - the requests about what runs: release, forward_add|remove|list, stop
 *
 * Each names a lease that lives (by its id or its port) or a running
 * network, and only its owner or root may change it (stop: root). Codes
 * become statuses in status_from() (request-reply.c), as for every request.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "forward.h"
#include "lease.h"
#include "log.h"
#include "network.h"
#include "protocol.h"
#include "registry.h"
#include "request-access.h"
#include "request-manage.h"
#include "request-reply.h"
#include "server.h"
#include "util.h"

/* ---- one lease: release, forward_add, forward_remove, forward_list */

/* @l as its owner sees it in status, with its network's name. */
static json_t *lease_reply_json(const struct lease *l)
{
	json_t *o = lease_status_json(l, l->network->subnet.addr, true);

	if (o)
		json_object_set_new(o, "network_name", json_string(l->network->config.name));
	return o;
}

/* "lease 12" or "port 'vmtap3'": how @req names its lease, for messages. */
static const char *lease_ref(const struct request *req, char *buf, size_t size)
{
	if (req->lease_id)
		snprintf(buf, size, "lease %" PRIu64, req->lease_id);
	else
		snprintf(buf, size, "port '%s'", req->ifname);
	return buf;
}

/* The lease @req names, when the caller may change it: its owner, or root. */
static int find_lease(struct broker *b, struct connection *c, const struct request *req,
		      struct lease **ret, struct reply *rp)
{
	uid_t uid = connection_peer(c)->uid;
	struct lease *l;
	char what[48];

	*ret = NULL;
	l = req->lease_id ? registry_find_lease_by_id(&b->registry, req->lease_id)
			  : registry_find_port(&b->registry, "", req->ifname);
	lease_ref(req, what, sizeof(what));
	/* The codes as constants, not request_fail()'s: the analyzer follows no varargs. */
	if (!l) {
		(void)request_fail(rp, VMNET_BROKER_NOT_FOUND,
				   "no lease has %s ('vmnet-broker status' lists the leases)", what);
		return VMNET_BROKER_NOT_FOUND;
	}
	if (uid != 0 && uid != l->uid) {
		(void)request_fail(rp, VMNET_BROKER_NOT_ALLOWED,
				   "%s is another user's lease: only its owner or root may change it",
				   what);
		return VMNET_BROKER_NOT_ALLOWED;
	}
	*ret = l;
	return 0;
}

static int handle_release(struct broker *b, struct connection *c, const struct request *req,
			  struct reply *rp)
{
	struct lease *l = NULL;
	int r;

	r = find_lease(b, c, req, &l, rp);
	if (r)
		return r;
	rp->json = json_pack("{s:o}", "lease", lease_reply_json(l));
	broker_release_lease(b, l, connection_peer(c)->uid);
	return 0;
}

/* "tcp 2222 -> 192.168.64.3:22, udp ..." of @v (@n of them), into @buf. */
static const char *forwards_describe(const struct port_forward *v, size_t n, char *buf, size_t size)
{
	size_t used = 0;
	char one[64];

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < size; i++) {
		int k = snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
				 forward_format(&v[i], one, sizeof(one)));

		used += k > 0 ? (size_t)k : 0;
	}
	return buf;
}

/* Answer a failure of broker_add_forwards() for @l. */
static int forward_failure(struct broker *b, const struct request *req, const struct lease *l,
			   int r, struct reply *rp)
{
	char why[160];

	if (r == NETWORK_E_FORWARD_TAKEN) {
		describe_taken_forward(b, req->forwards, req->n_forwards, why, sizeof(why));
		return request_fail(rp, status_from(r), "network '%s': %s", l->network->config.name,
				    why);
	}
	if (r > 0)
		return request_fail(rp, status_from(r), "network '%s': %s", l->network->config.name,
				    network_error_to_string(r));
	log_lease_warning_errno(l, r, "Failed to add port forwards: %m");
	return request_fail(rp, VMNET_BROKER_CREATE_FAILURE,
			    "failed to apply the forwards' rules: %s", strerror(-r));
}

/* Warn of @l's new forwards (the last @n of its own) that take a host service's port. */
static void warn_shadowing(const struct lease *l, size_t n, uint32_t shadowed)
{
	const struct port_forward *v = l->forwards + l->n_forwards - n;
	char what[64];

	for (size_t i = 0; i < n && i < 32; i++)
		if (shadowed & (1u << i))
			log_lease_full_errno(l, LOG_WARNING, 0,
					     "forward %s shadows a host service listening on %s port "
					     "%u (root may): outside traffic for that port reaches "
					     "this guest",
					     forward_format(&v[i], what, sizeof(what)),
					     forward_protocol_to_string(v[i].protocol),
					     v[i].external_port);
}

static int handle_forward_add(struct broker *b, struct connection *c, const struct request *req,
			      struct reply *rp)
{
	uint32_t shadowed = 0;
	char what[256];
	struct lease *l = NULL;
	int r;

	r = find_lease(b, c, req, &l, rp);
	if (r)
		return r;
	if (l->port.kind == PORT_NONE)
		return request_fail(rp, VMNET_BROKER_INVALID_REQUEST,
				    "lease %" PRIu64
				    " is a 'none' hold: it has no address to forward to",
				    l->id);
	/* The policy of an acquire's port_forwards: the network's file as it is now, the host. */
	r = request_check_forwards(b, c, request_access_config(b, l->network), req->forwards,
				   req->n_forwards, &shadowed, rp);
	if (r)
		return r;
	r = broker_add_forwards(b, l, req->forwards, req->n_forwards, shadowed);
	if (r)
		return forward_failure(b, req, l, r, rp);
	log_lease_info(l, "forwards added by uid %u: %s", (unsigned)connection_peer(c)->uid,
		       forwards_describe(l->forwards + l->n_forwards - req->n_forwards,
					 req->n_forwards, what, sizeof(what)));
	warn_shadowing(l, req->n_forwards, shadowed);
	rp->json = json_pack("{s:o}", "lease", lease_reply_json(l));
	return 0;
}

static int handle_forward_remove(struct broker *b, struct connection *c, const struct request *req,
				 struct reply *rp)
{
	const struct port_forward *unknown = NULL;
	char what[48];
	struct lease *l = NULL;
	int r;

	r = find_lease(b, c, req, &l, rp);
	if (r)
		return r;
	r = broker_remove_forwards(b, l, req->forwards, req->n_forwards, &unknown);
	if (r > 0)
		return request_fail(rp, status_from(r), "%s forwards no %s port %u",
				    lease_ref(req, what, sizeof(what)),
				    forward_protocol_to_string(unknown->protocol),
				    unknown->external_port);
	if (r < 0)
		return r;
	log_lease_info(l, "%u forward(s) removed by uid %u", req->n_forwards,
		       (unsigned)connection_peer(c)->uid);
	rp->json = json_pack("{s:o}", "lease", lease_reply_json(l));
	return 0;
}

/* The forwards of the lease @req names, or of every lease the caller may see in full. */
static int handle_forward_list(struct broker *b, struct connection *c, const struct request *req,
			       struct reply *rp)
{
	uid_t uid = connection_peer(c)->uid;
	json_t *leases = json_array();
	struct network *n;
	struct lease *l = NULL;
	int r;

	if (req->lease_id || req->ifname[0]) {
		r = find_lease(b, c, req, &l, rp);
		if (r) {
			json_decref(leases);
			return r;
		}
		json_array_append_new(leases, lease_reply_json(l));
	} else {
		TAILQ_FOREACH(n, &b->registry.networks, link)
			TAILQ_FOREACH(l, &n->leases, network_link)
				if (l->n_forwards && (uid == 0 || uid == l->uid))
					json_array_append_new(leases, lease_reply_json(l));
	}
	rp->json = json_pack("{s:o}", "leases", leases);
	return 0;
}

/* ---- stop */

/* "uid 1000 label 'vm1' (tap vmtap3), ..." of @n's leases, for a refusal. */
static void leases_describe(const struct network *n, char *buf, size_t size)
{
	const struct lease *l;
	size_t used = 0, shown = 0;

	buf[0] = '\0';
	TAILQ_FOREACH(l, &n->leases, network_link) {
		int k;

		if (shown == 4) {
			snprintf(buf + used, size - used, ", and %zu more", n->n_leases - shown);
			return;
		}
		k = snprintf(buf + used, size - used, "%suid %u label '%s' (%s%s%s)",
			     shown ? ", " : "", (unsigned)l->uid, l->label,
			     port_kind_to_string(l->port.kind), l->port.kind != PORT_NONE ? " " : "",
			     l->port.kind != PORT_NONE ? l->port.ifname : "");
		if (k < 0 || (size_t)k >= size - used)
			return;
		used += (size_t)k;
		shown++;
	}
}

static int handle_stop(struct broker *b, struct connection *c, const struct request *req,
		       struct reply *rp)
{
	uid_t uid = connection_peer(c)->uid;
	struct network *n = registry_find_network(&b->registry, req->network_name);
	json_t *ended, *net;
	struct lease *l;
	char who[320];

	if (uid != 0)
		return request_fail(rp, VMNET_BROKER_NOT_ALLOWED,
				    "only root may stop a network (uid %u asked to stop '%s')",
				    (unsigned)uid, req->network_name);
	if (!n)
		return request_fail(rp, VMNET_BROKER_NOT_FOUND,
				    "network '%s' is not running ('vmnet-broker status' lists those that are)",
				    req->network_name);
	if (n->n_leases && !req->force) {
		leases_describe(n, who, sizeof(who));
		return request_fail(rp, VMNET_BROKER_CONFLICT,
				    "network '%s' has %zu lease(s): %s; 'vmnet-broker stop --force %s' "
				    "ends them",
				    n->config.name, n->n_leases, who, n->config.name);
	}
	ended = json_array();
	TAILQ_FOREACH(l, &n->leases, network_link)
		json_array_append_new(ended, lease_to_json(l, n->subnet.addr, true));
	net = network_to_json(n);
	rp->json = json_pack("{s:o, s:o}", "network", net, "ended_leases", ended);
	broker_stop_network(b, n, uid);
	return 0;
}

int request_manage(struct broker *b, struct connection *c, const struct request *req, struct reply *rp)
{
	switch (req->command) {
	case REQUEST_RELEASE:
		return handle_release(b, c, req, rp);
	case REQUEST_FORWARD_ADD:
		return handle_forward_add(b, c, req, rp);
	case REQUEST_FORWARD_REMOVE:
		return handle_forward_remove(b, c, req, rp);
	case REQUEST_FORWARD_LIST:
		return handle_forward_list(b, c, req, rp);
	case REQUEST_STOP:
		return handle_stop(b, c, req, rp);
	default:
		return request_fail(rp, VMNET_BROKER_INTERNAL_ERROR, "unhandled command");
	}
}

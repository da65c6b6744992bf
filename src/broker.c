/* broker.c - struct broker: the registry of networks, request dispatch, error -> status mapping
 *
 * This is the only file that turns module results into contract status
 * codes: positive module codes are expected outcomes with their own
 * status; negative errno while creating a network or port is
 * CREATE_FAILURE; any other negative errno is INTERNAL_ERROR.
 */
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "broker.h"
#include "adopt.h"
#include "config.h"
#include "lease.h"
#include "log.h"
#include "netlink.h"
#include "network.h"
#include "nft.h"
#include "protocol.h"
#include "server.h"
#include "util.h"

#define SOCKET_GROUP "vmnet-broker"

_printf_(3, 4) static void reply_error(struct connection *c, int status, const char *fmt, ...)
{
	const struct ucred *p = connection_peer(c);
	_cleanup_(json_decrefp) json_t *reply = NULL;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info("[peer %d uid %u] %s: %s", (int)p->pid, (unsigned)p->uid, status_to_name(status),
		 msg);
	reply = reply_error_new(status, msg);
	if (reply)
		(void)connection_reply(c, reply, NULL, 0);
}

static void reply_json(struct connection *c, json_t *reply, const int *fds, size_t n_fds)
{
	if (!reply) {
		reply_error(c, VMNET_BROKER_INTERNAL_ERROR, "out of memory");
		return;
	}
	(void)connection_reply(c, reply, fds, n_fds);
	json_decref(reply);
}

static int status_from_lease_e(int r)
{
	switch (r) {
	case LEASE_E_NOT_NETNS:
		return VMNET_BROKER_INVALID_REQUEST;
	case LEASE_E_NOT_OWNER:
		return VMNET_BROKER_NOT_ALLOWED;
	case LEASE_E_MAC_TAKEN:
	case LEASE_E_IFNAME_TAKEN:
		return VMNET_BROKER_CONFLICT;
	case LEASE_E_NO_ADDRESS:
		return VMNET_BROKER_LIMIT_EXCEEDED;
	default:
		return VMNET_BROKER_INTERNAL_ERROR;
	}
}

static struct client *client_get(struct connection *c)
{
	struct client *cl = connection_get_data(c);

	if (cl)
		return cl;
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return NULL;
	TAILQ_INIT(&cl->leases);
	cl->conn = c;
	connection_set_data(c, cl);
	return cl;
}

static void handle_acquire(struct broker *b, struct connection *c, const struct request *req,
			   int netns_fd)
{
	const struct ucred *peer = connection_peer(c);
	struct network_config config;
	struct network *n;
	struct lease *l;
	struct client *cl = NULL;
	int fds[QUEUES_MAX];
	size_t n_fds = 0;
	json_t *reply;
	char mac[18];
	int r;

	if (config_lookup(b->opt.config_dir, req->network_name, &config) != 0)
		return reply_error(c, VMNET_BROKER_NOT_FOUND, "no network named '%s'",
				   req->network_name);
	if (req->port == PORT_NONE || req->port == PORT_NAMED_TAP) {
		cl = client_get(c);
		if (!cl)
			return reply_error(c, VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	}

	r = network_acquire(b, &config, &n);
	if (r == NETWORK_E_POOL_EXHAUSTED)
		return reply_error(c, VMNET_BROKER_LIMIT_EXCEEDED,
				   "network '%s': no free /24 left in the subnet pool",
				   req->network_name);
	if (r < 0) {
		log_error_errno(r, "[network %s] Failed to create network: %m", req->network_name);
		return reply_error(c, VMNET_BROKER_CREATE_FAILURE,
				   "failed to create network '%s': %s", req->network_name,
				   strerror(-r));
	}

	r = lease_new(n, req, peer, netns_fd, &l, fds);
	if (r > 0)
		return reply_error(c, status_from_lease_e(r), "network '%s': %s", req->network_name,
				   lease_error_to_string(r));
	if (r < 0) {
		log_error_errno(r, "[network %s] Failed to create %s port for pid %d: %m",
				n->config.name, port_kind_to_string(req->port), (int)peer->pid);
		return reply_error(c, VMNET_BROKER_CREATE_FAILURE,
				   "failed to create %s port on network '%s': %s",
				   port_kind_to_string(req->port), req->network_name, strerror(-r));
	}
	if (cl) {
		l->client = cl;
		TAILQ_INSERT_TAIL(&cl->leases, l, client_link);
	}
	if (l->kind == PORT_TAP)
		n_fds = req->queues;

	log_info("[network %s] uid %u pid %d label '%s': %s port %s mac %s", n->config.name,
		 (unsigned)l->uid, (int)l->pid, l->label, port_kind_to_string(l->kind),
		 l->kind == PORT_NONE ? "-" : l->ifname,
		 l->kind == PORT_NONE ? "-" : mac_format(l->mac, mac));
	reply = network_to_json(n);
	if (reply) {
		json_object_set_new(reply, "port", lease_port_json(l));
		reply = json_pack("{s:o}", "network", reply);
	}
	reply_json(c, reply, fds, n_fds);
	/* The TAP is the client's now; our copies would keep it alive forever.
	 * If the send failed, this close is what removes it, and the link
	 * monitor ends the lease. */
	for (size_t i = 0; i < n_fds; i++)
		safe_close(fds[i]);
}

static void handle_status(struct broker *b, struct connection *c)
{
	uid_t uid = connection_peer(c)->uid;
	json_t *nets = json_array();
	struct network *n;

	TAILQ_FOREACH(n, &b->networks, link)
		json_array_append_new(nets, network_status_json(n, uid));
	reply_json(c, json_pack("{s:i, s:o}", "version", PROTOCOL_VERSION, "networks", nets), NULL,
		   0);
}

static void handle_networks(struct broker *b, struct connection *c)
{
	_cleanup_free_ struct network_config *v = NULL;
	json_t *nets;
	size_t n;
	int r;

	r = config_list(b->opt.config_dir, &v, &n);
	if (r < 0)
		return reply_error(c, VMNET_BROKER_INTERNAL_ERROR, "failed to list networks: %s",
				   strerror(-r));
	nets = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(
			nets, json_pack("{s:s, s:s, s:s, s:b, s:[]}", "name", v[i].name, "mode",
					network_mode_to_string(v[i].mode), "source", v[i].source,
					"active", network_find(b, v[i].name) != NULL, "errors"));
	reply_json(c, json_pack("{s:o}", "networks", nets), NULL, 0);
}

static void on_request(void *userdata, struct connection *c, const char *msg, size_t len, int *fds,
		       size_t n_fds)
{
	struct broker *b = userdata;
	char err[PROTOCOL_ERROR_MAX];
	struct request req;
	size_t want_fds;

	if (request_parse(msg, len, &req, err) != 0) {
		reply_error(c, VMNET_BROKER_INVALID_REQUEST, "%s", err);
		goto out;
	}
	want_fds = req.command == REQUEST_ACQUIRE && req.port == PORT_NETNS ? 1 : 0;
	if (n_fds != want_fds) {
		reply_error(c, VMNET_BROKER_INVALID_REQUEST,
			    want_fds ? "a 'netns' acquire carries exactly one fd, the namespace (got %zu)"
				     : "this request carries no file descriptors (got %zu)",
			    n_fds);
		goto out;
	}
	switch (req.command) {
	case REQUEST_ACQUIRE:
		handle_acquire(b, c, &req, want_fds ? fds[0] : -EBADF);
		break;
	case REQUEST_STATUS:
		handle_status(b, c);
		break;
	case REQUEST_NETWORKS:
		handle_networks(b, c);
		break;
	default:
		reply_error(c, VMNET_BROKER_INTERNAL_ERROR, "unhandled command");
	}
out:
	for (size_t i = 0; i < n_fds; i++)
		safe_close(fds[i]);
}

static void on_disconnect(void *userdata, struct connection *c)
{
	struct broker *b = userdata;
	struct client *cl = connection_get_data(c);
	struct lease *l;

	if (!cl)
		return;
	while ((l = TAILQ_FIRST(&cl->leases))) {
		if (b->stopping && l->kind == PORT_NAMED_TAP) {
			/* The daemon goes, not the client: keep the VM's TAP. */
			TAILQ_REMOVE(&cl->leases, l, client_link);
			l->client = NULL;
			continue;
		}
		log_info("[network %s] uid %u pid %d: %s lease %s ended: connection closed",
			 l->network->config.name, (unsigned)l->uid, (int)l->pid,
			 port_kind_to_string(l->kind), l->kind == PORT_NONE ? "-" : l->ifname);
		lease_free(l);
	}
	free(cl);
	connection_set_data(c, NULL);
}

static struct lease *find_lease_by_ifindex(struct broker *b, int ifindex)
{
	struct network *n;
	struct lease *l;

	TAILQ_FOREACH(n, &b->networks, link)
		TAILQ_FOREACH(l, &n->leases, network_link)
			if (l->ifindex == ifindex)
				return l;
	return NULL;
}

static void end_lease_port_gone(struct lease *l)
{
	log_info("[network %s] uid %u pid %d label '%s': %s port %s gone, lease ended",
		 l->network->config.name, (unsigned)l->uid, (int)l->pid, l->label,
		 port_kind_to_string(l->kind), l->ifname);
	/* The kernel already removed it; don't try again by a reused index. */
	l->ifindex = 0;
	lease_free(l);
}

static void on_link_gone(void *userdata, int ifindex)
{
	struct lease *l = find_lease_by_ifindex(userdata, ifindex);

	if (l)
		end_lease_port_gone(l);
}

static void on_link_resync(void *userdata)
{
	struct broker *b = userdata;
	struct network *n;
	struct lease *l, *next;

	log_warning("Link monitor lost events, checking every port");
	/* Ending a lease may arm (never fire) an idle timer, so networks stay. */
	TAILQ_FOREACH(n, &b->networks, link)
		for (l = TAILQ_FIRST(&n->leases); l; l = next) {
			next = TAILQ_NEXT(l, network_link);
			if (l->ifindex > 0 && netlink_link_exists(b->nl, l->ifindex) == 0)
				end_lease_port_gone(l);
		}
}

/* Members of group "vmnet-broker" may connect; without the group, anyone. */
static gid_t socket_group(void)
{
	struct group *g = getgrnam(SOCKET_GROUP);

	if (!g) {
		log_debug("No group '" SOCKET_GROUP "': socket open to all users");
		return (gid_t)-1;
	}
	return g->gr_gid;
}

int broker_new(sd_event *event, const struct broker_options *opt, struct broker **ret)
{
	struct broker *b;
	int r;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->event = sd_event_ref(event);
	b->opt = *opt;
	TAILQ_INIT(&b->networks);

	r = netlink_new(event, on_link_gone, on_link_resync, b, &b->nl);
	if (r < 0) {
		log_error_errno(r, "Failed to open rtnetlink: %m");
		goto fail;
	}
	r = nft_new(&b->nft);
	if (r < 0) {
		log_error_errno(r, "Failed to set up libnftables: %m");
		goto fail;
	}
	r = server_new(event, opt->socket_path, opt->listen_fd, socket_group(), on_request,
		       on_disconnect, b, &b->server);
	if (r == -EADDRINUSE) {
		log_error("Another vmnet-brokerd is already serving on '%s'", opt->socket_path);
		goto fail;
	}
	if (r < 0) {
		log_error_errno(r, "Failed to listen on '%s': %m", opt->socket_path);
		goto fail;
	}
	/* After listen(), which proves no other daemon runs; before the loop,
	 * so clients wait in the backlog until adoption is done. */
	r = broker_adopt(b);
	if (r < 0)
		goto fail;
	*ret = b;
	return 0;
fail:
	broker_free(b);
	return r;
}

struct broker *broker_free(struct broker *b)
{
	struct network *n, *next;

	if (!b)
		return NULL;
	/*
	 * Stopping must never cut a running VM: networks with leases stay up,
	 * recorded for the next daemon; only unused ones are removed. (Removing
	 * everything on purpose is broker_remove_all().)
	 */
	b->stopping = true;
	b->server = server_free(b->server);
	for (n = TAILQ_FIRST(&b->networks); n; n = next) {
		next = TAILQ_NEXT(n, link);
		if (n->n_leases == 0)
			network_free(n);
	}
	while ((n = TAILQ_FIRST(&b->networks))) {
		log_info("[network %s] Left running for its %zu lease(s)", n->config.name,
			 n->n_leases);
		network_abandon(n);
	}
	b->nft = nft_free(b->nft);
	b->nl = netlink_free(b->nl);
	sd_event_unref(b->event);
	free(b);
	return NULL;
}

void broker_remove_all(struct broker *b)
{
	struct network *n;

	while ((n = TAILQ_FIRST(&b->networks))) {
		log_notice("[network %s] Removing, with its %zu lease(s), as asked", n->config.name,
			   n->n_leases);
		network_free(n);
	}
}

bool broker_is_idle(const struct broker *b)
{
	return b->n_networks == 0 && server_connection_count(b->server) == 0;
}

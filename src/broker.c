/* broker.c - struct broker: the registry of networks, request dispatch, error -> status mapping
 *
 * This is the only file that turns module results into contract status
 * codes: positive module codes are expected outcomes with their own
 * status; negative errno while creating a network or port is
 * CREATE_FAILURE; any other negative errno is INTERNAL_ERROR.
 */
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "bgclose.h"
#include "broker.h"
#include "access.h"
#include "adopt.h"
#include "config-dir.h"
#include "config.h"
#include "dnsmasq-env.h"
#include "forward.h"
#include "lease.h"
#include "log.h"
#include "netlink.h"
#include "network.h"
#include "nft.h"
#include "protocol.h"
#include "ra.h"
#include "server.h"
#include "subnet.h"
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
	log_info("[peer %d uid %u] %s: %s", (int)p->pid, (unsigned)p->uid, status_to_name(status), msg);
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
	case LEASE_E_ADDRESS_TAKEN:
	case LEASE_E_FORWARD_TAKEN:
		return VMNET_BROKER_CONFLICT;
	case LEASE_E_NO_ADDRESS:
		return VMNET_BROKER_LIMIT_EXCEEDED;
	case LEASE_E_FORWARD_HOST_ONLY:
	case LEASE_E_FORWARD_NO_ADDRESS:
		return VMNET_BROKER_INVALID_REQUEST;
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

static size_t ports_of_user(struct broker *b, uid_t uid)
{
	const struct network *n;
	const struct lease *l;
	size_t count = 0;

	TAILQ_FOREACH(n, &b->networks, link)
		TAILQ_FOREACH(l, &n->leases, network_link)
			count += l->uid == uid && l->kind != PORT_NONE;
	return count;
}

static size_t holds_of(const struct client *cl)
{
	const struct lease *l;
	size_t count = 0;

	if (cl)
		TAILQ_FOREACH(l, &cl->leases, client_link)
			count++;
	return count;
}

/*
 * Every resource a client can make the daemon create has a limit.
 * Return: 0, or the status to answer with, after replying.
 */
static int check_limits(struct broker *b, struct connection *c, const struct request *req)
{
	const struct ucred *peer = connection_peer(c);
	struct network *n = network_find(b, req->network_name);
	size_t count;

	if (!n && b->n_networks >= b->opt.max_networks) {
		reply_error(c, VMNET_BROKER_LIMIT_EXCEEDED,
			    "network '%s': the daemon already runs %zu networks, its limit",
			    req->network_name, b->n_networks);
		return VMNET_BROKER_LIMIT_EXCEEDED;
	}
	if (n && req->port != PORT_NONE && n->n_leases >= BROKER_MAX_PORTS_PER_NETWORK) {
		reply_error(c, VMNET_BROKER_LIMIT_EXCEEDED,
			    "network '%s' has %d ports, the most a bridge takes", req->network_name,
			    BROKER_MAX_PORTS_PER_NETWORK);
		return VMNET_BROKER_LIMIT_EXCEEDED;
	}
	if (peer->uid != 0 && req->port != PORT_NONE &&
	    (count = ports_of_user(b, peer->uid)) >= b->opt.max_ports_per_user) {
		reply_error(c, VMNET_BROKER_LIMIT_EXCEEDED,
			    "uid %u already holds %zu ports, its limit", (unsigned)peer->uid, count);
		return VMNET_BROKER_LIMIT_EXCEEDED;
	}
	if ((req->port == PORT_NONE || req->port == PORT_NAMED_TAP) &&
	    holds_of(connection_get_data(c)) >= BROKER_MAX_HOLDS_PER_CONNECTION) {
		reply_error(c, VMNET_BROKER_LIMIT_EXCEEDED,
			    "this connection already holds %d leases, its limit (open another)",
			    BROKER_MAX_HOLDS_PER_CONNECTION);
		return VMNET_BROKER_LIMIT_EXCEEDED;
	}
	return 0;
}

/* Reread what changed in the network files; on failure, the last view stays. */
static void refresh_configs(struct broker *b)
{
	int r = config_dir_refresh(b->configs);

	if (r < 0)
		log_warning_errno(r, "Failed to read network files in '%s', using what was read before: %m",
				  b->opt.config_dir);
}

/*
 * The configuration to create or join @name with: the running network's
 * own, or the built-in or valid file. *@ret_access is what decides who
 * may use it: the file as it is now, so taking someone off a list counts
 * at once, or the running network's when the file is gone or broken.
 * Return: 0, or the status after replying.
 */
static int find_config(struct broker *b, struct connection *c, const char *name,
		       const struct network_config **ret, const struct network_config **ret_access)
{
	struct network *n = network_find(b, name);
	const struct config_entry *e = NULL;
	const struct network_config *cfg = NULL;
	int r;

	refresh_configs(b);
	r = config_dir_lookup(b->configs, name, &cfg, &e);
	*ret = n ? &n->config : cfg;
	*ret_access = r == 0 ? cfg : *ret;
	if (n || r == 0)
		return 0;
	if (r == CONFIG_E_INVALID) {
		reply_error(c, VMNET_BROKER_NOT_FOUND, "network '%s': %s has errors: %s%s%s%s",
			    name, e->path, e->errors.v[0].key, *e->errors.v[0].key ? ": " : "",
			    e->errors.v[0].reason,
			    e->errors.n > 1 ? " (and more: see 'vmnet-broker networks')" : "");
		return VMNET_BROKER_NOT_FOUND;
	}
	reply_error(c, VMNET_BROKER_NOT_FOUND,
		    "no network named '%s' (no built-in network and no file %s/%s.json)", name,
		    b->opt.config_dir, name);
	return VMNET_BROKER_NOT_FOUND;
}

static int check_access(struct connection *c, const struct network_config *cfg)
{
	const struct ucred *peer = connection_peer(c);
	struct access_peer p = { .uid = peer->uid, .gid = peer->gid };

	p.groups = connection_peer_groups(c, &p.n_groups);
	if (access_check(cfg, &p) == 0)
		return 0;
	reply_error(c, VMNET_BROKER_NOT_ALLOWED,
		    "network '%s': uid %u is not in allowed_users, nor in a group of allowed_groups, of %s",
		    cfg->name, (unsigned)peer->uid, cfg->source ? cfg->source : "its configuration");
	return VMNET_BROKER_NOT_ALLOWED;
}

/* The first of @v (@n of them) that another network forwards already, in words. */
static void describe_taken_forward(struct broker *b, const struct port_forward *v, size_t n,
				   char *buf, size_t size)
{
	snprintf(buf, size, "a requested port");
	for (size_t i = 0; i < n; i++) {
		struct network *o = forward_owner(b, v[i].protocol, v[i].external_port);

		if (o) {
			snprintf(buf, size, "%s port %u is already forwarded, by network '%s'",
				 forward_protocol_to_string(v[i].protocol), v[i].external_port,
				 o->config.name);
			return;
		}
	}
}

/* Answer a positive NETWORK_E_* of network_acquire() for @cfg. */
static void reply_network_e(struct broker *b, struct connection *c,
			    const struct network_config *cfg, int r)
{
	char pool[32], sub[32], why[160];
	struct prefix4 p;
	struct network *o;

	if (cfg->has_subnet) {
		network_config_subnet(cfg, &p.addr, &p.len);
		prefix4_format(&p, sub, sizeof(sub));
	}
	switch (r) {
	case NETWORK_E_POOL_EXHAUSTED:
		return reply_error(c, VMNET_BROKER_LIMIT_EXCEEDED,
				   "network '%s': no free /24 left in the subnet pool %s (each "
				   "overlaps an address or route of the host, a running network or "
				   "a network file's subnet)",
				   cfg->name, prefix4_format(&b->opt.pool, pool, sizeof(pool)));
	case NETWORK_E_SUBNET_IN_USE:
		return reply_error(c, VMNET_BROKER_CONFLICT,
				   "network '%s': subnet %s overlaps an address or route of the host",
				   cfg->name, sub);
	case NETWORK_E_SUBNET_TAKEN:
		o = subnet_find_overlap(b, &p);
		return reply_error(c, VMNET_BROKER_CONFLICT,
				   "network '%s': subnet %s overlaps running network '%s'",
				   cfg->name, sub, o ? o->config.name : "?");
	case NETWORK_E_PREFIX_TAKEN:
		return reply_error(c, VMNET_BROKER_CONFLICT,
				   "network '%s': ipv6_prefix overlaps that of a running network",
				   cfg->name);
	case NETWORK_E_FORWARD_TAKEN:
		describe_taken_forward(b, cfg->forwards, cfg->n_forwards, why, sizeof(why));
		return reply_error(c, VMNET_BROKER_CONFLICT, "network '%s': %s", cfg->name, why);
	default:
		return reply_error(c, VMNET_BROKER_INTERNAL_ERROR,
				   "network '%s': unexpected result %d", cfg->name, r);
	}
}

/* "tap vmtap3 mac 52:54:00:12:34:56 address 192.168.64.3", or "none", for the journal. */
static const char *port_describe(const struct lease *l, char *buf, size_t size)
{
	char mac[18], ip[16];

	if (l->kind == PORT_NONE)
		return "none";
	snprintf(buf, size, "%s %s mac %s%s%s", port_kind_to_string(l->kind), l->ifname,
		 mac_format(l->mac, mac), l->host ? " address " : "",
		 l->host ? addr4_format(l->network->subnet.addr + l->host, ip, sizeof(ip)) : "");
	return buf;
}

static void handle_acquire(struct broker *b, struct connection *c, const struct request *req,
			   int netns_fd)
{
	const struct ucred *peer = connection_peer(c);
	const struct network_config *config, *access;
	struct network *n;
	struct lease *l;
	struct client *cl = NULL;
	int fds[QUEUES_MAX];
	size_t n_fds = 0;
	json_t *reply;
	char desc[96], why[160];
	int r;

	if (find_config(b, c, req->network_name, &config, &access) != 0 || check_access(c, access) != 0)
		return;
	if (req->port == PORT_NONE || req->port == PORT_NAMED_TAP) {
		cl = client_get(c);
		if (!cl)
			return reply_error(c, VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	}

	if (check_limits(b, c, req) != 0)
		return;
	r = network_acquire(b, config, &n);
	if (r > 0)
		return reply_network_e(b, c, config, r);
	if (r < 0) {
		log_error_errno(r, "[network %s] Failed to create network: %m", req->network_name);
		return reply_error(c, VMNET_BROKER_CREATE_FAILURE, "failed to create network '%s': %s",
				   req->network_name, strerror(-r));
	}

	r = lease_new(n, req, peer, netns_fd, &l, fds);
	if (r == LEASE_E_FORWARD_TAKEN) {
		describe_taken_forward(b, req->forwards, req->n_forwards, why, sizeof(why));
		return reply_error(c, VMNET_BROKER_CONFLICT, "network '%s': %s", req->network_name,
				   why);
	}
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
	r = network_start_dhcp(n);
	if (r < 0) {
		log_error_errno(r, "[network %s] Failed to start dnsmasq: %m", n->config.name);
		for (size_t i = 0; l->kind == PORT_TAP && i < req->queues; i++)
			bgclose(fds[i]);
		lease_free(l);
		/* Made for this acquire, most likely: nothing half-built stays. */
		if (n->n_leases == 0 && !n->config.persistent)
			network_free(n);
		return reply_error(c, VMNET_BROKER_CREATE_FAILURE,
				   "network '%s': failed to start dnsmasq: %s", req->network_name,
				   strerror(-r));
	}
	if (cl) {
		l->client = cl;
		TAILQ_INSERT_TAIL(&cl->leases, l, client_link);
	}
	if (l->kind == PORT_TAP)
		n_fds = req->queues;

	reply = network_to_json(n);
	if (reply) {
		json_object_set_new(reply, "port", lease_port_json(l));
		reply = json_pack("{s:o}", "network", reply);
	}
	reply_json(c, reply, fds, n_fds);
	/*
	 * The client is waiting for this reply, and the kernel usually wakes
	 * it on this CPU: left there, it would wait for everything below and
	 * for the DHCP reservation (~150 us, more than the client's own work
	 * after the reply). A hint to let it run first: the bookkeeping
	 * follows when it blocks or the daemon's turn comes back, at worst a
	 * scheduler slice later on a busy CPU. No effect when nothing else is
	 * ready here. Measured: acquire p50 ~0.85 to ~0.75 ms, idle and under
	 * CPU hogs alike (docs/performance.md, 1).
	 */
	(void)sched_yield();
	/* The TAP is the client's now; our copies would keep it alive forever.
	 * If the send failed, or the client has closed its copy already, this
	 * close is what removes it (and the link monitor ends the lease):
	 * slow, so not on the loop. */
	for (size_t i = 0; i < n_fds; i++)
		bgclose(fds[i]);
	/* After the reply: the journal is no part of handing over a port. */
	log_info("[network %s] uid %u pid %d label '%s': lease begun: %s", n->config.name,
		 (unsigned)l->uid, (int)l->pid, l->label, port_describe(l, desc, sizeof(desc)));
}

static void handle_status(struct broker *b, struct connection *c)
{
	uid_t uid = connection_peer(c)->uid;
	json_t *nets = json_array();
	struct network *n;

	TAILQ_FOREACH(n, &b->networks, link)
		json_array_append_new(nets, network_status_json(n, uid));
	reply_json(c, json_pack("{s:i, s:o}", "version", PROTOCOL_VERSION, "networks", nets), NULL, 0);
}

/*
 * One entry of `networks`: the configuration with its errors, whether it
 * runs, and whether what runs differs from the file (it applies when the
 * network is next created).
 */
static json_t *network_entry_json(struct broker *b, const struct network_config *cfg,
				  const struct config_errors *errors)
{
	struct network *n = network_find(b, cfg->name);
	const struct network_config *run = n ? &n->config : NULL;
	bool pending = false;
	json_t *o = config_json(cfg, errors);

	if (run && cfg->source)
		pending = !run->source || !streq(run->source, cfg->source) ||
			  !config_stamp_equal(&run->stamp, &cfg->stamp);
	if (o) {
		json_object_set_new(o, "active", json_boolean(n != NULL));
		json_object_set_new(o, "pending_change", json_boolean(pending));
	}
	return o;
}

static void handle_networks(struct broker *b, struct connection *c)
{
	const struct network_config *builtins;
	json_t *nets = json_array();
	struct network *n;
	size_t count;

	refresh_configs(b);
	builtins = config_builtins(&count);
	for (size_t i = 0; i < count; i++)
		json_array_append_new(nets, network_entry_json(b, &builtins[i], NULL));
	for (size_t i = 0; i < b->configs->n; i++)
		json_array_append_new(nets, network_entry_json(b, &b->configs->v[i].config,
							       &b->configs->v[i].errors));
	/* Running, but its file is gone: it stays until it is removed. */
	TAILQ_FOREACH(n, &b->networks, link)
		if (n->config.source && !config_dir_find(b->configs, n->config.name)) {
			json_t *o = config_json(&n->config, NULL);

			json_object_set_new(o, "active", json_true());
			json_object_set_new(o, "pending_change", json_true());
			json_array_append_new(nets, o);
		}
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
	char desc[96];

	if (!cl)
		return;
	while ((l = TAILQ_FIRST(&cl->leases))) {
		if (b->stopping && l->kind == PORT_NAMED_TAP) {
			/* The daemon goes, not the client: keep the VM's TAP. */
			TAILQ_REMOVE(&cl->leases, l, client_link);
			l->client = NULL;
			continue;
		}
		log_info("[network %s] uid %u pid %d label '%s': lease ended (connection closed): %s",
			 l->network->config.name, (unsigned)l->uid, (int)l->pid, l->label,
			 port_describe(l, desc, sizeof(desc)));
		lease_free(l);
	}
	free(cl);
	connection_set_data(c, NULL);
}

struct lease *broker_find_lease(struct broker *b, int ifindex)
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
	char desc[96];

	log_info("[network %s] uid %u pid %d label '%s': lease ended (port gone): %s",
		 l->network->config.name, (unsigned)l->uid, (int)l->pid, l->label,
		 port_describe(l, desc, sizeof(desc)));
	/* The kernel already removed it; don't try again by a reused index. */
	l->ifindex = 0;
	lease_free(l);
}

static void on_link_gone(void *userdata, int ifindex)
{
	struct lease *l = broker_find_lease(userdata, ifindex);

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

/* At start: say once what is wrong with which file. */
static void log_config_errors(struct broker *b)
{
	refresh_configs(b);
	for (size_t i = 0; i < b->configs->n; i++) {
		const struct config_errors *e = &b->configs->v[i].errors;

		for (size_t j = 0; j < e->n; j++)
			log_warning("%s: %s%s%s", e->v[j].file, e->v[j].key,
				    *e->v[j].key ? ": " : "", e->v[j].reason);
	}
	log_info("Read %zu network file(s) from '%s'", b->configs->n, b->opt.config_dir);
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
	b->next_lease_id = 1;
	TAILQ_INIT(&b->networks);
	r = dnsmasq_env_new(&b->dnsmasq_env);
	if (r < 0)
		goto fail;
	r = config_dir_new(opt->config_dir, &b->configs);
	if (r < 0)
		goto fail;
	config_dir_watch(b->configs);
	log_config_errors(b);

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
	r = ra_new(event, &b->ra);
	if (r < 0) {
		log_error_errno(r, "Failed to open the router advertisement socket: %m");
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
	server_set_max_connections(b->server, opt->max_connections);
	server_set_silence_timeout(b->server, opt->silence_timeout_usec);
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
		log_info("[network %s] Left running for its %zu lease(s)", n->config.name, n->n_leases);
		network_abandon(n);
	}
	b->ra = ra_free(b->ra);
	b->dnsmasq_env = dnsmasq_env_free(b->dnsmasq_env);
	b->nft = nft_free(b->nft);
	b->nl = netlink_free(b->nl);
	b->configs = config_dir_free(b->configs);
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

void broker_start_persistent(struct broker *b)
{
	refresh_configs(b);
	for (size_t i = 0; i < b->configs->n; i++) {
		const struct config_entry *e = &b->configs->v[i];
		struct network *n;
		int r;

		if (!config_entry_valid(e) || !e->config.persistent || network_find(b, e->name))
			continue;
		r = network_acquire(b, &e->config, &n);
		if (r < 0) {
			log_error_errno(r, "[network %s] Failed to create persistent network: %m",
					e->name);
			continue;
		}
		if (r > 0) {
			log_error("[network %s] Failed to create persistent network: %s", e->name,
				  r == NETWORK_E_POOL_EXHAUSTED
					  ? "no free subnet in the pool"
					  : "its subnet, ipv6_prefix or a forwarded port is taken");
			continue;
		}
		r = network_start_dhcp(n);
		if (r < 0)
			log_error_errno(r, "[network %s] Failed to start dnsmasq, trying again at the next acquire: %m",
					e->name);
		log_info("[network %s] Persistent: up until the daemon stops", e->name);
	}
}

/* request.c - one request, from its bytes to its one reply: acquire, wait_address, status, networks
 *
 * Handlers decide the status and a message for a person where the
 * failure is understood (module codes become statuses in one switch,
 * status_from() in request-reply.c), and return them;
 * request_dispatch() sends the one reply, success or error, and closes
 * what came with the request. Who may use a network and forward which
 * ports is asked of request-access.c; release, forwards and stop are
 * request-manage.c's.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "broker.h"
#include "config-dir.h"
#include "config.h"
#include "forward.h"
#include "frr.h"
#include "guest.h"
#include "hostfw.h"
#include "lease.h"
#include "log.h"
#include "network.h"
#include "port.h"
#include "protocol.h"
#include "registry.h"
#include "request-access.h"
#include "request-manage.h"
#include "request-reply.h"
#include "request.h"
#include "server.h"
#include "span.h"
#include "util.h"

/*
 * A wait_address that waits: for its lease's guest to have an address,
 * for the lease to end, for its timeout, or for its connection to close.
 * The connection reads no request meanwhile (connection_hold()).
 */
struct wait {
	struct lease_waiter w;
	struct broker *b;
	struct connection *c;
	struct client *cl;
	sd_event_source *timer;
	char network[NETWORK_NAME_MAX + 1];
	char ifname[IFNAMSIZ];
	unsigned int timeout;
};

static void send_error(struct connection *c, const struct reply *rp);
static void send_out_of_memory(struct connection *c);

/* ---- acquire */

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

static size_t holds_of(const struct client *cl)
{
	const struct lease *l;
	size_t count = 0;

	if (cl)
		TAILQ_FOREACH(l, &cl->leases, client_link)
			count++;
	return count;
}

static int check_limits(struct broker *b, struct connection *c, const struct request *req,
			struct reply *rp)
{
	uid_t uid = connection_peer(c)->uid;
	int r = broker_check_limits(b, req, uid, holds_of(connection_get_data(c)));

	switch (r) {
	case 0:
		return 0;
	case BROKER_E_NETWORKS:
		return request_fail(rp, status_from(r),
				    "network '%s': the daemon already runs %zu networks, its limit",
				    req->network_name, b->registry.n_networks);
	case BROKER_E_NETWORK_PORTS:
		return request_fail(rp, status_from(r),
				    "network '%s' has %d ports, the most a bridge takes",
				    req->network_name, BROKER_MAX_PORTS_PER_NETWORK);
	case BROKER_E_USER_PORTS:
		return request_fail(rp, status_from(r),
				    "uid %u already holds %zu ports and holds, its limit "
				    "(--max-ports-per-user): release one first",
				    (unsigned)uid, registry_ports_of_user(&b->registry, uid));
	default:
		return request_fail(rp, status_from(r),
				    "this connection already holds %d leases, its limit (open another)",
				    BROKER_MAX_HOLDS_PER_CONNECTION);
	}
}

/* The span's host addresses, "A, B, C", into @buf. */
static void span_hosts(const struct span_config *c, char *buf, size_t size)
{
	size_t n = 0;
	char a[16];

	buf[0] = '\0';
	for (size_t i = 0; i < c->n_hosts && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "",
				      addr4_format(c->hosts[i].address, a, sizeof(a)));
}

/* Answer a SPAN_E_* code of broker_acquire_network() for @cfg. */
static int span_failure(struct broker *b, const struct network_config *cfg, int r, struct reply *rp)
{
	char hosts[256];

	span_hosts(&cfg->span, hosts, sizeof(hosts));
	if (r == SPAN_E_NOT_LISTED && b->opt.span_address)
		return request_fail(rp, status_from(r),
				    "network '%s': --span-address is not one of its span's hosts (%s) "
				    "held by this host",
				    cfg->name, hosts);
	if (r == SPAN_E_NOT_LISTED)
		return request_fail(rp, status_from(r),
				    "network '%s': this host holds none of its span's host addresses (%s)",
				    cfg->name, hosts);
	if (r == SPAN_E_AMBIGUOUS)
		return request_fail(rp, status_from(r),
				    "network '%s': this host holds several of its span's host addresses "
				    "(%s): start the daemon with --span-address to say which is its",
				    cfg->name, hosts);
	return request_fail(rp, status_from(r),
			    "network '%s': mtu %u with VXLAN's %d bytes needs an MTU of at least %u on "
			    "the link of this host's span address",
			    cfg->name, cfg->mtu, SPAN_OVERHEAD, cfg->mtu + SPAN_OVERHEAD);
}

/* Answer a positive code of broker_acquire_network() for @cfg. */
static int network_failure(struct broker *b, const struct network_config *cfg, int r, struct reply *rp)
{
	char pool[32], sub[32], why[160];
	struct prefix4 p = {};
	struct network *o;

	if (cfg->has_subnet) {
		network_config_subnet(cfg, &p.addr, &p.len);
		prefix4_format(&p, sub, sizeof(sub));
	}
	switch (r) {
	case NETWORK_E_POOL_EXHAUSTED:
		return request_fail(rp, status_from(r),
				    "network '%s': no free /24 left in the subnet pool %s (each "
				    "overlaps an address or route of the host, a running network or "
				    "a network file's subnet)",
				    cfg->name, prefix4_format(&b->opt.pool, pool, sizeof(pool)));
	case NETWORK_E_SUBNET_IN_USE:
		return request_fail(rp, status_from(r),
				    "network '%s': subnet %s overlaps an address or route of the host",
				    cfg->name, sub);
	case NETWORK_E_SUBNET_TAKEN:
		o = registry_subnet_overlap(&b->registry, &p);
		return request_fail(rp, status_from(r),
				    "network '%s': subnet %s overlaps running network '%s'",
				    cfg->name, sub, o ? o->config.name : "?");
	case NETWORK_E_PREFIX_TAKEN:
		return request_fail(rp, status_from(r),
				    "network '%s': ipv6_prefix overlaps that of a running network",
				    cfg->name);
	case NETWORK_E_FORWARD_TAKEN:
		describe_taken_forward(b, cfg->forwards, cfg->n_forwards, why, sizeof(why));
		return request_fail(rp, status_from(r), "network '%s': %s", cfg->name, why);
	case SPAN_E_NOT_LISTED:
	case SPAN_E_AMBIGUOUS:
	case SPAN_E_UNDERLAY_MTU:
		return span_failure(b, cfg, r, rp);
	default:
		return request_fail(rp, VMNET_BROKER_INTERNAL_ERROR,
				    "network '%s': unexpected result %d", cfg->name, r);
	}
}

/* Answer a failure of @req's port: a code of port_check_netns() or broker_add_lease(). */
static int port_failure(struct broker *b, const struct request *req, int r, bool dhcp_failed,
			struct reply *rp)
{
	char why[160];

	if (r == NETWORK_E_FORWARD_TAKEN) {
		describe_taken_forward(b, req->forwards, req->n_forwards, why, sizeof(why));
		return request_fail(rp, status_from(r), "network '%s': %s", req->network_name, why);
	}
	if (r == PORT_E_NOT_NETNS)
		return request_fail(rp, status_from(r),
				    "network '%s': the file descriptor is not a network namespace "
				    "(pass /proc/PID/ns/net or /run/netns/NAME, opened for reading)",
				    req->network_name);
	if (r == PORT_E_NETNS_O_PATH)
		return request_fail(rp, status_from(r),
				    "network '%s': the file descriptor is an O_PATH one, which cannot be "
				    "used: open the namespace O_RDONLY",
				    req->network_name);
	if (r == PORT_E_NOT_OWNER)
		return request_fail(rp, status_from(r),
				    "network '%s': the caller does not own that network namespace",
				    req->network_name);
	if (r == PORT_E_IFNAME_TAKEN && req->port == PORT_NAMED_TAP)
		return request_fail(rp, status_from(r),
				    "network '%s': an interface named '%s' exists already on the host",
				    req->network_name, req->ifname);
	if (r > 0)
		return request_fail(rp, status_from(r), "network '%s': %s", req->network_name,
				    network_error_to_string(r));
	if (dhcp_failed)
		return request_fail(rp, VMNET_BROKER_CREATE_FAILURE,
				    "network '%s': failed to start dnsmasq: %s", req->network_name,
				    strerror(-r));
	return request_fail(rp, VMNET_BROKER_CREATE_FAILURE,
			    "failed to create %s port on network '%s': %s",
			    port_kind_to_string(req->port), req->network_name, strerror(-r));
}

/*
 * Whether @req may go on: its network exists (*@ret its configuration),
 * the caller may use it, and no limit is hit. *@ret_client: the
 * connection's holdings, for a lease that ends with it.
 */
static int admit(struct broker *b, struct connection *c, const struct request *req,
		 const struct network_config **ret, struct client **ret_client, struct reply *rp)
{
	const struct network_config *access;
	int r;

	r = request_find_config(b, req->network_name, ret, &access, rp);
	if (r == 0)
		r = request_check_access(c, access, rp);
	if (r == 0)
		r = request_check_forwards(b, c, access, req->forwards, req->n_forwards,
					   &rp->shadowed, rp);
	if (r)
		return r;
	*ret_client = NULL;
	if (broker_request_holds(req)) {
		*ret_client = client_get(c);
		if (!*ret_client)
			return request_fail(rp, VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	}
	return check_limits(b, c, req, rp);
}

/* @req's lease and port on @n, a TAP's fds into the reply; NULL with the error in @rp. */
static struct lease *add_port(struct broker *b, struct connection *c, const struct request *req,
			      int netns_fd, struct network *n, struct reply *rp)
{
	const struct ucred *peer = connection_peer(c);
	const struct port_spec spec = {
		.kind = req->port,
		.queues = req->queues,
		.vnet_hdr = req->vnet_hdr,
		.netns_fd = netns_fd,
		.peer_ifname = req->port == PORT_NETNS ? req->ifname : NULL,
		.ifname = req->port == PORT_NAMED_TAP ? req->ifname : NULL,
	};
	bool dhcp_failed = false;
	struct lease *l;
	int r;

	r = lease_new(b->env.next_lease_id++, req, peer, &l);
	if (r == 0) {
		l->shadowed = rp->shadowed;
		r = broker_add_lease(b, n, l, &spec, &rp->fds, &dhcp_failed);
	}
	if (r == 0)
		return l;
	if (r < 0 && !dhcp_failed)
		log_netname_error_errno(req->network_name, r, "Failed to create %s port for pid %d: %m",
					port_kind_to_string(req->port), (int)peer->pid);
	(void)port_failure(b, req, r, dhcp_failed, rp);
	return NULL;
}

static int handle_acquire(struct broker *b, struct connection *c, const struct request *req,
			  int netns_fd, struct reply *rp)
{
	const struct network_config *config;
	struct client *cl;
	struct network *n;
	struct lease *l;
	int r;

	r = admit(b, c, req, &config, &cl, rp);
	if (r)
		return r;
	/* Before the network: a request that cannot be served makes nothing. */
	if (req->port == PORT_NETNS) {
		r = port_check_netns(netns_fd, connection_peer(c)->uid);
		if (r)
			return port_failure(b, req, r, false, rp);
	}
	r = broker_check_port_name(b, req);
	if (r > 0)
		return port_failure(b, req, r, false, rp);
	r = broker_acquire_network(b, config, &n);
	if (r > 0)
		return network_failure(b, config, r, rp);
	if (r < 0) {
		log_netname_error_errno(req->network_name, r, "Failed to create network: %m");
		return request_fail(rp, VMNET_BROKER_CREATE_FAILURE,
				    "failed to create network '%s': %s", req->network_name,
				    strerror(-r));
	}
	l = add_port(b, c, req, netns_fd, n, rp);
	if (!l)
		return rp->status;
	if (cl) {
		l->client = cl;
		TAILQ_INSERT_TAIL(&cl->leases, l, client_link);
	}
	rp->json = network_to_json(n);
	if (rp->json) {
		json_object_set_new(rp->json, "port", lease_port_json(l, n->subnet.addr));
		rp->json = json_pack("{s:o}", "network", rp->json);
	}
	rp->lease = l;
	return 0;
}

/* ---- wait_address */

/* {"address", "network_name", "lease"}: the guest's address and the lease as status shows it. */
static json_t *wait_reply_json(const struct lease *l, uint32_t address, uid_t uid)
{
	char a[16];

	return json_pack("{s:s, s:s, s:o}", "address", addr4_format(address, a, sizeof(a)),
			 "network_name", l->network->config.name, "lease",
			 network_lease_json(l->network, l, uid));
}

static struct wait *wait_free(struct wait *w)
{
	if (!w)
		return NULL;
	lease_waiter_cancel(&w->w);
	sd_event_source_disable_unref(w->timer);
	if (w->cl)
		w->cl->waiter = NULL;
	free(w);
	return NULL;
}

/* Its connection closed: nobody to answer. */
static void wait_drop(struct lease_waiter *lw)
{
	wait_free((struct wait *)lw);
}

/* Send @w's one reply (@json, else the error in @rp), and read the connection's requests again. */
static void wait_answer(struct wait *w, json_t *json, const struct reply *rp)
{
	struct connection *c = w->c;

	if (json) {
		if (connection_reply(c, json, NULL, 0) == -ENOMEM)
			send_out_of_memory(c);
	} else
		send_error(c, rp);
	json_decref(json);
	wait_free(w);
	connection_resume(c);
}

static void on_wait_news(struct lease_waiter *lw, struct lease *l, uint32_t address)
{
	struct wait *w = (struct wait *)lw;
	json_t *json = address ? wait_reply_json(l, address, connection_peer(w->c)->uid) : NULL;
	struct reply rp = {};

	if (!json && address)
		(void)request_fail(&rp, VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	else if (!json)
		(void)request_fail(&rp, VMNET_BROKER_NOT_FOUND, "port %s of network '%s' went away",
				   w->ifname, w->network);
	wait_answer(w, json, &rp);
}

static int on_wait_timeout(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct wait *w = userdata;
	struct reply rp = {};

	(void)request_fail(&rp, VMNET_BROKER_TIMEOUT,
			   "the guest behind port %s of network '%s' had no IPv4 address in %u s",
			   w->ifname, w->network, w->timeout);
	wait_answer(w, NULL, &rp);
	return 0;
}

/* The lease @req names, as @c may see it; NULL with the error in @rp. */
static struct lease *wait_target(struct broker *b, struct connection *c, const struct request *req,
				 struct reply *rp)
{
	uid_t uid = connection_peer(c)->uid;
	const char *where = *req->network_name ? req->network_name : "any network";
	struct lease *l;
	size_t count;

	if (req->has_label) {
		/* Only the caller's own labels: another user's are not shown to it. */
		count = registry_find_label(&b->registry, req->network_name, req->label, uid, &l);
		if (count > 1)
			(void)request_fail(rp, VMNET_BROKER_INVALID_REQUEST,
					   "label '%s' names %zu ports on %s; name the port by its ifname",
					   req->label, count, where);
		else if (count == 0)
			(void)request_fail(rp, VMNET_BROKER_NOT_FOUND,
					   "no port labelled '%s' on %s", req->label, where);
		return count == 1 ? l : NULL;
	}
	l = registry_find_port(&b->registry, req->network_name, req->ifname);
	/* One being removed has ended, though its port is still there. */
	if (!l || l->removing)
		(void)request_fail(rp, VMNET_BROKER_NOT_FOUND, "no port %s on %s", req->ifname, where);
	else if (uid != 0 && l->uid != uid)
		(void)request_fail(rp, VMNET_BROKER_NOT_ALLOWED, "port %s is another user's",
				   req->ifname);
	return rp->status == VMNET_BROKER_SUCCESS ? l : NULL;
}

/* Wait on @l for up to @req->timeout seconds, the connection held. */
static int wait_start(struct broker *b, struct connection *c, const struct request *req,
		      struct lease *l, struct reply *rp)
{
	_cleanup_free_ struct wait *w = calloc(1, sizeof(*w));
	struct client *cl = client_get(c);
	int r;

	if (!w || !cl)
		return request_fail(rp, VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	r = sd_event_add_time_relative(b->event, &w->timer, CLOCK_MONOTONIC,
				       req->timeout * 1000000ULL, 0, on_wait_timeout, w);
	if (r < 0)
		return request_fail(rp, VMNET_BROKER_INTERNAL_ERROR, "%s", strerror(-r));
	w->b = b;
	w->c = c;
	w->cl = cl;
	w->timeout = req->timeout;
	w->w.fn = on_wait_news;
	w->w.free = wait_drop;
	snprintf(w->network, sizeof(w->network), "%s", l->network->config.name);
	snprintf(w->ifname, sizeof(w->ifname), "%s", l->port.ifname);
	lease_waiter_add(l, &w->w);
	cl->waiter = &TAKE_PTR(w)->w;
	connection_hold(c);
	rp->later = true;
	return 0;
}

static int handle_wait_address(struct broker *b, struct connection *c, const struct request *req,
			       struct reply *rp)
{
	struct lease *l = wait_target(b, c, req, rp);
	uint32_t address;

	if (!l)
		return rp->status;
	address = network_port_address(l->network, l);
	if (address) {
		rp->json = wait_reply_json(l, address, connection_peer(c)->uid);
		return 0;
	}
	if (req->timeout == 0)
		return request_fail(rp, VMNET_BROKER_TIMEOUT,
				    "the guest behind port %s of network '%s' has no IPv4 address yet",
				    l->port.ifname, l->network->config.name);
	/* One wait per connection: its requests are not read until it ends. */
	return wait_start(b, c, req, l, rp);
}

/* ---- status, networks */

static int handle_status(struct broker *b, struct connection *c, struct reply *rp)
{
	uid_t uid = connection_peer(c)->uid;
	json_t *nets = json_array();
	struct network *n;

	/* A host service may have bound a forwarded port since the last look. */
	broker_check_host_listeners(b);
	/* EVPN sessions as FRR last told (at most a second ago when asked often). */
	frr_refresh(b->frr);
	TAILQ_FOREACH(n, &b->registry.networks, link)
		json_array_append_new(nets, network_status_json(n, uid));
	/* What the host's firewall holds for the networks: nothing in it names a user. */
	rp->json = json_pack("{s:i, s:o, s:o*}", "version", PROTOCOL_VERSION, "networks", nets,
			     "host", hostfw_status_json(b->hostfw));
	return 0;
}

/* "cidr" and "ipv6_cidr" of @o: @p, and @ula/@len6 when @ula is set; nothing where @p is empty. */
static void set_cidrs(json_t *o, const struct prefix4 *p, const uint8_t *ula, unsigned int len6)
{
	char buf[INET6_ADDRSTRLEN + 8], a6[INET6_ADDRSTRLEN];

	if (p->len)
		json_object_set_new(o, "cidr", json_string(prefix4_format(p, buf, sizeof(buf))));
	if (ula) {
		snprintf(buf, sizeof(buf), "%s/%u", inet_ntop(AF_INET6, ula, a6, sizeof(a6)), len6);
		json_object_set_new(o, "ipv6_cidr", json_string(buf));
	}
}

/* Where running network @n lives, in CIDR form. */
static void set_running_cidrs(json_t *o, const struct network *n)
{
	set_cidrs(o, &n->subnet, n->ula, network_prefix6_len(n));
}

/* Where @cfg fixes its network, in CIDR form: nothing for what the pool or chance decides. */
static void set_fixed_cidrs(json_t *o, const struct network_config *cfg)
{
	struct prefix4 p = {};

	/* @cfg is a configuration the daemon holds, never NULL (the analyzer
	 * supposes configs->v NULL with n > 0). NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
	if (cfg->has_subnet)
		network_config_subnet(cfg, &p.addr, &p.len);
	set_cidrs(o, &p, cfg->has_ipv6_prefix ? cfg->ipv6_prefix : NULL, cfg->ipv6_prefix_len);
}

/*
 * One entry of `networks`: the configuration with its errors, whether it
 * runs, and whether what runs differs from the file (it applies when the
 * network is next created).
 */
static json_t *network_entry_json(struct broker *b, const struct network_config *cfg,
				  const struct config_errors *errors)
{
	struct network *n = registry_find_network(&b->registry, cfg->name);
	const struct network_config *run = n ? &n->config : NULL;
	bool pending = false;
	json_t *o = config_json(cfg, errors);

	if (run && cfg->source)
		pending = !run->source || !streq(run->source, cfg->source) ||
			  !config_stamp_equal(&run->stamp, &cfg->stamp);
	if (o) {
		json_object_set_new(o, "active", json_boolean(n != NULL));
		json_object_set_new(o, "pending_change", json_boolean(pending));
		if (n)
			set_running_cidrs(o, n);
		else if (!errors || errors->n == 0)
			set_fixed_cidrs(o, cfg);
	}
	return o;
}

static int handle_networks(struct broker *b, struct reply *rp)
{
	const struct network_config *builtins;
	json_t *nets = json_array();
	struct network *n;
	size_t count;

	broker_refresh_configs(b);
	builtins = config_builtins(&count);
	for (size_t i = 0; i < count; i++)
		json_array_append_new(nets, network_entry_json(b, &builtins[i], NULL));
	for (size_t i = 0; i < b->configs->n; i++)
		json_array_append_new(nets, network_entry_json(b, &b->configs->v[i].config,
							       &b->configs->v[i].errors));
	/* Running, but its file is gone: it stays until it is removed. */
	TAILQ_FOREACH(n, &b->registry.networks, link)
		if (n->config.source && !config_dir_find(b->configs, n->config.name)) {
			json_t *o = config_json(&n->config, NULL);

			json_object_set_new(o, "active", json_true());
			json_object_set_new(o, "pending_change", json_true());
			set_running_cidrs(o, n);
			json_array_append_new(nets, o);
		}
	rp->json = json_pack("{s:o}", "networks", nets);
	return 0;
}

/* ---- dispatch */

static int handle(struct broker *b, struct connection *c, const char *msg, size_t len,
		  const int *fds, size_t n_fds, struct reply *rp)
{
	char err[PROTOCOL_ERROR_MAX];
	struct request req;
	size_t want_fds;
	int r;

	r = request_parse(msg, len, &req, err);
	if (r)
		return request_fail(rp, status_from(r), "%s", err);
	want_fds = req.command == REQUEST_ACQUIRE && req.port == PORT_NETNS ? 1 : 0;
	if (n_fds != want_fds)
		return request_fail(rp, VMNET_BROKER_INVALID_REQUEST,
				    want_fds ? "a 'netns' acquire carries exactly one fd, the namespace (got %zu)"
					     : "this request carries no file descriptors (got %zu)",
				    n_fds);
	switch (req.command) {
	case REQUEST_ACQUIRE:
		return handle_acquire(b, c, &req, want_fds ? fds[0] : -EBADF, rp);
	case REQUEST_STATUS:
		return handle_status(b, c, rp);
	case REQUEST_NETWORKS:
		return handle_networks(b, rp);
	case REQUEST_RELEASE:
	case REQUEST_FORWARD_ADD:
	case REQUEST_FORWARD_REMOVE:
	case REQUEST_FORWARD_LIST:
	case REQUEST_STOP:
		return request_manage(b, c, &req, rp);
	case REQUEST_WAIT_ADDRESS:
		return handle_wait_address(b, c, &req, rp);
	default:
		return request_fail(rp, VMNET_BROKER_INTERNAL_ERROR, "unhandled command");
	}
}

/* Every request gets its one reply: this one when no other can be made. */
static void send_out_of_memory(struct connection *c)
{
	static const char oom[] = "{\"error\":7,\"message\":\"out of memory\"}";

	static_assert(VMNET_BROKER_INTERNAL_ERROR == 7, "the code in oom[]");
	(void)connection_reply_text(c, oom, NULL, 0);
}

/* Send the error @rp holds; the line the daemon logs of it names the client. */
static void send_error(struct connection *c, const struct reply *rp)
{
	_cleanup_(json_decrefp) json_t *reply = reply_error_new(rp->status, rp->message);

	log_client_info(c, "%s: %s", status_to_name(rp->status), rp->message);
	if (!reply || connection_reply(c, reply, NULL, 0) == -ENOMEM)
		send_out_of_memory(c);
}

/*
 * After an acquire's reply. The client is waiting for it, and the kernel
 * usually wakes it on this CPU: left there, it would wait for everything
 * below and for the DHCP reservation (~150 us, more than the client's own
 * work after the reply). A hint to let it run first: the bookkeeping
 * follows when it blocks or the daemon's turn comes back, at worst a
 * scheduler slice later on a busy CPU. No effect when nothing else is
 * ready here. Measured: acquire p50 ~0.85 to ~0.75 ms, idle and under CPU
 * hogs alike (docs/performance.md, 1).
 */
static void after_acquire(struct reply *rp)
{
	const struct lease *l = rp->lease;
	char desc[96];

	(void)sched_yield();
	/* The TAP is the client's now; our copies would keep it alive forever.
	 * If the send failed, or the client has closed its copy already, this
	 * close is what removes it (and the link monitor ends the lease):
	 * slow, so not on the loop. */
	tap_fds_close(&rp->fds);
	/* After the reply: the journal is no part of handing over a port. */
	log_lease_info(l, "lease begun: %s",
		       lease_describe(l, l->network->subnet.addr, desc, sizeof(desc)));
	for (size_t i = 0; i < l->n_forwards && i < 32; i++)
		if (l->shadowed & (1u << i))
			log_lease_full_errno(l, LOG_WARNING, 0,
					     "forward %s shadows a host service listening on %s "
					     "port %u (root may): outside traffic for that port "
					     "reaches this guest",
					     forward_format(&l->forwards[i], desc, sizeof(desc)),
					     forward_protocol_to_string(l->forwards[i].protocol),
					     l->forwards[i].external_port);
}

void request_dispatch(void *userdata, struct connection *c, const char *msg, size_t len, int *fds,
		      size_t n_fds)
{
	struct reply rp = { .status = VMNET_BROKER_SUCCESS };
	int r;

	r = handle(userdata, c, msg, len, fds, n_fds, &rp);
	if (r < 0)
		(void)request_fail(&rp, VMNET_BROKER_INTERNAL_ERROR, "%s", strerror(-r));
	else if (r == 0 && !rp.json && !rp.later)
		(void)request_fail(&rp, VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	/* A wait that waits answers later, itself. */
	if (rp.status == VMNET_BROKER_SUCCESS) {
		if (!rp.later && connection_reply(c, rp.json, rp.fds.fd, rp.fds.n) == -ENOMEM)
			send_out_of_memory(c);
	} else
		send_error(c, &rp);
	json_decref(rp.json);
	if (rp.status == VMNET_BROKER_SUCCESS && rp.lease)
		after_acquire(&rp);
	/* What did not ride on the reply; and whatever happens, the received fds. */
	tap_fds_close(&rp.fds);
	for (size_t i = 0; i < n_fds; i++)
		safe_close(fds[i]);
}

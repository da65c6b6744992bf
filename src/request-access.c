/* request-access.c - who may use a network, and forward which host ports, as a request asks
 *
 * The checks acquire and forward_add share, their refusals answered
 * with what to do about them.
 */
#include <stdio.h>
#include <string.h>

#include "access.h"
#include "broker.h"
#include "config-dir.h"
#include "config.h"
#include "forward.h"
#include "network.h"
#include "protocol.h"
#include "registry.h"
#include "request-access.h"
#include "request-reply.h"
#include "server.h"
#include "util.h"

/*
 * The configuration to create or join @name with: the running network's
 * own, or the built-in or valid file. *@ret_access is what decides who
 * may use it: the file as it is now, so taking someone off a list counts
 * at once, or the running network's when the file is gone or broken.
 */
int request_find_config(struct broker *b, const char *name, const struct network_config **ret,
			const struct network_config **ret_access, struct reply *rp)
{
	struct network *n = registry_find_network(&b->registry, name);
	const struct config_entry *e = NULL;
	const struct network_config *cfg = NULL;
	int r;

	broker_refresh_configs(b);
	r = config_dir_lookup(b->configs, name, &cfg, &e);
	*ret = n ? &n->config : cfg;
	*ret_access = r == 0 ? cfg : *ret;
	if (n || r == 0)
		return 0;
	if (r == CONFIG_E_INVALID)
		return request_fail(rp, status_from(r), "network '%s': %s has errors: %s%s%s%s",
				    name, e->path, e->errors.v[0].key,
				    *e->errors.v[0].key ? ": " : "", e->errors.v[0].reason,
				    e->errors.n > 1 ? " (and more: see 'vmnet-broker networks')" : "");
	return request_fail(rp, status_from(r),
			    "no network named '%s' (no built-in network and no file %s/%s.json)",
			    name, b->opt.config_dir, name);
}

const struct network_config *request_access_config(struct broker *b, struct network *n)
{
	const struct network_config *cfg = NULL;
	struct reply ignored = {};
	const struct network_config *run;

	/* Running: request_find_config() cannot fail. */
	(void)request_find_config(b, n->config.name, &run, &cfg, &ignored);
	return cfg ? cfg : &n->config;
}

int request_check_access(struct connection *c, const struct network_config *cfg, struct reply *rp)
{
	const struct ucred *peer = connection_peer(c);
	struct access_peer p = { .uid = peer->uid, .gid = peer->gid };
	int r;

	p.groups = connection_peer_groups(c, &p.n_groups);
	r = access_check(cfg, &p);
	if (r == 0)
		return 0;
	return request_fail(rp, status_from(r),
			    "network '%s': uid %u is not in allowed_users, nor in a group of allowed_groups, of %s",
			    cfg->name, (unsigned)peer->uid,
			    cfg->source ? cfg->source : "its configuration");
}

/* Answer a refusal of broker_check_forwards() of @v on network @cfg. */
static int forward_refused(const struct network_config *cfg, int r,
			   const struct forward_refusal *why, uid_t uid, struct reply *rp)
{
	const struct port_forward *f = why->forward;
	const char *proto = forward_protocol_to_string(f->protocol);
	const char *file = cfg->source ? cfg->source : "its configuration";
	const char *name = cfg->name;

	switch (r) {
	case FORWARD_E_CLOSED:
		return request_fail(rp, status_from(r),
				    "network '%s' allows no port_forwards on its leases "
				    "(lease_port_forwards of %s): do without them, or ask its "
				    "administrator",
				    name, file);
	case FORWARD_E_NOT_LISTED:
		return request_fail(rp, status_from(r),
				    "network '%s': uid %u may not forward ports (not in "
				    "lease_port_forwards' allowed_users or allowed_groups of %s)",
				    name, (unsigned)uid, file);
	case FORWARD_E_PRIVILEGED:
		return request_fail(rp, status_from(r),
				    "network '%s': %s port %u is below "
				    "net.ipv4.ip_unprivileged_port_start (%u): only root may forward "
				    "it; choose a port from %u up",
				    name, proto, f->external_port, why->unpriv_start,
				    why->unpriv_start);
	case FORWARD_E_OUT_OF_RANGE:
		return request_fail(rp, status_from(r),
				    "network '%s': %s port %u is outside the range this network allows "
				    "for port_forwards (%u-%u, lease_port_forwards of %s)",
				    name, proto, f->external_port, cfg->lease_forwards.port_min,
				    cfg->lease_forwards.port_max, file);
	case FORWARD_E_RESERVED:
		return request_fail(rp, status_from(r),
				    "network '%s': %s port %u is reserved by network file '%s' (%s): "
				    "choose another port",
				    name, proto, f->external_port, why->file->config.name,
				    why->file->path);
	case NETWORK_E_FORWARD_TAKEN:
		/* As the golden error-conflict.json has it. */
		return request_fail(rp, status_from(r),
				    "network '%s': %s port %u is already forwarded, by network '%s'",
				    name, proto, f->external_port, why->owner->config.name);
	case FORWARD_E_HOST_LISTENER:
		return request_fail(rp, status_from(r),
				    "network '%s': %s port %u is in use on the host (a service listens "
				    "on it): choose another port",
				    name, proto, f->external_port);
	default:
		return request_fail(rp, VMNET_BROKER_INTERNAL_ERROR,
				    "network '%s': cannot tell whether the host uses %s port %u: %s",
				    name, proto, f->external_port,
				    r < 0 ? strerror(-r) : "unexpected result");
	}
}

int request_check_forwards(struct broker *b, struct connection *c, const struct network_config *cfg,
			   const struct port_forward *v, size_t n, uint32_t *ret_shadowed,
			   struct reply *rp)
{
	const struct ucred *peer = connection_peer(c);
	struct access_peer p = { .uid = peer->uid, .gid = peer->gid };
	struct forward_refusal why;
	int r;

	p.groups = connection_peer_groups(c, &p.n_groups);
	r = broker_check_forwards(b, cfg, &p, v, n, ret_shadowed, &why);
	return r ? forward_refused(cfg, r, &why, peer->uid, rp) : 0;
}

void describe_taken_forward(struct broker *b, const struct port_forward *v, size_t n, char *buf,
			    size_t size)
{
	struct network *o;
	const struct port_forward *f = forward_table_first_taken(&b->forwards, v, n, &o);

	if (f)
		snprintf(buf, size, "%s port %u is already forwarded, by network '%s'",
			 forward_protocol_to_string(f->protocol), f->external_port, o->config.name);
	else
		snprintf(buf, size, "a requested port");
}

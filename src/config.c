/* config.c - what a network should be: the built-in networks, errors as data, and what
 * network files cannot have together (pure; one file's parser is config-parse.c)
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "config.h"
#include "pool.h"
#include "util.h"

static const char *const mode_names[] = {
	[MODE_SHARED] = "shared",
	[MODE_HOST] = "host",
};
static_assert(ELEMENTSOF(mode_names) == _MODE_MAX, "mode names");

static const char *const span_control_names[] = {
	[SPAN_STATIC] = "static",
	[SPAN_EVPN] = "evpn",
};
static_assert(ELEMENTSOF(span_control_names) == _SPAN_CONTROL_MAX, "span control names");

/* @n initializes a char array: no parentheses around it (NOLINT below). */
#define BUILTIN(n, m)                                                                          \
	{                                                                                      \
		.name = n, /* NOLINT(bugprone-macro-parentheses) */ .mode = (m), .dhcp = true, \
		.dns_proxy = true, .nat44 = (m) == MODE_SHARED, .nat66 = (m) == MODE_SHARED,   \
		.router_advertisement = true, .mtu = 1500, .ipv6_prefix_len = 64               \
	}

/* Sorted by name, as `networks` lists them. */
static const struct network_config builtins[] = {
	BUILTIN("host", MODE_HOST),
	BUILTIN("shared", MODE_SHARED),
};

const char *network_mode_to_string(enum network_mode m)
{
	return m < _MODE_MAX ? mode_names[m] : NULL;
}

const char *span_control_to_string(enum span_control c)
{
	return c < _SPAN_CONTROL_MAX ? span_control_names[c] : NULL;
}

const struct network_config *config_builtin(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(builtins); i++)
		if (streq(builtins[i].name, name))
			return &builtins[i];
	return NULL;
}

const struct network_config *config_builtins(size_t *ret_n)
{
	*ret_n = ELEMENTSOF(builtins);
	return builtins;
}

static void strv_free(char **v, size_t n)
{
	/* v is NULL with n set when a copy failed (network_config_copy()). */
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static int strv_copy(char ***dst, char *const *src, size_t n)
{
	*dst = NULL;
	if (n == 0)
		return 0;
	*dst = calloc(n, sizeof(char *));
	if (!*dst)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		(*dst)[i] = strdup(src[i]);
		if (!(*dst)[i])
			return -ENOMEM;
	}
	return 0;
}

void network_config_clear(struct network_config *c)
{
	free(c->source);
	free(c->description);
	free(c->forwards);
	free(c->reservations);
	free(c->span.hosts);
	strv_free(c->allowed_users, c->n_allowed_users);
	strv_free(c->allowed_groups, c->n_allowed_groups);
	strv_free(c->lease_forwards.allowed_users, c->lease_forwards.n_allowed_users);
	strv_free(c->lease_forwards.allowed_groups, c->lease_forwards.n_allowed_groups);
	c->lease_forwards.allowed_users = c->lease_forwards.allowed_groups = NULL;
	c->lease_forwards.n_allowed_users = c->lease_forwards.n_allowed_groups = 0;
	c->source = c->description = NULL;
	c->forwards = NULL;
	c->reservations = NULL;
	c->span.hosts = NULL;
	c->span.n_hosts = 0;
	c->allowed_users = c->allowed_groups = NULL;
	c->n_forwards = c->n_reservations = c->n_allowed_users = c->n_allowed_groups = 0;
}

static void *memdup(const void *p, size_t size)
{
	void *q;

	if (!p || size == 0)
		return NULL;
	q = malloc(size);
	return q ? memcpy(q, p, size) : NULL;
}

int network_config_copy(struct network_config *dst, const struct network_config *src)
{
	struct network_config c = *src;
	int r = 0;

	c.source = src->source ? strdup(src->source) : NULL;
	c.description = src->description ? strdup(src->description) : NULL;
	c.forwards = memdup(src->forwards, src->n_forwards * sizeof(*src->forwards));
	c.reservations = memdup(src->reservations, src->n_reservations * sizeof(*src->reservations));
	c.span.hosts = memdup(src->span.hosts, src->span.n_hosts * sizeof(*src->span.hosts));
	r |= strv_copy(&c.allowed_users, src->allowed_users, src->n_allowed_users);
	r |= strv_copy(&c.allowed_groups, src->allowed_groups, src->n_allowed_groups);
	r |= strv_copy(&c.lease_forwards.allowed_users, src->lease_forwards.allowed_users,
		       src->lease_forwards.n_allowed_users);
	r |= strv_copy(&c.lease_forwards.allowed_groups, src->lease_forwards.allowed_groups,
		       src->lease_forwards.n_allowed_groups);
	if (r || (src->source && !c.source) || (src->description && !c.description) ||
	    (src->n_forwards && !c.forwards) || (src->n_reservations && !c.reservations) ||
	    (src->span.n_hosts && !c.span.hosts)) {
		network_config_clear(&c);
		return -ENOMEM;
	}
	*dst = c;
	return 0;
}

void network_config_subnet(const struct network_config *c, uint32_t *ret_addr, uint8_t *ret_len)
{
	*ret_addr = c->gateway & prefix4_mask(c->prefix_len);
	*ret_len = c->prefix_len;
}

char *config_domain(const struct network_config *c, char *buf, size_t size)
{
	if (c->domain[0])
		snprintf(buf, size, "%s", c->domain);
	else
		(void)dns_default_domain(c->name, buf, size);
	return buf;
}

/* Whether @a and @b serve names under the same domain (any case). */
static bool same_domain(const struct network_config *a, const struct network_config *b)
{
	char da[DNS_DOMAIN_MAX + 1], db[DNS_DOMAIN_MAX + 1];

	if (!a->dns_proxy || !b->dns_proxy)
		return false; /* no DNS server, no names */
	config_domain(a, da, sizeof(da));
	config_domain(b, db, sizeof(db));
	return da[0] && strcasecmp(da, db) == 0;
}

/* ---- errors as data */

static int errors_push(struct config_errors *e, const char *file, const char *key, char *reason)
{
	struct config_error *v = realloc(e->v, (e->n + 1) * sizeof(*v));
	struct config_error *x;

	if (!v) {
		free(reason);
		return -ENOMEM;
	}
	e->v = v;
	x = &v[e->n];
	x->file = strdup(file ? file : "");
	x->key = strdup(key ? key : "");
	x->reason = reason;
	if (!x->file || !x->key) {
		free(x->file);
		free(x->key);
		free(reason);
		return -ENOMEM;
	}
	/* Errors quote file names, keys and jansson's words about bytes it
	 * stopped on: keep them UTF-8, or the JSON of `networks` drops them. */
	utf8_sanitize(x->file);
	utf8_sanitize(x->key);
	utf8_sanitize(x->reason);
	e->n++;
	return 0;
}

int config_errors_vadd(struct config_errors *e, const char *file, const char *key, const char *fmt,
		       va_list ap)
{
	char *reason;

	if (vasprintf(&reason, fmt, ap) < 0)
		return -ENOMEM;
	return errors_push(e, file, key, reason);
}

int config_errors_add(struct config_errors *e, const char *file, const char *key, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = config_errors_vadd(e, file, key, fmt, ap);
	va_end(ap);
	return r;
}

void config_report_add(struct config_report *r, const char *key, const char *fmt, ...)
{
	va_list ap;

	r->bad = true;
	va_start(ap, fmt);
	if (config_errors_vadd(r->errors, r->path, key, fmt, ap) < 0)
		r->oom = -ENOMEM;
	va_end(ap);
}

const char *config_report_shown(const struct config_report *r, const char *s)
{
	return r->hide ? "..." : s;
}

int config_report_result(const struct config_report *r)
{
	if (r->oom)
		return r->oom;
	return r->bad ? CONFIG_E_INVALID : 0;
}

int config_errors_append(struct config_errors *dst, const struct config_errors *src)
{
	for (size_t i = 0; i < src->n; i++) {
		char *reason = strdup(src->v[i].reason);

		if (!reason || errors_push(dst, src->v[i].file, src->v[i].key, reason) < 0)
			return -ENOMEM;
	}
	return 0;
}

void config_errors_clear(struct config_errors *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].file);
		free(e->v[i].key);
		free(e->v[i].reason);
	}
	free(e->v);
	e->v = NULL;
	e->n = 0;
}

/* ---- what files cannot have together */

static int pair_error(struct config_errors *errors, const struct network_config *const *v, size_t i,
		      size_t j, const char *key, const char *what)
{
	return config_errors_add(&errors[i], v[i]->source, key, "%s network '%s' (%s)", what,
				 v[j]->name, v[j]->source ? v[j]->source : "built in");
}

/*
 * Spans: a VNI names one segment, so two files cannot both span it; and a
 * host runs one BGP instance, so every EVPN span has its one ASN.
 */
static int check_span_pair(const struct network_config *const *v, size_t i, size_t j,
			   struct config_errors *errors)
{
	const struct span_config *a = &v[i]->span, *b = &v[j]->span;
	char what[64];
	int r = 0;

	if (!a->vni || !b->vni)
		return 0;
	if (a->vni == b->vni) {
		snprintf(what, sizeof(what), "VNI %u is also spanned by", a->vni);
		r |= pair_error(errors, v, i, j, "span.vni", what);
		r |= pair_error(errors, v, j, i, "span.vni", what);
	}
	if (a->control == SPAN_EVPN && b->control == SPAN_EVPN && a->asn != b->asn) {
		snprintf(what, sizeof(what), "ASN %u (FRR runs one BGP instance) differs from", a->asn);
		r |= pair_error(errors, v, i, j, "span.evpn.asn", what);
		snprintf(what, sizeof(what), "ASN %u (FRR runs one BGP instance) differs from", b->asn);
		r |= pair_error(errors, v, j, i, "span.evpn.asn", what);
	}
	return r;
}

static int check_pair(const struct network_config *const *v, size_t i, size_t j,
		      struct config_errors *errors)
{
	const struct network_config *a = v[i], *b = v[j];
	int r = check_span_pair(v, i, j, errors);

	if (a->has_subnet && b->has_subnet) {
		struct prefix4 pa, pb;

		network_config_subnet(a, &pa.addr, &pa.len);
		network_config_subnet(b, &pb.addr, &pb.len);
		if (prefix4_overlaps(&pa, &pb)) {
			r |= pair_error(errors, v, i, j, "subnet", "overlaps the subnet of");
			r |= pair_error(errors, v, j, i, "subnet", "overlaps the subnet of");
		}
	}
	if (a->has_ipv6_prefix && b->has_ipv6_prefix &&
	    prefix6_overlaps(a->ipv6_prefix, a->ipv6_prefix_len, b->ipv6_prefix, b->ipv6_prefix_len)) {
		r |= pair_error(errors, v, i, j, "ipv6_prefix", "overlaps the ipv6_prefix of");
		r |= pair_error(errors, v, j, i, "ipv6_prefix", "overlaps the ipv6_prefix of");
	}
	/* Two networks' names under one domain: which would the host ask? (A
	 * built-in's is checked below, where only the file is wrong.) */
	if (a->source && b->source && same_domain(a, b)) {
		r |= pair_error(errors, v, i, j, "domain", "is also the domain of");
		r |= pair_error(errors, v, j, i, "domain", "is also the domain of");
	}
	for (size_t x = 0; x < a->n_forwards; x++)
		for (size_t y = 0; y < b->n_forwards; y++) {
			char ka[64], kb[64], what[64];

			if (a->forwards[x].protocol != b->forwards[y].protocol ||
			    a->forwards[x].external_port != b->forwards[y].external_port)
				continue;
			snprintf(ka, sizeof(ka), "port_forwards[%zu].external_port", x);
			snprintf(kb, sizeof(kb), "port_forwards[%zu].external_port", y);
			snprintf(what, sizeof(what), "%s port %u is also forwarded by",
				 forward_protocol_to_string(a->forwards[x].protocol),
				 a->forwards[x].external_port);
			r |= pair_error(errors, v, i, j, ka, what);
			r |= pair_error(errors, v, j, i, kb, what);
		}
	return r ? -ENOMEM : 0;
}

int config_check_files(const struct network_config *const *v, size_t n, struct config_errors *errors)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++)
			if (check_pair(v, i, j, errors) < 0)
				return -ENOMEM;
		/* A built-in cannot be wrong: only the file gets the error. */
		for (size_t b = 0; v[i]->source && b < ELEMENTSOF(builtins); b++)
			if (same_domain(v[i], &builtins[b]) &&
			    config_errors_add(&errors[i], v[i]->source, "domain",
					      "is also the domain of the built-in network '%s'",
					      builtins[b].name) < 0)
				return -ENOMEM;
	}
	return 0;
}

json_t *config_errors_json(const struct config_errors *e)
{
	json_t *a = json_array();

	for (size_t i = 0; a && e && i < e->n; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "file", e->v[i].file, "key",
						   e->v[i].key, "reason", e->v[i].reason));
	return a;
}

static json_t *strv_json(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* {"allowed", "port_range", "allowed_users", "allowed_groups"}: what the file says. */
static json_t *lease_forwards_json(const struct lease_forwards *f)
{
	json_t *o = json_pack("{s:b}", "allowed", !f->closed);
	char range[16];

	if (o && f->port_max) {
		snprintf(range, sizeof(range), "%u-%u", f->port_min, f->port_max);
		json_object_set_new(o, "port_range", json_string(range));
	}
	if (o && f->restricted) {
		json_object_set_new(o, "allowed_users",
				    strv_json(f->allowed_users, f->n_allowed_users));
		json_object_set_new(o, "allowed_groups",
				    strv_json(f->allowed_groups, f->n_allowed_groups));
	}
	return o;
}

json_t *config_json(const struct network_config *c, const struct config_errors *errors)
{
	const char *mode = network_mode_to_string(c->mode);
	_cleanup_free_ char *source = strdup(c->source ? c->source : "builtin");
	char name[sizeof(c->name)];
	json_t *o;

	if (!source)
		return NULL;
	/* A name or path of bytes that are not UTF-8 (a file's) would make the
	 * whole entry vanish from `networks`: show it with '?' instead. */
	snprintf(name, sizeof(name), "%s", c->name);
	utf8_sanitize(name);
	utf8_sanitize(source);
	o = json_pack("{s:s, s:s, s:b, s:o}", "name", name, "source", source, "persistent",
		      c->persistent, "errors", config_errors_json(errors));
	if (o && mode)
		json_object_set_new(o, "mode", json_string(mode));
	if (o && c->description)
		json_object_set_new(o, "description", json_string(c->description));
	if (o && c->lease_forwards.given)
		json_object_set_new(o, "lease_port_forwards", lease_forwards_json(&c->lease_forwards));
	return o;
}

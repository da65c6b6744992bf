/* calls.c - libvmnet-broker: the calls that are one request and one JSON reply
 *
 * status and networks (vmnet_broker_query()); about one lease that lives,
 * release and forward_add, forward_remove, forward_list; and stop.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "protocol.h"
#include "transport.h"
#include "util.h"
#include "vmnet-broker.h"

vmnet_broker_return_t vmnet_broker_query(const char *socket_path, const char *command, char **ret_json)
{
	_cleanup_(message_done) struct message m = { 0 };
	_cleanup_(json_decrefp) json_t *req = NULL, *reply = NULL;
	_cleanup_close_ int conn = -EBADF;
	vmnet_broker_return_t s;
	char *text;

	if (!command || (!streq(command, "status") && !streq(command, "networks")))
		return fail(VMNET_BROKER_INVALID_REQUEST,
			    "unknown query '%s' (want status or networks)",
			    command ? command : "(null)");
	if (!ret_json)
		return fail(VMNET_BROKER_INVALID_REQUEST, "no place for the reply");
	req = json_pack("{s:s}", "command", command);
	if (!req)
		return fail(VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	s = transact(socket_path, req, -EBADF, &conn, &m);
	if (s != VMNET_BROKER_SUCCESS)
		return s;
	s = reply_parse(&m, "networks", JSON_ARRAY, &reply);
	if (s != VMNET_BROKER_SUCCESS)
		return s;
	if (m.n_fds > 0)
		return fail(VMNET_BROKER_INVALID_REPLY, "a '%s' reply carries fds", command);

	/* transact() succeeded, so m.buf is set; the analyzer does not follow the variadic
	 * fail(). NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
	text = strndup(m.buf, m.len);
	if (!text)
		return fail(VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	*ret_json = text;
	return VMNET_BROKER_SUCCESS;
}

/* ---- one lease, and stop */

/*
 * Send @req, take a reply with member @key of @type (and no fds) into
 * *@ret_json (when not NULL).
 */
static vmnet_broker_return_t call(const char *socket_path, const json_t *req, const char *key,
				  json_type type, char **ret_json)
{
	_cleanup_(message_done) struct message m = { 0 };
	_cleanup_(json_decrefp) json_t *reply = NULL;
	_cleanup_close_ int conn = -EBADF;
	vmnet_broker_return_t s;
	char *text;

	s = transact(socket_path, req, -EBADF, &conn, &m);
	if (s != VMNET_BROKER_SUCCESS)
		return s;
	s = reply_parse(&m, key, type, &reply);
	if (s != VMNET_BROKER_SUCCESS)
		return s;
	if (m.n_fds > 0)
		return fail(VMNET_BROKER_INVALID_REPLY, "a '%s' reply carries fds",
			    json_string_value(json_object_get(req, "command")));
	if (!ret_json)
		return VMNET_BROKER_SUCCESS;
	/* As in vmnet_broker_query(). NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
	text = strndup(m.buf, m.len);
	if (!text)
		return fail(VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	*ret_json = text;
	return VMNET_BROKER_SUCCESS;
}

/*
 * {"command": @command} naming a lease by @ifname or, without it, by
 * @lease_id; @optional: neither may be given (forward_list).
 */
static vmnet_broker_return_t lease_request(const char *command, const char *ifname,
					   long long lease_id, bool optional, json_t **ret)
{
	_cleanup_(json_decrefp) json_t *req = json_pack("{s:s}", "command", command);

	if (!req)
		return fail(VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	if (ifname) {
		if (!ifname_is_valid(ifname))
			return fail(VMNET_BROKER_INVALID_REQUEST,
				    "'%s' is not a valid interface name", ifname);
		if (lease_id > 0)
			return fail(VMNET_BROKER_INVALID_REQUEST,
				    "name the lease by its interface or by its id, not both");
		if (json_object_set_new(req, "ifname", json_string(ifname)) < 0)
			return fail(VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	} else if (lease_id > 0) {
		if (json_object_set_new(req, "lease_id", json_integer(lease_id)) < 0)
			return fail(VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	} else if (!optional || lease_id < 0) {
		return fail(VMNET_BROKER_INVALID_REQUEST,
			    "name the lease by its interface or by its id (from 1)");
	}
	*ret = TAKE_PTR(req);
	return VMNET_BROKER_SUCCESS;
}

/* @forwards (@n) as "port_forwards", with internal_port unless @host_port_only. */
static vmnet_broker_return_t add_forwards(json_t *req, const struct vmnet_broker_forward *forwards,
					  size_t n, bool host_port_only)
{
	json_t *a = json_array();

	if (!forwards || n == 0 || n > REQUEST_FORWARDS_MAX) {
		json_decref(a);
		return fail(VMNET_BROKER_INVALID_REQUEST, "give 1 to %d port forwards",
			    REQUEST_FORWARDS_MAX);
	}
	if (json_object_set_new(req, "port_forwards", a) < 0)
		return fail(VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct vmnet_broker_forward *f = &forwards[i];
		json_t *o;

		if (!f->protocol || forward_protocol_from_string(f->protocol) < 0)
			return fail(VMNET_BROKER_INVALID_REQUEST,
				    "the protocol must be \"tcp\" or \"udp\"");
		if (f->external_port < 1 || f->external_port > 65535 ||
		    (!host_port_only && (f->internal_port < 1 || f->internal_port > 65535)))
			return fail(VMNET_BROKER_INVALID_REQUEST, "ports must be from 1 to 65535");
		o = json_pack("{s:s, s:i}", "protocol", f->protocol, "external_port",
			      (int)f->external_port);
		if (o && !host_port_only)
			json_object_set_new(o, "internal_port", json_integer(f->internal_port));
		if (json_array_append_new(a, o) < 0)
			return fail(VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	}
	return VMNET_BROKER_SUCCESS;
}

vmnet_broker_return_t vmnet_broker_release(const char *socket_path, const char *ifname,
					   long long lease_id, char **ret_json)
{
	_cleanup_(json_decrefp) json_t *req = NULL;
	vmnet_broker_return_t s = lease_request("release", ifname, lease_id, false, &req);

	return s ? s : call(socket_path, req, "lease", JSON_OBJECT, ret_json);
}

/* forward_add, or (@remove) forward_remove, of @forwards (@n) on a lease. */
static vmnet_broker_return_t forward_change(const char *socket_path, const char *ifname,
					    long long lease_id,
					    const struct vmnet_broker_forward *forwards, size_t n,
					    bool remove, char **ret_json)
{
	_cleanup_(json_decrefp) json_t *req = NULL;
	vmnet_broker_return_t s = lease_request(remove ? "forward_remove" : "forward_add", ifname,
						lease_id, false, &req);

	if (!s)
		s = add_forwards(req, forwards, n, remove);
	return s ? s : call(socket_path, req, "lease", JSON_OBJECT, ret_json);
}

vmnet_broker_return_t vmnet_broker_forward_add(const char *socket_path, const char *ifname,
					       long long lease_id,
					       const struct vmnet_broker_forward *forwards,
					       size_t n, char **ret_json)
{
	return forward_change(socket_path, ifname, lease_id, forwards, n, false, ret_json);
}

vmnet_broker_return_t vmnet_broker_forward_remove(const char *socket_path, const char *ifname,
						  long long lease_id,
						  const struct vmnet_broker_forward *forwards,
						  size_t n, char **ret_json)
{
	return forward_change(socket_path, ifname, lease_id, forwards, n, true, ret_json);
}

vmnet_broker_return_t vmnet_broker_forward_list(const char *socket_path, const char *ifname,
						long long lease_id, char **ret_json)
{
	_cleanup_(json_decrefp) json_t *req = NULL;
	vmnet_broker_return_t s = lease_request("forward_list", ifname, lease_id, true, &req);

	return s ? s : call(socket_path, req, "leases", JSON_ARRAY, ret_json);
}

vmnet_broker_return_t vmnet_broker_stop_network(const char *socket_path, const char *name,
						bool force, char **ret_json)
{
	_cleanup_(json_decrefp) json_t *req = NULL;

	if (!name || !network_name_is_valid(name))
		return fail(VMNET_BROKER_INVALID_REQUEST,
			    "invalid network name '%s': 1-%d characters of A-Z, a-z, 0-9, "
			    "'.', '-', '_', starting with a letter or digit, without '..'",
			    name ? name : "(null)", NETWORK_NAME_MAX);
	req = json_pack("{s:s, s:s}", "command", "stop", "network_name", name);
	if (!req || (force && json_object_set_new(req, "force", json_true()) < 0))
		return fail(VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	return call(socket_path, req, "network", JSON_OBJECT, ret_json);
}

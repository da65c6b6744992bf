/* fuzz-request.c - libFuzzer harness of request_parse(): any bytes a peer may send
 *
 * Beyond "no crash, no leak, no undefined behaviour", it checks what the
 * daemon relies on: a refused request leaves the output untouched and says
 * why, in text an error reply can carry; an accepted one holds only valid
 * values, and reads back the same when encoded again the way the client
 * library does.
 */
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "protocol.h"
#include "util.h"

/* A wait_address as JSON again: the port by ifname or label, the network, the timeout. */
static json_t *wait_to_json(json_t *o, const struct request *req)
{
	if (req->has_label)
		json_object_set_new(o, "label", json_string(req->label));
	else
		json_object_set_new(o, "ifname", json_string(req->ifname));
	if (req->network_name[0])
		json_object_set_new(o, "network_name", json_string(req->network_name));
	json_object_set_new(o, "timeout", json_integer(req->timeout));
	return o;
}

/* "port_forwards" of @req: with internal_port, except for forward_remove. */
static json_t *forwards_to_json(const struct request *req)
{
	json_t *fwd = json_array();

	for (unsigned int i = 0; fwd && i < req->n_forwards; i++) {
		json_t *f = json_pack("{s:s, s:i}", "protocol",
				      forward_protocol_to_string(req->forwards[i].protocol),
				      "external_port", req->forwards[i].external_port);

		if (f && req->command != REQUEST_FORWARD_REMOVE)
			json_object_set_new(f, "internal_port",
					    json_integer(req->forwards[i].internal_port));
		json_array_append_new(fwd, f);
	}
	return fwd;
}

/* The keys of the commands that are not acquire. */
static json_t *other_to_json(json_t *o, const struct request *req)
{
	if (req->command == REQUEST_STOP) {
		json_object_set_new(o, "network_name", json_string(req->network_name));
		json_object_set_new(o, "force", json_boolean(req->force));
	}
	if (req->ifname[0])
		json_object_set_new(o, "ifname", json_string(req->ifname));
	if (req->lease_id)
		json_object_set_new(o, "lease_id", json_integer((json_int_t)req->lease_id));
	if (req->command == REQUEST_FORWARD_ADD || req->command == REQUEST_FORWARD_REMOVE)
		json_object_set_new(o, "port_forwards", forwards_to_json(req));
	return o;
}

/* The request as JSON again, with every key the parser filled. */
static json_t *request_to_json(const struct request *req)
{
	json_t *o = json_pack("{s:s}", "command", request_command_to_string(req->command));
	json_t *fwd;
	char mac[18];

	if (!o)
		return o;
	if (req->command == REQUEST_WAIT_ADDRESS)
		return wait_to_json(o, req);
	if (req->command != REQUEST_ACQUIRE)
		return other_to_json(o, req);
	fwd = forwards_to_json(req);
	json_object_set_new(o, "network_name", json_string(req->network_name));
	json_object_set_new(o, "persistent", json_boolean(req->persistent));
	json_object_set_new(o, "port", json_string(port_kind_to_string(req->port)));
	json_object_set_new(o, "label", json_string(req->label));
	json_object_set_new(o, "vnet_hdr", json_boolean(req->vnet_hdr));
	if (req->has_mac)
		json_object_set_new(o, "mac", json_string(mac_format(req->mac, mac)));
	if (req->ifname[0])
		json_object_set_new(o, "ifname", json_string(req->ifname));
	if (req->queues > 1)
		json_object_set_new(o, "multi_queue", json_integer(req->queues));
	if (fwd && json_array_size(fwd) > 0)
		json_object_set_new(o, "port_forwards", fwd);
	else
		json_decref(fwd);
	return o;
}

/* release, forward_*, stop: a lease named once (stop: a network), forwards as the command wants. */
static void check_valid_other(const struct request *req)
{
	bool ref = req->ifname[0] || req->lease_id;

	fuzz_check(!(req->ifname[0] && req->lease_id), "a lease named once");
	fuzz_check(!req->ifname[0] || ifname_is_valid(req->ifname), "lease ifname valid");
	if (req->command == REQUEST_STOP)
		fuzz_check(network_name_is_valid(req->network_name), "stop: network_name valid");
	if (req->command == REQUEST_RELEASE || req->command == REQUEST_FORWARD_ADD ||
	    req->command == REQUEST_FORWARD_REMOVE)
		fuzz_check(ref, "the lease is named");
	fuzz_check((req->n_forwards > 0) == (req->command == REQUEST_FORWARD_ADD ||
					     req->command == REQUEST_FORWARD_REMOVE),
		   "forwards exactly on forward_add and forward_remove");
	for (unsigned int i = 0; i < req->n_forwards; i++)
		fuzz_check((req->forwards[i].internal_port > 0) == (req->command == REQUEST_FORWARD_ADD),
			   "internal_port exactly on forward_add");
}

static void check_valid(const struct request *req)
{
	uint8_t mac[6];
	char buf[18];

	fuzz_check(req->command < _REQUEST_COMMAND_MAX, "command in range");
	if (req->command == REQUEST_WAIT_ADDRESS) {
		fuzz_check(req->has_label ? req->label[0] && label_is_valid(req->label)
					  : ifname_is_valid(req->ifname),
			   "wait_address: a valid ifname or label");
		fuzz_check(!req->network_name[0] || network_name_is_valid(req->network_name),
			   "wait_address: network_name valid");
		fuzz_check(req->timeout <= WAIT_TIMEOUT_MAX, "wait_address: timeout in range");
		return;
	}
	if (req->command != REQUEST_ACQUIRE) {
		check_valid_other(req);
		return;
	}
	fuzz_check(network_name_is_valid(req->network_name), "network_name valid");
	fuzz_check(req->port < _PORT_KIND_MAX, "port kind in range");
	fuzz_check(label_is_valid(req->label), "label valid");
	fuzz_check(!req->ifname[0] || (ifname_is_valid(req->ifname) &&
				       (req->port == PORT_NETNS || req->port == PORT_NAMED_TAP)),
		   "ifname valid and only on netns and named_tap");
	fuzz_check(!req->ifname[0] || req->port != PORT_NAMED_TAP || !ifname_reserved_why(req->ifname),
		   "a named TAP's name is not reserved");
	fuzz_check(!req->persistent || req->port == PORT_NETNS || req->port == PORT_NAMED_TAP,
		   "persistent only on netns and named_tap");
	fuzz_check(req->queues >= 1 && req->queues <= QUEUES_MAX, "queue count in range");
	fuzz_check(req->queues == 1 || req->port == PORT_TAP || req->port == PORT_NAMED_TAP,
		   "multi_queue only on TAPs");
	fuzz_check(req->n_forwards <= REQUEST_FORWARDS_MAX, "forward count in range");
	fuzz_check(req->n_forwards == 0 || req->port != PORT_NONE, "no forwards on port none");
	for (unsigned int i = 0; i < req->n_forwards; i++) {
		const struct port_forward *f = &req->forwards[i];

		fuzz_check(f->protocol < _FORWARD_PROTOCOL_MAX, "forward protocol in range");
		fuzz_check(f->external_port > 0 && f->internal_port > 0, "forward ports non-zero");
		fuzz_check(f->internal_address == 0, "no internal_address on a request");
	}
	if (req->has_mac) {
		fuzz_check(!(req->mac[0] & 1), "MAC unicast");
		fuzz_check(mac_parse(mac_format(req->mac, buf), mac) == 0 &&
				   memcmp(mac, req->mac, 6) == 0,
			   "MAC round trip");
	}
}

static void check_round_trip(const struct request *req)
{
	char err[PROTOCOL_ERROR_MAX] = "";
	_cleanup_free_ char *text = NULL;
	struct request again;
	json_t *o = request_to_json(req);

	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!text)
		return; /* out of memory: nothing to compare */
	memset(&again, 0, sizeof(again));
	fuzz_check(request_parse(text, strlen(text), &again, err) == 0, "re-encoded request parses");
	fuzz_check(again.command == req->command, "round trip: command");
	if (req->command == REQUEST_WAIT_ADDRESS) {
		fuzz_check(again.has_label == req->has_label &&
				   streq(again.has_label ? again.label : again.ifname,
					 req->has_label ? req->label : req->ifname) &&
				   streq(again.network_name, req->network_name) &&
				   again.timeout == req->timeout,
			   "round trip: wait_address");
		return;
	}
	fuzz_check(streq(again.ifname, req->ifname) && again.lease_id == req->lease_id,
		   "round trip: ifname, lease_id");
	fuzz_check(again.n_forwards == req->n_forwards &&
			   memcmp(again.forwards, req->forwards,
				  req->n_forwards * sizeof(req->forwards[0])) == 0,
		   "round trip: port_forwards");
	fuzz_check(again.force == req->force && again.persistent == req->persistent,
		   "round trip: force, persistent");
	if (req->command != REQUEST_ACQUIRE && req->command != REQUEST_STOP)
		return;
	fuzz_check(streq(again.network_name, req->network_name), "round trip: network_name");
	if (req->command != REQUEST_ACQUIRE)
		return;
	fuzz_check(again.port == req->port, "round trip: port");
	fuzz_check(again.has_mac == req->has_mac &&
			   (!req->has_mac || memcmp(again.mac, req->mac, 6) == 0),
		   "round trip: mac");
	fuzz_check(streq(again.label, req->label), "round trip: label");
	fuzz_check(again.vnet_hdr == req->vnet_hdr && again.queues == req->queues,
		   "round trip: vnet_hdr, multi_queue");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[PROTOCOL_ERROR_MAX];
	struct request req, untouched;
	int r;

	memset(err, 0, sizeof(err));
	memset(&req, 0xa5, sizeof(req));
	untouched = req;
	r = request_parse((const char *)data, size, &req, err);
	fuzz_check(r == 0 || r == PROTOCOL_E_INVALID, "result is 0 or PROTOCOL_E_INVALID");
	if (r) {
		json_t *reply;

		/* Both memset() first, padding too. NOLINTNEXTLINE(bugprone-suspicious-memory-comparison) */
		fuzz_check(memcmp(&req, &untouched, sizeof(req)) == 0, "refused: output untouched");
		fuzz_check(err[0] != '\0' && memchr(err, '\0', sizeof(err)), "refused: a reason");
		/* The daemon sends the reason back as JSON, which takes only UTF-8. */
		reply = reply_error_new(VMNET_BROKER_INVALID_REQUEST, err);
		fuzz_check(reply != NULL, "refused: the reason fits in a reply");
		json_decref(reply);
		return 0;
	}
	check_valid(&req);
	check_round_trip(&req);
	return 0;
}

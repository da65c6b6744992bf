/* test-protocol.c - unit tests of protocol.c: request parsing, validators, MACs, status names */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol.h"
#include "util.h"

/* Fill @req with 0xa5 bytes, so a write to it shows. */
static void request_poison(struct request *req)
{
	memset(req, 0xa5, sizeof(*req));
}

static bool request_is_poison(const struct request *req)
{
	const unsigned char *p = (const unsigned char *)req;

	for (size_t i = 0; i < sizeof(*req); i++)
		if (p[i] != 0xa5)
			return false;
	return true;
}

/* Parse @json, which must be accepted. */
static void parse_ok(const char *json, struct request *req)
{
	char err[PROTOCOL_ERROR_MAX] = "";
	int r;

	request_poison(req);
	r = request_parse(json, strlen(json), req, err);
	if (r != 0)
		fail_msg("refused (%d, \"%s\"): %s", r, err, json);
}

/*
 * @json must be refused with PROTOCOL_E_INVALID and a message for a person,
 * and the request must stay untouched.
 */
static void parse_invalid_len(const char *json, size_t len)
{
	char err[PROTOCOL_ERROR_MAX];
	struct request req;
	int r;

	memset(err, 0, sizeof(err));
	request_poison(&req);
	r = request_parse(json, len, &req, err);
	if (r != PROTOCOL_E_INVALID)
		fail_msg("expected PROTOCOL_E_INVALID, got %d: %.200s", r, json);
	if (err[0] == '\0')
		fail_msg("no error message for: %.200s", json);
	if (memchr(err, '\0', sizeof(err)) == NULL)
		fail_msg("error message not terminated for: %.200s", json);
	if (!request_is_poison(&req))
		fail_msg("request written on failure: %.200s", json);
}

static void parse_invalid(const char *json)
{
	parse_invalid_len(json, strlen(json));
}

static void parse_invalid_all(const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		parse_invalid(v[i]);
}

/* An acquire of network_name @name (raw JSON string contents, escapes allowed). */
static char *acquire_json(const char *name)
{
	char *s;

	if (asprintf(&s, "{\"command\":\"acquire\",\"network_name\":\"%s\"}", name) < 0)
		fail_msg("out of memory");
	return s;
}

/* {"command":"acquire","network_name":"n", EXTRA} */
static char *acquire_with(const char *extra)
{
	char *s;

	if (asprintf(&s, "{\"command\":\"acquire\",\"network_name\":\"n\",%s}", extra) < 0)
		fail_msg("out of memory");
	return s;
}

static void acquire_with_ok(const char *extra, struct request *req)
{
	_cleanup_free_ char *json = acquire_with(extra);

	parse_ok(json, req);
}

static void acquire_with_invalid(const char *extra)
{
	_cleanup_free_ char *json = acquire_with(extra);

	parse_invalid(json);
}

static void acquire_with_invalid_all(const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		acquire_with_invalid(v[i]);
}

static void test_acquire_defaults(void **state)
{
	struct request req;

	parse_ok("{\"command\":\"acquire\",\"network_name\":\"shared\"}", &req);
	assert_int_equal(req.command, REQUEST_ACQUIRE);
	assert_string_equal(req.network_name, "shared");
	assert_int_equal(req.port, PORT_TAP);
	assert_int_equal(req.queues, 1);
	assert_false(req.has_mac);
	assert_false(req.vnet_hdr);
	assert_string_equal(req.label, "");
	assert_string_equal(req.ifname, "");
}

static void test_acquire_tap_all_keys(void **state)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };
	struct request req;

	parse_ok("{\"command\":\"acquire\",\"network_name\":\"my-net_1.a\",\"port\":\"tap\","
		 "\"mac\":\"52:54:00:AB:cd:Ef\",\"label\":\"vm 1 (test)\",\"vnet_hdr\":true,"
		 "\"multi_queue\":16}",
		 &req);
	assert_int_equal(req.command, REQUEST_ACQUIRE);
	assert_string_equal(req.network_name, "my-net_1.a");
	assert_int_equal(req.port, PORT_TAP);
	assert_true(req.has_mac);
	assert_memory_equal(req.mac, mac, 6);
	assert_string_equal(req.label, "vm 1 (test)");
	assert_true(req.vnet_hdr);
	assert_int_equal(req.queues, 16);
	assert_string_equal(req.ifname, "");
}

static void test_acquire_other_ports(void **state)
{
	struct request req;

	acquire_with_ok("\"port\":\"netns\",\"ifname\":\"veth-guest0\"", &req);
	assert_int_equal(req.port, PORT_NETNS);
	assert_string_equal(req.ifname, "veth-guest0");

	/* The longest name the kernel takes: IFNAMSIZ - 1 bytes. */
	acquire_with_ok("\"port\":\"netns\",\"ifname\":\"abcdefghijklmno\"", &req);
	assert_string_equal(req.ifname, "abcdefghijklmno");

	/* Off and single-queue are the defaults, so they are fine anywhere. */
	acquire_with_ok("\"port\":\"netns\",\"vnet_hdr\":false,\"multi_queue\":1", &req);
	assert_false(req.vnet_hdr);
	assert_int_equal(req.queues, 1);

	acquire_with_ok("\"port\":\"named_tap\",\"vnet_hdr\":true,\"multi_queue\":2", &req);
	assert_int_equal(req.port, PORT_NAMED_TAP);
	assert_true(req.vnet_hdr);
	assert_int_equal(req.queues, 2);

	acquire_with_ok("\"port\":\"none\",\"label\":\"\"", &req);
	assert_int_equal(req.port, PORT_NONE);
	assert_string_equal(req.label, "");

	/* A named TAP's own name, persistent; a netns port may say so too. */
	acquire_with_ok("\"port\":\"named_tap\",\"ifname\":\"fc-vm1\",\"persistent\":true", &req);
	assert_int_equal(req.port, PORT_NAMED_TAP);
	assert_string_equal(req.ifname, "fc-vm1");
	assert_true(req.persistent);
	/* Reserved are prefixes and whole names only. */
	acquire_with_ok("\"port\":\"named_tap\",\"ifname\":\"myvmtap0\"", &req);
	acquire_with_ok("\"port\":\"named_tap\",\"ifname\":\"alls\"", &req);
	assert_false(req.persistent);
	acquire_with_ok("\"port\":\"netns\",\"ifname\":\"all\",\"persistent\":true", &req);
	assert_true(req.persistent);
	acquire_with_ok("\"port\":\"named_tap\",\"persistent\":false", &req);
	assert_false(req.persistent);
}

static void test_bad_persistent(void **state)
{
	static const char *const bad[] = {
		"\"port\":\"named_tap\",\"persistent\":1",
		"\"port\":\"named_tap\",\"persistent\":\"true\"",
		"\"port\":\"named_tap\",\"persistent\":null",
		"\"persistent\":true", /* a tap */
		"\"port\":\"tap\",\"persistent\":true",
		"\"port\":\"none\",\"persistent\":true",
	};

	acquire_with_invalid_all(bad, ELEMENTSOF(bad));
}

static void test_lease_commands(void **state)
{
	struct request req;

	parse_ok("{\"command\":\"release\",\"ifname\":\"vmtap3\"}", &req);
	assert_int_equal(req.command, REQUEST_RELEASE);
	assert_string_equal(req.ifname, "vmtap3");
	assert_true(req.lease_id == 0);
	parse_ok("{\"command\":\"release\",\"lease_id\":9007199254740993}", &req);
	assert_true(req.lease_id == 9007199254740993ULL);
	assert_string_equal(req.ifname, "");

	parse_ok("{\"command\":\"forward_add\",\"lease_id\":3,\"port_forwards\":"
		 "[{\"protocol\":\"udp\",\"external_port\":53,\"internal_port\":5353}]}",
		 &req);
	assert_int_equal(req.command, REQUEST_FORWARD_ADD);
	assert_int_equal(req.n_forwards, 1);
	assert_int_equal(req.forwards[0].protocol, FORWARD_UDP);
	assert_int_equal(req.forwards[0].internal_port, 5353);

	parse_ok("{\"command\":\"forward_remove\",\"ifname\":\"x\",\"port_forwards\":"
		 "[{\"protocol\":\"tcp\",\"external_port\":22}]}",
		 &req);
	assert_int_equal(req.command, REQUEST_FORWARD_REMOVE);
	assert_int_equal(req.forwards[0].external_port, 22);
	assert_int_equal(req.forwards[0].internal_port, 0);

	parse_ok("{\"command\":\"forward_list\"}", &req);
	assert_int_equal(req.command, REQUEST_FORWARD_LIST);
	assert_true(req.lease_id == 0);
	parse_ok("{\"command\":\"forward_list\",\"lease_id\":1}", &req);
	assert_true(req.lease_id == 1);

	parse_ok("{\"command\":\"stop\",\"network_name\":\"lab\"}", &req);
	assert_int_equal(req.command, REQUEST_STOP);
	assert_string_equal(req.network_name, "lab");
	assert_false(req.force);
	parse_ok("{\"command\":\"stop\",\"network_name\":\"lab\",\"force\":true}", &req);
	assert_true(req.force);
}

static void test_bad_lease_commands(void **state)
{
	/* Some strings span two lines. NOLINTBEGIN(bugprone-suspicious-missing-comma) */
	static const char *const bad[] = {
		/* a lease named neither, both, or badly */
		"{\"command\":\"release\"}",
		"{\"command\":\"release\",\"ifname\":\"a\",\"lease_id\":1}",
		"{\"command\":\"release\",\"lease_id\":0}",
		"{\"command\":\"release\",\"lease_id\":-1}",
		"{\"command\":\"release\",\"lease_id\":1.5}",
		"{\"command\":\"release\",\"lease_id\":\"1\"}",
		"{\"command\":\"release\",\"ifname\":\"a/b\"}",
		"{\"command\":\"release\",\"ifname\":\"\"}",
		"{\"command\":\"release\",\"ifname\":\"a\",\"network_name\":\"shared\"}",
		"{\"command\":\"forward_list\",\"ifname\":\"a\",\"lease_id\":1}",
		/* forwards: needed, at least one, well formed */
		"{\"command\":\"forward_add\",\"lease_id\":1}",
		"{\"command\":\"forward_add\",\"lease_id\":1,\"port_forwards\":[]}",
		"{\"command\":\"forward_add\",\"port_forwards\":[{\"protocol\":\"tcp\","
		"\"external_port\":1,\"internal_port\":1}]}",
		"{\"command\":\"forward_add\",\"lease_id\":1,\"port_forwards\":"
		"[{\"protocol\":\"tcp\",\"external_port\":1}]}",
		"{\"command\":\"forward_remove\",\"lease_id\":1,\"port_forwards\":"
		"[{\"protocol\":\"tcp\",\"external_port\":1,\"internal_port\":1}]}",
		"{\"command\":\"forward_remove\",\"lease_id\":1,\"port_forwards\":"
		"[{\"protocol\":\"tcp\",\"external_port\":1},{\"protocol\":\"tcp\","
		"\"external_port\":1}]}",
		"{\"command\":\"forward_list\",\"port_forwards\":[]}",
		/* stop: a network, a bool */
		"{\"command\":\"stop\"}",
		"{\"command\":\"stop\",\"network_name\":\"a/b\"}",
		"{\"command\":\"stop\",\"network_name\":\"lab\",\"force\":1}",
		"{\"command\":\"stop\",\"network_name\":\"lab\",\"lease_id\":1}",
		/* keys of other commands */
		"{\"command\":\"status\",\"force\":true}",
		"{\"command\":\"acquire\",\"network_name\":\"n\",\"lease_id\":1}",
	};
	/* NOLINTEND(bugprone-suspicious-missing-comma) */

	parse_invalid_all(bad, ELEMENTSOF(bad));
}

static void test_acquire_key_order(void **state)
{
	struct request req;

	/* ifname is checked against the port, whichever key comes first. */
	parse_ok("{\"ifname\":\"eth1\",\"port\":\"netns\",\"network_name\":\"n\","
		 "\"command\":\"acquire\"}",
		 &req);
	assert_int_equal(req.port, PORT_NETNS);
	assert_string_equal(req.ifname, "eth1");
}

static void test_network_name_limits(void **state)
{
	char name[NETWORK_NAME_MAX + 2];
	struct request req;
	char *json;

	memset(name, 'a', NETWORK_NAME_MAX);
	name[NETWORK_NAME_MAX] = '\0';
	json = acquire_json(name);
	parse_ok(json, &req);
	assert_string_equal(req.network_name, name);
	free(json);

	name[NETWORK_NAME_MAX] = 'a';
	name[NETWORK_NAME_MAX + 1] = '\0';
	json = acquire_json(name);
	parse_invalid(json);
	free(json);

	json = acquire_json("0");
	parse_ok(json, &req);
	free(json);
}

static void test_status_and_networks(void **state)
{
	struct request req;

	parse_ok("{\"command\":\"status\"}", &req);
	assert_int_equal(req.command, REQUEST_STATUS);
	parse_ok(" \n{ \"command\" : \"networks\" }\n", &req);
	assert_int_equal(req.command, REQUEST_NETWORKS);
}

static void test_wait_address(void **state)
{
	struct request req;

	parse_ok("{\"command\":\"wait_address\",\"ifname\":\"vmtap3\"}", &req);
	assert_int_equal(req.command, REQUEST_WAIT_ADDRESS);
	assert_string_equal(req.ifname, "vmtap3");
	assert_false(req.has_label);
	assert_string_equal(req.network_name, "");
	assert_int_equal(req.timeout, WAIT_TIMEOUT_DEFAULT);
	parse_ok("{\"command\":\"wait_address\",\"label\":\"web server\","
		 "\"network_name\":\"lab\",\"timeout\":0}",
		 &req);
	assert_true(req.has_label);
	assert_string_equal(req.label, "web server");
	assert_string_equal(req.network_name, "lab");
	assert_int_equal(req.timeout, 0);
	parse_ok("{\"command\":\"wait_address\",\"ifname\":\"vmtap3\",\"timeout\":3600}", &req);

	parse_invalid("{\"command\":\"wait_address\"}");
	parse_invalid("{\"command\":\"wait_address\",\"ifname\":\"a\",\"label\":\"b\"}");
	parse_invalid("{\"command\":\"wait_address\",\"label\":\"\"}");
	parse_invalid("{\"command\":\"wait_address\",\"label\":\"a\\nb\"}");
	parse_invalid("{\"command\":\"wait_address\",\"ifname\":\"a/b\"}");
	parse_invalid("{\"command\":\"wait_address\",\"ifname\":\"a\",\"timeout\":3601}");
	parse_invalid("{\"command\":\"wait_address\",\"ifname\":\"a\",\"timeout\":-1}");
	parse_invalid("{\"command\":\"wait_address\",\"ifname\":\"a\",\"timeout\":1.5}");
	parse_invalid("{\"command\":\"wait_address\",\"ifname\":\"a\",\"network_name\":\"a/b\"}");
	parse_invalid("{\"command\":\"wait_address\",\"ifname\":\"a\",\"port\":\"tap\"}");
	parse_invalid("{\"command\":\"status\",\"timeout\":1}");
}

static void test_not_json(void **state)
{
	static const char *const bad[] = {
		"",
		" ",
		"{",
		"}",
		"hello",
		"{command: \"status\"}",
		"{\"command\":\"status\",}",
		"{\"command\":\"status\"} {\"command\":\"status\"}",
		"{\"command\":\"status\"} x",
		"{'command':'status'}",
	};

	parse_invalid_all(bad, ELEMENTSOF(bad));
	/* Stops at the length, not at a NUL: the tail is outside the message. */
	parse_invalid_len("{\"command\":\"status\"}", 10);
}

static void test_not_object(void **state)
{
	static const char *const bad[] = {
		"[]", "[{\"command\":\"status\"}]", "\"status\"", "42", "-1.5", "null", "true",
	};

	parse_invalid_all(bad, ELEMENTSOF(bad));
}

static void test_bad_command(void **state)
{
	static const char *const bad[] = {
		"{}",
		"{\"network_name\":\"shared\"}",
		"{\"command\":\"release\"}",
		"{\"command\":\"\"}",
		"{\"command\":\"ACQUIRE\"}",
		"{\"command\":\"status \"}",
		"{\"command\":\"stat\\u0000us\"}",
		"{\"command\":1}",
		"{\"command\":null}",
		"{\"command\":true}",
		"{\"command\":[\"status\"]}",
		"{\"command\":{\"name\":\"status\"}}",
	};

	parse_invalid_all(bad, ELEMENTSOF(bad));
}

static void test_unknown_key(void **state)
{
	static const char *const bad[] = {
		"{\"command\":\"status\",\"network_name\":\"shared\"}",
		"{\"command\":\"networks\",\"verbose\":true}",
		"{\"command\":\"acquire\",\"network_name\":\"n\",\"foo\":1}",
		"{\"command\":\"acquire\",\"network_name\":\"n\",\"Port\":\"tap\"}",
		"{\"command\":\"acquire\",\"network_name\":\"n\",\"\":\"\"}",
	};

	parse_invalid_all(bad, ELEMENTSOF(bad));
}

static void test_duplicate_key(void **state)
{
	static const char *const bad[] = {
		"{\"command\":\"status\",\"command\":\"status\"}",
		"{\"command\":\"status\",\"command\":\"networks\"}",
		"{\"command\":\"acquire\",\"network_name\":\"a\",\"network_name\":\"b\"}",
		"{\"command\":\"acquire\",\"network_name\":\"a\",\"label\":\"\",\"label\":\"\"}",
	};

	parse_invalid_all(bad, ELEMENTSOF(bad));
}

static void test_bad_network_name(void **state)
{
	static const char *const bad[] = {
		"{\"command\":\"acquire\"}",
		"{\"command\":\"acquire\",\"network_name\":5}",
		"{\"command\":\"acquire\",\"network_name\":null}",
		"{\"command\":\"acquire\",\"network_name\":true}",
		"{\"command\":\"acquire\",\"network_name\":[\"shared\"]}",
		"{\"command\":\"acquire\",\"network_name\":{}}",
	};
	static const char *const bad_names[] = {
		"",          "a/b",       "/etc/passwd", "shared/", "..",    ".",
		"a..b",      "..a",       "a..",         "-rf",     "-",     "_x",
		".hidden",   "a b",       "a\\u0001b",   "a\\nb",   "a\\tb", "\\u001b[31m",
		"a\\u007fb", "a\\u0000b", "caf\\u00e9",  "a:b",     "a*",
	};

	parse_invalid_all(bad, ELEMENTSOF(bad));
	for (size_t i = 0; i < ELEMENTSOF(bad_names); i++) {
		_cleanup_free_ char *json = acquire_json(bad_names[i]);

		parse_invalid(json);
	}
}

static void test_bad_port(void **state)
{
	static const char *const bad[] = {
		"\"port\":\"vhost\"",     "\"port\":\"TAP\"", "\"port\":\"\"", "\"port\":\"tap \"",
		"\"port\":\"named-tap\"", "\"port\":1",       "\"port\":null", "\"port\":[\"tap\"]",
	};

	acquire_with_invalid_all(bad, ELEMENTSOF(bad));
}

static void test_bad_mac(void **state)
{
	static const char *const bad[] = {
		"\"mac\":\"01:00:5e:00:00:01\"", /* multicast */
		"\"mac\":\"33:33:00:00:00:01\"", /* IPv6 multicast */
		"\"mac\":\"ff:ff:ff:ff:ff:ff\"", /* broadcast */
		"\"mac\":\"00:00:00:00:00:00\"", /* zero */
		"\"mac\":\"52:54:00:12:34\"",
		"\"mac\":\"52:54:00:12:34:5\"",
		"\"mac\":\"52:54:00:12:34:56:78\"",
		"\"mac\":\"52:54:00:12:34:56 \"",
		"\"mac\":\" 52:54:00:12:34:56\"",
		"\"mac\":\"52:54:00:12:34:5g\"",
		"\"mac\":\"z2:54:00:12:34:56\"",
		"\"mac\":\"52-54-00-12-34-56\"",
		"\"mac\":\"52:54:00:12:34-56\"",
		"\"mac\":\"5254.0012.3456\"",
		"\"mac\":\"525400123456\"",
		"\"mac\":\"\"",
		"\"mac\":42",
		"\"mac\":null",
		"\"mac\":[82,84,0,18,52,86]",
	};

	acquire_with_invalid_all(bad, ELEMENTSOF(bad));
}

static void test_bad_label(void **state)
{
	static const char *const bad[] = {
		"\"label\":\"\\u0001\"", "\"label\":\"vm\\n1\"",    "\"label\":\"a\\u001fb\"",
		"\"label\":\"\\u007f\"", "\"label\":\"a\\u0000b\"", "\"label\":1",
		"\"label\":null",        "\"label\":false",
	};
	char label[LABEL_MAX + 2], extra[LABEL_MAX + 32];
	struct request req;

	acquire_with_invalid_all(bad, ELEMENTSOF(bad));

	memset(label, 'x', LABEL_MAX);
	label[LABEL_MAX] = '\0';
	snprintf(extra, sizeof(extra), "\"label\":\"%s\"", label);
	acquire_with_ok(extra, &req);
	assert_string_equal(req.label, label);

	label[LABEL_MAX] = 'x';
	label[LABEL_MAX + 1] = '\0';
	snprintf(extra, sizeof(extra), "\"label\":\"%s\"", label);
	acquire_with_invalid(extra);
}

/* Controls of every kind, separators and bidi formatting; printable text of any script passes. */
static void test_label_characters(void **state)
{
	static const char *const bad[] = {
		"a\xc2\x9b"
		"2J",       /* U+009B, C1 CSI */
		"\xc2\x80", /* U+0080 */
		"evil\xe2\x80\xae"
		"gnp.exe",        /* U+202E RIGHT-TO-LEFT OVERRIDE */
		"x\xe2\x81\xa7y", /* U+2067 RIGHT-TO-LEFT ISOLATE */
		"z\xe2\x80\x8fw", /* U+200F RIGHT-TO-LEFT MARK */
		"\xd8\x9c",       /* U+061C ARABIC LETTER MARK */
		"a\xe2\x80\xa8"
		"b",            /* U+2028 LINE SEPARATOR */
		"\xe2\x81\xa6", /* U+2066 */
		"\xe2\x81\xa9", /* U+2069 */
		"\xe2\x80\xaa", /* U+202A */
		"a\x7f",
		"a\x1b[2J",
		"\xff",
		"\xe2\x82", /* DEL, ESC, not UTF-8 */
	};
	static const char *const good[] = {
		"",
		"caf\xc3\xa9 vm #1",
		"\xe2\x82\xac 5",
		"\xe2\x80\x8d", /* U+200D ZWJ */
		"\xc2\xa0",     /* U+00A0 */
		"\xe2\x81\xaa", /* U+206A, not bidi */
		"\xf0\x9f\x96\xa5 vm",
		"x uid=0 \"q\"",
	};
	char buf[LABEL_MAX + 1];

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		if (label_is_valid(bad[i]))
			fail_msg("label %zu accepted", i);
		snprintf(buf, sizeof(buf), "%s", bad[i]);
		label_sanitize(buf);
		assert_true(label_is_valid(buf));
		assert_non_null(strchr(buf, '?'));
	}
	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		if (!label_is_valid(good[i]))
			fail_msg("label %zu refused", i);
		snprintf(buf, sizeof(buf), "%s", good[i]);
		label_sanitize(buf);
		assert_string_equal(buf, good[i]);
	}
	snprintf(buf, sizeof(buf),
		 "evil\xe2\x80\xae"
		 "gnp");
	label_sanitize(buf);
	assert_string_equal(buf, "evil?gnp");
	acquire_with_invalid("\"label\":\"a\\u009b2J\"");
	acquire_with_invalid("\"label\":\"evil\\u202egnp.exe\"");
}

/* A cut never splits a character: the result stays UTF-8, and says it was cut. */
static void test_utf8_truncate(void **state)
{
	char s[32];

	snprintf(s, sizeof(s), "short");
	utf8_truncate(s, 5);
	assert_string_equal(s, "short");
	snprintf(s, sizeof(s), "abcdefgh");
	utf8_truncate(s, 6);
	assert_string_equal(s, "abc...");
	/* "ab" + the euro sign's 3 bytes: a cut at 6 - 3 falls in it. */
	snprintf(s, sizeof(s),
		 "ab\xe2\x82\xac"
		 "cdef");
	utf8_truncate(s, 6);
	assert_string_equal(s, "ab...");
	snprintf(s, sizeof(s), "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac");
	utf8_truncate(s, 7);
	assert_string_equal(s, "\xe2\x82\xac...");
	snprintf(s, sizeof(s), "abcdef");
	utf8_truncate(s, 2);
	assert_string_equal(s, "ab");
	/* What vsnprintf() leaves: a 3-byte character cut after its first byte. */
	snprintf(s, sizeof(s), "xxxxxxxxxx\xe2");
	utf8_truncate(s, 10);
	assert_string_equal(s, "xxxxxxx...");
}

static void test_bad_ifname(void **state)
{
	static const char *const bad[] = {
		/* not an interface name */
		"\"port\":\"netns\",\"ifname\":\"\"",
		"\"port\":\"netns\",\"ifname\":\"abcdefghijklmnop\"", /* IFNAMSIZ bytes */
		"\"port\":\"netns\",\"ifname\":\"a/b\"",
		"\"port\":\"netns\",\"ifname\":\"a b\"",
		"\"port\":\"netns\",\"ifname\":\"eth0:1\"",
		"\"port\":\"netns\",\"ifname\":\"eth%d\"",
		"\"port\":\"netns\",\"ifname\":\".\"",
		"\"port\":\"netns\",\"ifname\":\"..\"",
		"\"port\":\"netns\",\"ifname\":\"eth\\u0001\"",
		"\"port\":\"netns\",\"ifname\":\"eth\\u007f\"",
		"\"port\":\"netns\",\"ifname\":\"eth\\u00e9\"",
		"\"port\":\"netns\",\"ifname\":\"e\\u0000th0\"",
		"\"port\":\"netns\",\"ifname\":0",
		"\"port\":\"netns\",\"ifname\":null",
		/* a fine name, for a port that has none */
		"\"ifname\":\"eth0\"",
		"\"port\":\"tap\",\"ifname\":\"eth0\"",
		"\"port\":\"none\",\"ifname\":\"eth0\"",
		/* a named TAP may not take the broker's names, nor a sysctl directory's */
		"\"port\":\"named_tap\",\"ifname\":\"vmtap0\"",
		"\"port\":\"named_tap\",\"ifname\":\"vmbr\"",
		"\"port\":\"named_tap\",\"ifname\":\"vmveth12\"",
		"\"port\":\"named_tap\",\"ifname\":\"all\"",
		"\"port\":\"named_tap\",\"ifname\":\"default\"",
		"\"port\":\"named_tap\",\"ifname\":\"a/b\"",
	};

	acquire_with_invalid_all(bad, ELEMENTSOF(bad));
}

static void test_bad_vnet_hdr(void **state)
{
	static const char *const bad[] = {
		"\"vnet_hdr\":\"true\"",
		"\"vnet_hdr\":\"yes\"",
		"\"vnet_hdr\":1",
		"\"vnet_hdr\":0",
		"\"vnet_hdr\":null",
		"\"vnet_hdr\":[]",
		/* only TAPs have a vnet header */
		"\"port\":\"netns\",\"vnet_hdr\":true",
		"\"port\":\"none\",\"vnet_hdr\":true",
	};

	acquire_with_invalid_all(bad, ELEMENTSOF(bad));
}

static void test_bad_multi_queue(void **state)
{
	static const char *const bad[] = {
		"\"multi_queue\":0",
		"\"multi_queue\":17",
		"\"multi_queue\":-1",
		"\"multi_queue\":4294967297",
		"\"multi_queue\":\"4\"",
		"\"multi_queue\":2.0",
		"\"multi_queue\":true",
		"\"multi_queue\":null",
		/* only TAPs have queues */
		"\"port\":\"netns\",\"multi_queue\":2",
		"\"port\":\"none\",\"multi_queue\":2",
	};

	acquire_with_invalid_all(bad, ELEMENTSOF(bad));
}

#define FW(p, e, i) "{\"protocol\":\"" p "\",\"external_port\":" #e ",\"internal_port\":" #i "}"

static void test_port_forwards(void **state)
{
	static const char *const bad[] = {
		"\"port_forwards\":{}",
		"\"port_forwards\":[1]",
		"\"port_forwards\":[" FW("sctp", 1, 1) "]",
		"\"port_forwards\":[" FW("tcp", 0, 1) "]",
		"\"port_forwards\":[" FW("tcp", 1, 65536) "]",
		"\"port_forwards\":[" FW("tcp", 1, "1") "]",
		"\"port_forwards\":[{\"protocol\":\"tcp\",\"external_port\":1}]",
		"\"port_forwards\":[{\"protocol\":\"tcp\",\"external_port\":1,\"internal_port\":1,"
		"\"internal_address\":\"10.0.0.2\"}]",
		"\"port_forwards\":[{\"protocol\":\"tcp\",\"external_port\":1,\"internal_port\":1,"
		"\"x\":1}]",
		"\"port_forwards\":[" FW("udp", 53, 53) "," FW("udp", 53, 54) "]",
		"\"port\":\"none\",\"port_forwards\":[" FW("tcp", 1, 1) "]",
		"\"port_forwards\":[" FW("tcp", 1, 1) "," FW("tcp", 2, 1) "," FW("tcp", 3, 1) "," FW("tcp", 4, 1) "," FW("tcp", 5, 1) "," FW(
			"tcp", 6,
			1) "," FW("tcp", 7,
				  1) "," FW("tcp", 8,
					    1) "," FW("tcp", 9,
						      1) "," FW("tcp", 10,
								1) "," FW("tcp", 11,
									  1) "," FW("tcp", 12,
										    1) "," FW("tcp", 13,
											      1) "," FW("tcp",
													14,
													1) "," FW("tcp",
														  15,
														  1) "," FW("tcp",
															    16,
															    1) "," FW("tcp",
																      17,
																      1) "]",
	};
	_cleanup_free_ char *none = acquire_with("\"port_forwards\":[]");
	_cleanup_free_ char *two =
		acquire_with("\"port_forwards\":[" FW("tcp", 2222, 22) "," FW("udp", 2222, 53) "]");
	struct request req;

	parse_ok(none, &req);
	assert_int_equal(req.n_forwards, 0);
	parse_ok(two, &req);
	assert_int_equal(req.n_forwards, 2);
	assert_int_equal(req.forwards[0].protocol, FORWARD_TCP);
	assert_int_equal(req.forwards[0].external_port, 2222);
	assert_int_equal(req.forwards[0].internal_port, 22);
	assert_int_equal(req.forwards[0].internal_address, 0);
	assert_int_equal(req.forwards[1].protocol, FORWARD_UDP);
	assert_int_equal(req.forwards[1].internal_port, 53);
	acquire_with_invalid_all(bad, ELEMENTSOF(bad));
	assert_string_equal(forward_protocol_to_string(FORWARD_UDP), "udp");
	assert_int_equal(forward_protocol_from_string("tcp"), FORWARD_TCP);
	assert_int_equal(forward_protocol_from_string("TCP"), -EINVAL);
}

/* {"command":"status"} padded with blanks to exactly @len bytes. */
static char *padded_status(size_t len)
{
	static const char head[] = "{\"command\":\"status\"";
	char *buf = malloc(len);

	assert_non_null(buf);
	assert_true(len > sizeof(head));
	memcpy(buf, head, sizeof(head) - 1);
	memset(buf + sizeof(head) - 1, ' ', len - sizeof(head));
	buf[len - 1] = '}';
	return buf;
}

static void test_message_size(void **state)
{
	char err[PROTOCOL_ERROR_MAX] = "";
	struct request req;
	char *buf;

	buf = padded_status(PROTOCOL_MESSAGE_MAX);
	assert_int_equal(request_parse(buf, PROTOCOL_MESSAGE_MAX, &req, err), 0);
	assert_int_equal(req.command, REQUEST_STATUS);
	free(buf);

	buf = padded_status(PROTOCOL_MESSAGE_MAX + 1);
	parse_invalid_len(buf, PROTOCOL_MESSAGE_MAX + 1);
	free(buf);

	buf = padded_status(4 * PROTOCOL_MESSAGE_MAX);
	parse_invalid_len(buf, 4 * PROTOCOL_MESSAGE_MAX);
	free(buf);
}

static void test_validators(void **state)
{
	assert_true(network_name_is_valid("shared"));
	assert_true(network_name_is_valid("Net-1_a.b"));
	assert_false(network_name_is_valid(""));
	assert_false(network_name_is_valid("a/b"));
	assert_false(network_name_is_valid("a..b"));
	assert_false(network_name_is_valid("-a"));

	assert_true(ifname_is_valid("eth0"));
	assert_true(ifname_is_valid("abcdefghijklmno"));
	assert_false(ifname_is_valid("abcdefghijklmnop"));
	assert_false(ifname_is_valid(""));
	assert_false(ifname_is_valid("a b"));
	assert_non_null(ifname_reserved_why("vmtap"));
	/* A span's VXLAN device and names link: a TAP of that name would take them. */
	assert_non_null(ifname_reserved_why("vmvx100"));
	assert_non_null(ifname_reserved_why("vmns100"));
	assert_non_null(ifname_reserved_why("all"));
	assert_null(ifname_reserved_why("tap0"));
	assert_null(ifname_reserved_why("vmta"));

	assert_true(label_is_valid(""));
	assert_true(label_is_valid("vm 1"));
	assert_true(label_is_valid("caf\xc3\xa9"));
	assert_false(label_is_valid("a\tb"));
	assert_false(label_is_valid("\x7f"));
}

static void test_mac_round_trip(void **state)
{
	static const struct {
		const char *in;
		const char *out; /* lowercase */
		uint8_t mac[6];
	} good[] = {
		{ "52:54:00:12:34:56", "52:54:00:12:34:56", { 0x52, 0x54, 0, 0x12, 0x34, 0x56 } },
		{ "52:54:00:AB:cd:Ef", "52:54:00:ab:cd:ef", { 0x52, 0x54, 0, 0xab, 0xcd, 0xef } },
		{ "02:00:00:00:00:00", "02:00:00:00:00:00", { 0x02, 0, 0, 0, 0, 0 } },
		{ "00:00:00:00:00:01", "00:00:00:00:00:01", { 0, 0, 0, 0, 0, 0x01 } },
		{ "fe:ff:ff:ff:ff:fe", "fe:ff:ff:ff:ff:fe", { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xfe } },
	};
	static const char *const bad[] = {
		"01:00:5e:00:00:01",  "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "52:54:00:12:34",
		"52:54:00:12:34:56:", "52:54:00:12:34:5g", "52-54-00-12-34-56", "",
	};
	uint8_t mac[6], back[6];
	char buf[18];

	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		assert_int_equal(mac_parse(good[i].in, mac), 0);
		assert_memory_equal(mac, good[i].mac, 6);
		assert_ptr_equal(mac_format(mac, buf), buf);
		assert_string_equal(buf, good[i].out);
		assert_int_equal(mac_parse(buf, back), 0);
		assert_memory_equal(back, mac, 6);
	}

	/* Every unicast first octet survives format -> parse. */
	for (unsigned int b = 0; b < 256; b += 2) {
		uint8_t m[6] = { (uint8_t)b, 0x11, 0x22, 0x33, 0x44, 0x55 };

		mac_format(m, buf);
		assert_int_equal(strlen(buf), 17);
		assert_int_equal(mac_parse(buf, back), 0);
		assert_memory_equal(back, m, 6);
	}

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		memset(mac, 0x77, sizeof(mac));
		assert_int_equal(mac_parse(bad[i], mac), -EINVAL);
		/* Left alone on failure. */
		for (size_t j = 0; j < 6; j++)
			assert_int_equal(mac[j], 0x77);
	}
}

static void test_status_names(void **state)
{
	static const char *const names[] = {
		"VMNET_BROKER_SUCCESS",         "VMNET_BROKER_CONNECTION_FAILURE",
		"VMNET_BROKER_INVALID_REPLY",   "VMNET_BROKER_NOT_ALLOWED",
		"VMNET_BROKER_INVALID_REQUEST", "VMNET_BROKER_NOT_FOUND",
		"VMNET_BROKER_CREATE_FAILURE",  "VMNET_BROKER_INTERNAL_ERROR",
		"VMNET_BROKER_LIMIT_EXCEEDED",  "VMNET_BROKER_CONFLICT",
		"VMNET_BROKER_TIMEOUT",
	};
	static const int out_of_range[] = { -1, 11, 12, 100, INT_MAX, INT_MIN };

	/* The numbers are the contract's: same as the macOS broker, then ours. */
	assert_int_equal(VMNET_BROKER_INVALID_REQUEST, 4);
	assert_int_equal(VMNET_BROKER_CONFLICT, 9);
	assert_int_equal(VMNET_BROKER_TIMEOUT, 10);
	for (int i = 0; i < (int)ELEMENTSOF(names); i++) {
		assert_string_equal(status_to_name(i), names[i]);
		assert_non_null(status_to_string(i));
		assert_true(strlen(status_to_string(i)) > 0);
	}
	for (size_t i = 0; i < ELEMENTSOF(out_of_range); i++) {
		assert_string_equal(status_to_name(out_of_range[i]), "VMNET_BROKER_UNKNOWN");
		assert_non_null(status_to_string(out_of_range[i]));
	}
}

static void test_port_kinds(void **state)
{
	static const char *const bad[] = { "", "TAP", "tap ", " tap", "named-tap", "veth", "tapx" };

	assert_int_equal(port_kind_from_string("tap"), PORT_TAP);
	assert_int_equal(port_kind_from_string("netns"), PORT_NETNS);
	assert_int_equal(port_kind_from_string("named_tap"), PORT_NAMED_TAP);
	assert_int_equal(port_kind_from_string("none"), PORT_NONE);
	for (int k = 0; k < _PORT_KIND_MAX; k++)
		assert_int_equal(port_kind_from_string(port_kind_to_string((enum port_kind)k)), k);
	assert_null(port_kind_to_string(_PORT_KIND_MAX));
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		assert_int_equal(port_kind_from_string(bad[i]), -EINVAL);

	assert_string_equal(request_command_to_string(REQUEST_ACQUIRE), "acquire");
	assert_string_equal(request_command_to_string(REQUEST_STATUS), "status");
	assert_string_equal(request_command_to_string(REQUEST_NETWORKS), "networks");
	assert_null(request_command_to_string(_REQUEST_COMMAND_MAX));
}

static void test_reply_error(void **state)
{
	_cleanup_(json_decrefp) json_t *reply = NULL;

	reply = reply_error_new(VMNET_BROKER_NOT_FOUND, "no network named 'x'");
	assert_non_null(reply);
	assert_true(json_is_object(reply));
	assert_int_equal(json_object_size(reply), 2);
	assert_int_equal(json_integer_value(json_object_get(reply, "error")), VMNET_BROKER_NOT_FOUND);
	assert_string_equal(json_string_value(json_object_get(reply, "message")),
			    "no network named 'x'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_acquire_defaults),
		cmocka_unit_test(test_acquire_tap_all_keys),
		cmocka_unit_test(test_acquire_other_ports),
		cmocka_unit_test(test_bad_persistent),
		cmocka_unit_test(test_lease_commands),
		cmocka_unit_test(test_bad_lease_commands),
		cmocka_unit_test(test_acquire_key_order),
		cmocka_unit_test(test_network_name_limits),
		cmocka_unit_test(test_status_and_networks),
		cmocka_unit_test(test_wait_address),
		cmocka_unit_test(test_not_json),
		cmocka_unit_test(test_not_object),
		cmocka_unit_test(test_bad_command),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_bad_network_name),
		cmocka_unit_test(test_bad_port),
		cmocka_unit_test(test_bad_mac),
		cmocka_unit_test(test_bad_label),
		cmocka_unit_test(test_label_characters),
		cmocka_unit_test(test_utf8_truncate),
		cmocka_unit_test(test_bad_ifname),
		cmocka_unit_test(test_bad_vnet_hdr),
		cmocka_unit_test(test_bad_multi_queue),
		cmocka_unit_test(test_port_forwards),
		cmocka_unit_test(test_message_size),
		cmocka_unit_test(test_validators),
		cmocka_unit_test(test_mac_round_trip),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_port_kinds),
		cmocka_unit_test(test_reply_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

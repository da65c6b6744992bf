/* protocol.h - protocol version 1: request parsing, reply helpers, names, the fds a message carries */
#ifndef VMNET_PROTOCOL_H
#define VMNET_PROTOCOL_H

#include <jansson.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "vmnet-broker.h"

#define PROTOCOL_VERSION 1
#define PROTOCOL_MESSAGE_MAX (64 * 1024)      /* bytes of JSON in one request */
#define PROTOCOL_REPLY_MAX (16 * 1024 * 1024) /* a reply: status of a big daemon may be long */
#define PROTOCOL_FDS_MAX 16                   /* fds accepted or sent with one message */
#define NETWORK_NAME_MAX 64
#define LABEL_MAX 64
#define QUEUES_MAX 16
#define PROTOCOL_ERROR_MAX 256  /* room for a parse error message */
#define REQUEST_FORWARDS_MAX 16 /* port_forwards of one acquire */
#define WAIT_TIMEOUT_DEFAULT 60 /* seconds a wait_address waits without a "timeout" */
#define WAIT_TIMEOUT_MAX 3600

enum request_command {
	REQUEST_ACQUIRE,
	REQUEST_STATUS,
	REQUEST_NETWORKS,
	REQUEST_RELEASE,        /* end a lease of the caller's (root: anyone's) */
	REQUEST_FORWARD_ADD,    /* more port forwards for a lease that lives */
	REQUEST_FORWARD_REMOVE, /* fewer */
	REQUEST_FORWARD_LIST,   /* the forwards of one lease, or of all the caller's */
	REQUEST_STOP,           /* remove a running network (root only) */
	REQUEST_WAIT_ADDRESS,   /* wait until a port's guest has an IPv4 address */
	_REQUEST_COMMAND_MAX,
};

enum port_kind {
	PORT_TAP,
	PORT_NETNS,
	PORT_NAMED_TAP,
	PORT_NONE,
	_PORT_KIND_MAX,
};

enum forward_protocol {
	FORWARD_TCP,
	FORWARD_UDP,
	_FORWARD_PROTOCOL_MAX,
};

/* A host port forwarded to a guest: from a network file, or one acquire. */
struct port_forward {
	enum forward_protocol protocol;
	uint16_t external_port;
	uint16_t internal_port;
	uint32_t internal_address; /* host byte order; 0 on a request: the port's own address */
	/*
	 * IPv6: the guest's SLAAC address of the modified EUI-64 of its MAC
	 * in the network's /64 (docs/protocol.md says why that one), when the
	 * network advertises a /64 and the forward's guest has a known MAC.
	 */
	bool has_address6;
	uint8_t internal_address6[16];
};

struct request {
	enum request_command command;
	char network_name[NETWORK_NAME_MAX + 1];
	enum port_kind port;
	bool has_mac;
	uint8_t mac[6];
	char label[LABEL_MAX + 1];
	/*
	 * "" when not given. Acquire: a netns port's name inside the
	 * namespace, or the name of a named_tap on the host. Release,
	 * forward_* and wait_address: the lease's port, as status shows it
	 * (its host end).
	 */
	char ifname[IFNAMSIZ];
	bool vnet_hdr;
	unsigned int queues; /* 1, or the `multi_queue` count */
	bool persistent;     /* acquire: the lease outlives its connection */
	uint64_t lease_id;   /* release, forward_*: the lease by id; 0 when not given */
	bool force;          /* stop: end the network's leases too */
	struct port_forward forwards[REQUEST_FORWARDS_MAX];
	unsigned int n_forwards;
	/* wait_address: the port by @ifname (its name on the host) or @label,
	 * on any network or @network_name's ("" for any). */
	bool has_label;
	unsigned int timeout; /* seconds */
};

/* Positive results of protocol functions. */
enum {
	PROTOCOL_E_INVALID = 100, /* the input breaks the protocol; message says how */
};

/**
 * request_parse() - decode and validate one request message
 * @buf, @len:	message bytes (not NUL-terminated)
 * @ret:	filled on success only
 * @err:	PROTOCOL_ERROR_MAX bytes for the reason, on failure
 *
 * Return: 0, or PROTOCOL_E_INVALID with @err set for the peer.
 */
int request_parse(const char *buf, size_t len, struct request *ret, char *err);

/* Validators, true when acceptable; shared by config parsing and the client. */
bool network_name_is_valid(const char *name);
bool ifname_is_valid(const char *name);
/*
 * Names a caller may not give a named_tap: the broker's own (vmbrN,
 * vmtapN, vmvethN), and "all" and "default", which name the sysctl
 * directories of every interface, not one. Return: why, or NULL when
 * @name is free to use.
 */
const char *ifname_reserved_why(const char *name);
/* At most LABEL_MAX bytes of UTF-8 without controls, line separators or bidi formatting. */
bool label_is_valid(const char *label);
/* Replace what label_is_valid() refuses in @label, character by character, with '?'. */
void label_sanitize(char *label);
/* Parse "52:54:00:12:34:56": a unicast, non-zero MAC. Return: 0 or -EINVAL. */
int mac_parse(const char *s, uint8_t ret[6]);
/* @buf needs 18 bytes. Return: @buf. */
char *mac_format(const uint8_t mac[6], char *buf);
/*
 * Replace each byte of @s that starts no valid UTF-8 sequence with '?', so
 * that a JSON reply can carry text that quotes a peer's or a file's bytes.
 */
void utf8_sanitize(char *s);
/*
 * Cut @s, if it is longer, to at most @max bytes ending in "...", never
 * inside a character: a message cut in the middle of one is not UTF-8,
 * and no JSON reply can carry it.
 */
void utf8_truncate(char *s, size_t max);

const char *request_command_to_string(enum request_command c);
/* Return: the command, or -EINVAL. */
int request_command_from_string(const char *s);
const char *port_kind_to_string(enum port_kind k);
/* Return: the kind, or -EINVAL. */
int port_kind_from_string(const char *s);
const char *forward_protocol_to_string(enum forward_protocol p);
/* Return: the protocol, or -EINVAL. */
int forward_protocol_from_string(const char *s);

/* "VMNET_BROKER_NOT_FOUND" for 5; "VMNET_BROKER_UNKNOWN" out of range. */
const char *status_to_name(int status);
/* A sentence for a person. */
const char *status_to_string(int status);

/* {"error": status, "message": message}; NULL on OOM. */
json_t *reply_error_new(int status, const char *message);

/**
 * protocol_take_fds() - move the SCM_RIGHTS fds of a received @msg into @fds
 *
 * The daemon and the client library both read messages that may carry
 * fds. Whatever the caller does next, each fd is then either in @fds or
 * closed: @max are kept, any more are closed here.
 * Return: how many are in @fds.
 */
size_t protocol_take_fds(struct msghdr *msg, int *fds, size_t max);

#endif

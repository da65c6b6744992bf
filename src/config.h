/* config.h - what a network should be: the built-in networks and NAME.json files (pure) */
#ifndef VMNET_CONFIG_H
#define VMNET_CONFIG_H

#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "dns-name.h"
#include "pool.h"
#include "protocol.h"
#include "util.h"

#define CONFIG_FILE_MAX (1024 * 1024) /* bytes of one NAME.json */
#define CONFIG_DESCRIPTION_MAX 256    /* bytes */
#define CONFIG_MTU_MIN 1280           /* every network has IPv6, which needs 1280 */
#define CONFIG_MTU_MAX 65535
#define CONFIG_MASK_MIN 16 /* widest static subnet: /16 */
#define CONFIG_MASK_MAX 30 /* narrowest: /30, the gateway and one guest */
#define CONFIG_PREFIX6_MIN 16
#define CONFIG_PREFIX6_MAX 64 /* SLAAC needs exactly /64 */
#define CONFIG_LIST_MAX 1024  /* entries of one array key */
#define CONFIG_ACCOUNT_MAX 32 /* bytes of a user or group name */

enum network_mode {
	MODE_SHARED, /* NAT to the outside through the host */
	MODE_HOST,   /* guests and host only, no way out */
	_MODE_MAX,
};

/* VXLAN over an IPv4 underlay adds 50 bytes: outer Ethernet 14, IPv4 20, UDP 8, VXLAN 8. */
#define SPAN_OVERHEAD 50
#define SPAN_VNI_MAX 16777215  /* 24 bits */
#define SPAN_PORT_DEFAULT 4789 /* IANA's VXLAN port */
#define SPAN_HOSTS_MAX 64

/* Who fills the overlay's forwarding tables. */
enum span_control {
	SPAN_STATIC, /* a flood list of every other host; MACs learnt from traffic */
	SPAN_EVPN,   /* BGP EVPN through FRR: zebra installs remote MACs and flood lists */
	_SPAN_CONTROL_MAX,
};

/* One host of a span, the same entry in every host's copy of the file. */
struct span_host {
	uint32_t address;     /* its underlay IPv4 address (the VTEP), host byte order */
	struct prefix4 slice; /* the part of the subnet it hands out; len 0: none */
	bool reflector;       /* EVPN: a route reflector for the others */
};

/*
 * A network that spans hosts (`span` in its file): one L2 segment over
 * VXLAN, identical on every host. vni 0: the network is this host's alone.
 */
struct span_config {
	uint32_t vni;
	enum span_control control;
	uint16_t port;             /* UDP destination port of the underlay */
	unsigned int underlay_mtu; /* the underlay's MTU; the network's mtu leaves room below it */
	uint32_t asn;              /* EVPN: the hosts' BGP AS (iBGP) */
	struct span_host *hosts;
	size_t n_hosts;
};

struct dhcp_reservation {
	uint8_t mac[6];
	uint32_t address; /* host byte order */
};

/*
 * lease_port_forwards: which host ports a lease of the network may have
 * forwarded to it (port_forwards of an acquire). Root is never bound by
 * it. All zero is the default: open to whoever may use the network, for
 * ports from net.ipv4.ip_unprivileged_port_start up.
 */
struct lease_forwards {
	bool given;                  /* the file has the key: `networks` shows it */
	bool closed;                 /* "allowed": false */
	uint16_t port_min, port_max; /* "port_range"; 0, 0: the unprivileged ports */
	bool restricted;             /* allowed_users or allowed_groups given: only those */
	char **allowed_users;
	size_t n_allowed_users;
	char **allowed_groups;
	size_t n_allowed_groups;
};

/* Which version of a file a configuration was read from: any change is a change. */
struct config_stamp {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

/*
 * What a network should be. It owns the memory its pointers reach:
 * moving it by value is fine, copying needs network_config_copy(), and
 * network_config_clear() frees it. A built-in has every pointer NULL.
 */
struct network_config {
	char name[NETWORK_NAME_MAX + 1];
	enum network_mode mode;
	char *source;              /* the file it came from; NULL for a built-in */
	struct config_stamp stamp; /* of that file when it was read */
	char *description;         /* NULL when not given */
	bool has_subnet;           /* `subnet` and `mask` given; else a /24 from the pool */
	uint32_t gateway;          /* `subnet`: the host's address, host byte order */
	uint8_t prefix_len;        /* `mask` as a prefix length */
	bool has_ipv6_prefix;      /* `ipv6_prefix` given; else a random ULA /64 */
	uint8_t ipv6_prefix[16];
	uint8_t ipv6_prefix_len;
	bool dhcp;
	bool dns_proxy;
	bool nat44;
	bool nat66;
	bool router_advertisement;
	bool persistent;
	unsigned int mtu;
	char external_interface[IFNAMSIZ]; /* "": NAT out of any interface */
	struct port_forward *forwards;
	size_t n_forwards;
	struct dhcp_reservation *reservations;
	size_t n_reservations;
	bool has_dhcp_range;       /* `dhcp_range` given; else the default split (address.c) */
	uint32_t dhcp_range_start; /* host byte order */
	uint32_t dhcp_range_end;
	char domain[DNS_DOMAIN_MAX + 1]; /* `domain`; "": NAME.vmnet (config_domain()) */
	bool restricted;      /* allowed_users or allowed_groups given: only those, and root */
	char **allowed_users; /* names or decimal uids */
	size_t n_allowed_users;
	char **allowed_groups; /* names or decimal gids */
	size_t n_allowed_groups;
	struct lease_forwards lease_forwards;
	struct span_config span; /* vni 0: no span */
};

/* One problem with one file: "FILE: KEY: REASON" for a person. */
struct config_error {
	char *file;
	char *key; /* "port_forwards[1].external_port"; "" for the file as a whole */
	char *reason;
};

struct config_errors {
	struct config_error *v;
	size_t n;
};

enum {
	CONFIG_E_NOT_FOUND = 300, /* no built-in network and no file of that name */
	CONFIG_E_INVALID,         /* the file has errors; they say which */
};

const char *network_mode_to_string(enum network_mode m);
const char *span_control_to_string(enum span_control c);

/* The built-in network @name, or NULL. */
const struct network_config *config_builtin(const char *name);
/* The built-ins, in name order; *@ret_n of them. */
const struct network_config *config_builtins(size_t *ret_n);

void network_config_clear(struct network_config *c);
/* Deep copy of @src into @dst (whose old contents are not freed). Return: 0 or -ENOMEM. */
int network_config_copy(struct network_config *dst, const struct network_config *src);
/* The subnet of a config with `subnet`/`mask`: the prefix, host bits zero. */
void network_config_subnet(const struct network_config *c, uint32_t *ret_addr, uint8_t *ret_len);
/*
 * The DNS domain its guests' names are under: `domain`, or NAME.vmnet
 * (dns_default_domain()); "" when the name makes no valid default.
 * @buf: DNS_DOMAIN_MAX + 1 bytes. Return: @buf.
 */
char *config_domain(const struct network_config *c, char *buf, size_t size);

_printf_(4, 5) int config_errors_add(struct config_errors *e, const char *file, const char *key,
				     const char *fmt, ...);
/* config_errors_add() with a va_list. Return: 0, or -ENOMEM. */
_printf_(4, 0) int config_errors_vadd(struct config_errors *e, const char *file, const char *key,
				      const char *fmt, va_list ap);
/* What a parser records of a file's problems as it goes (config-parse.c, config-span.c). */
struct config_report {
	const char *path;
	struct config_errors *errors;
	bool hide; /* quote none of the file's text: not everyone may read it (CONFIG_PARSE_HIDE) */
	bool bad;  /* an error was recorded */
	int oom;   /* -ENOMEM once an error could not even be recorded */
};

/* Record an error on @key of @r's file. */
_printf_(3, 4) void config_report_add(struct config_report *r, const char *key, const char *fmt, ...);
/*
 * @s, a string of the file, as an error may quote it: not at all ("...")
 * when the file is one that not everyone may read, since `networks` shows
 * errors to every client.
 */
const char *config_report_shown(const struct config_report *r, const char *s);
/* Return: 0, CONFIG_E_INVALID when errors were recorded, or -ENOMEM. */
int config_report_result(const struct config_report *r);
/* Append copies of every error of @src. Return: 0 or -ENOMEM. */
int config_errors_append(struct config_errors *dst, const struct config_errors *src);
void config_errors_clear(struct config_errors *e);

/**
 * config_parse() - one network file's text into a configuration and its errors
 * @name:	the network's name: the file name without ".json"
 * @path:	the file, for the errors and `source`
 * @ret:	filled as far as the file allows, even when it has errors (so
 *		`networks` can show its mode); the caller clears it either way
 * @errors:	every problem found is appended here, as data; nothing is printed
 *
 * Checks the file alone: names, types, ranges, the subnet against the
 * private ranges, reservations and forwards against the subnet. What two
 * files cannot both have is config_check_files().
 * Return: 0, CONFIG_E_INVALID when errors were appended, or -ENOMEM.
 */
int config_parse(const char *name, const char *path, const char *text, size_t len,
		 struct network_config *ret, struct config_errors *errors);
/* The errors quote no text of the file (values, key names, JSON's): "..." instead. */
#define CONFIG_PARSE_HIDE 1u
/* config_parse() with @flags: 0 or CONFIG_PARSE_HIDE, for a file not everyone may read. */
int config_parse_flags(const char *name, const char *path, const char *text, size_t len,
		       unsigned int flags, struct network_config *ret, struct config_errors *errors);

/**
 * config_check_files() - what valid files cannot have together
 * @v:		@n configurations, each valid on its own
 * @errors:	@n error lists, one per configuration, appended to
 *
 * Overlapping subnets or IPv6 prefixes, one external port forwarded by
 * two files, one DNS domain (config_domain()) for two networks, one VNI
 * spanned by two, two EVPN spans with different ASNs. Each file involved
 * gets an error naming the other; a file whose domain is a built-in
 * network's gets one naming that.
 * Return: 0 or -ENOMEM.
 */
int config_check_files(const struct network_config *const *v, size_t n, struct config_errors *errors);

/* [{"file", "key", "reason"}, ...]; NULL on OOM. */
json_t *config_errors_json(const struct config_errors *e);
/* {"name", "mode", "source", "description", "persistent", "lease_port_forwards",
 * "errors"}, as `networks` shows it. */
json_t *config_json(const struct network_config *c, const struct config_errors *errors);

/**
 * config_lookup() - the configuration of network @name, read from @config_dir now
 * @ret:	the caller's to clear with network_config_clear()
 * Return: 0, CONFIG_E_NOT_FOUND (also for a file with errors), or negative errno.
 */
int config_lookup(const char *config_dir, const char *name, struct network_config *ret);

#endif

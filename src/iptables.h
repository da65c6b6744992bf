/* iptables.h - the broker's accept rules in the iptables of Docker, ufw and others, both backends */
#ifndef VMNET_IPTABLES_H
#define VMNET_IPTABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

/* The chains of ours, jumped to from FORWARD (or DOCKER-USER) and from INPUT. */
#define IPT_CHAIN_FORWARD "VMNET-BROKER"
#define IPT_CHAIN_INPUT "VMNET-BROKER-IN"

enum ipt_backend {
	IPT_NFT,    /* iptables-nft: tables ip/ip6 filter of nf_tables */
	IPT_LEGACY, /* iptables-legacy: the x_tables of before nf_tables */
	_IPT_BACKEND_MAX,
};

enum ipt_family {
	IPT_IPV4,
	IPT_IPV6,
	_IPT_FAMILY_MAX,
};

const char *ipt_backend_to_string(enum ipt_backend b); /* "nft", "legacy" */
const char *ipt_family_to_string(enum ipt_family f);   /* "ipv4", "ipv6" */
/* "iptables-nft", "ip6tables-legacy", ... with @suffix ("-save", "-restore", ""). */
void ipt_program(enum ipt_backend b, enum ipt_family f, const char *suffix, char *buf, size_t size);

/* What `iptables-save -t filter` says, as far as the broker is concerned. */
struct ipt_view {
	char forward_policy[16]; /* "ACCEPT", "DROP"; "" when there is no FORWARD chain */
	char input_policy[16];
	bool forward_rules;         /* FORWARD has rules other than our jump: it may drop */
	bool input_rules;           /* likewise INPUT */
	bool docker_user;           /* Docker's DOCKER-USER chain exists */
	bool ufw;                   /* ufw's ufw-user-forward (ufw6-...) chain exists */
	bool forward_chain;         /* our VMNET-BROKER exists */
	bool input_chain;           /* our VMNET-BROKER-IN exists */
	unsigned int jumps_forward; /* -A FORWARD -j VMNET-BROKER */
	unsigned int jumps_docker;  /* -A DOCKER-USER -j VMNET-BROKER */
	unsigned int jumps_input;   /* -A INPUT -j VMNET-BROKER-IN */
	char *forward_lines;        /* our chains' rules as saved, "-A ..." lines joined by "\n" */
	char *input_lines;
};

/**
 * ipt_parse() - read the output of `iptables-save -t filter` (or ip6tables-save)
 *
 * Lines starting with "#" (comments, iptables-nft's warnings) are skipped.
 * Return: 0, or -ENOMEM, or -EINVAL when it holds no filter table.
 */
int ipt_parse(const char *save, struct ipt_view *ret);
void ipt_view_clear(struct ipt_view *v);

/* Whether FORWARD (or INPUT) of @v may drop a packet: policy DROP or any rule. */
bool ipt_forward_can_drop(const struct ipt_view *v);
bool ipt_input_can_drop(const struct ipt_view *v);

/* Another host of a span: what it sends this one (spans' underlays are IPv4). */
struct ipt_span_peer {
	uint32_t address; /* host byte order */
	uint16_t port;    /* the span's VXLAN port, UDP */
	bool bgp;         /* EVPN: its BGP session (TCP 179) too */
};

/* What the broker wants in every filter table whose hooks may drop. */
struct ipt_want {
	const char *const *bridges; /* the broker's bridges; none: remove everything of ours */
	size_t n_bridges;
	const char *const *names_links; /* the spans' names links: DNS comes in there */
	size_t n_names_links;
	unsigned int dns_port; /* a networks' dnsmasq listens here too (dhcp.c); 0: none */
	const struct ipt_span_peer *peers; /* the spans' other hosts, each once */
	size_t n_peers;
};

/**
 * ipt_plan() - the `iptables-restore --noflush` input that makes @v what @w wants
 * @ret_input:	malloc'ed, or NULL when everything is in place already
 * @ret_what:	what the input does, for the log ("" when nothing)
 *
 * FORWARD: chain VMNET-BROKER accepting everything from and to each
 * bridge, jumped to from the top of DOCKER-USER when that chain exists,
 * else from the top of FORWARD; only where FORWARD may drop. INPUT:
 * chain VMNET-BROKER-IN accepting what guests need of the host (DHCP,
 * DNS, ICMP), DNS on the spans' names links, and, for IPv4, what the
 * spans' other hosts send (VXLAN, BGP),
 * jumped to from the top of INPUT, only where INPUT may drop.
 * A chain rewritten is rewritten whole, in the one atomic restore.
 * Return: 0 or -ENOMEM.
 */
int ipt_plan(const struct ipt_view *v, enum ipt_family f, const struct ipt_want *w,
	     char **ret_input, char *ret_what, size_t what_size);

/* Whether @b's filter table for @f exists without asking for it (legacy: asking creates it). */
bool ipt_legacy_present(enum ipt_family f);

/* What one check of one backend and family found and did. */
struct ipt_report {
	enum ipt_backend backend;
	enum ipt_family family;
	int error;             /* 0, or negative errno: the check or the fix failed */
	char message[256];     /* the error in words (iptables' own), or "" */
	char what[256];        /* what the fix did, "" when nothing was needed */
	bool read;             /* iptables-save's output was read into @view */
	struct ipt_view view;  /* as found (before the fix) */
	bool forward_in_place; /* our FORWARD rules are in place, or not needed */
	bool input_in_place;
	const char *forward_from; /* where our FORWARD jump is: "DOCKER-USER", "FORWARD" or NULL */
	bool input_jump;          /* our INPUT jump is there */
};

struct ipt_check;

/* @pid of ours is about to change the table: its nftables events are no foreign change. */
typedef void (*ipt_spawned_fn)(pid_t pid, void *userdata);
/* The check ended; @rep is valid during the call (ipt_check_free() @c there or later). */
typedef void (*ipt_done_fn)(struct ipt_check *c, const struct ipt_report *rep, void *userdata);

/**
 * ipt_check_start() - read one backend's filter table for one family and fix it
 *
 * Runs `iptables-save -t filter`, then, if needed, `iptables-restore -w
 * --noflush` with ipt_plan()'s input, both on the event loop. @w is
 * copied. The caller must know the table exists (ipt_legacy_present(),
 * or the nftables table ip/ip6 filter): legacy iptables creates a table
 * it is asked about.
 * Return: 0 or negative errno (@done never runs then).
 */
int ipt_check_start(sd_event *event, enum ipt_backend b, enum ipt_family f, const struct ipt_want *w,
		    ipt_spawned_fn spawned, ipt_done_fn done, void *userdata, struct ipt_check **ret);
struct ipt_check *ipt_check_free(struct ipt_check *c);
/* The same, in place (the daemon's last steps, with no loop turning). Return: 0 or negative errno. */
int ipt_check_run(enum ipt_backend b, enum ipt_family f, const struct ipt_want *w,
		  struct ipt_report *ret);
void ipt_report_clear(struct ipt_report *r);

/*
 * Legacy iptables sends no events. A change shows in its table's
 * signature: IPT_SO_GET_INFO and the entries (IPT_SO_GET_ENTRIES) with
 * their counters zeroed, hashed; a few tens of microseconds per table.
 */
struct ipt_legacy_watch {
	int fd[_IPT_FAMILY_MAX]; /* raw sockets for the getsockopt()s, opened with CAP_NET_RAW */
};

/* Open the sockets (needs CAP_NET_RAW: at start-up). Return: 0 or negative errno. */
int ipt_legacy_watch_open(struct ipt_legacy_watch *w);
void ipt_legacy_watch_close(struct ipt_legacy_watch *w);
/* The signature of legacy filter table @f; 0 when it is not there. */
uint64_t ipt_legacy_signature(const struct ipt_legacy_watch *w, enum ipt_family f);

#endif

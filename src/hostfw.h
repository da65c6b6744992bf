/* hostfw.h - sharing the host's firewall: our table kept, Docker's, ufw's and firewalld's opened */
#ifndef VMNET_HOSTFW_H
#define VMNET_HOSTFW_H

#include <jansson.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

/* A running network, as far as the host's firewall is concerned. */
struct hostfw_network {
	const char *name;
	const char *bridge;
	const char *names_link; /* a span's (span-names.c): DNS comes in there too; NULL: none */
	bool dns_alt_port;      /* its dnsmasq listens on NFT_DNS_ALT_PORT */
	/* A span's other hosts, whose VXLAN (at span_port) and BGP (span_bgp) come in. */
	const uint32_t *span_peers; /* host byte order; NULL: no span */
	size_t n_span_peers;
	uint16_t span_port;
	bool span_bgp; /* EVPN */
};

/* What the host's firewall needs of the daemon around it. */
struct hostfw_env {
	sd_event *event;
	/*
	 * Rewrite table inet vmnet_broker for every running network, as
	 * firewall_apply() does. Return: 0 or negative errno (logged).
	 */
	int (*restore_table)(void *userdata);
	void *userdata;
};

struct hostfw;

/**
 * hostfw_new() - get ready to watch the host's firewall
 *
 * Opens what needs privileges the daemon drops later (the raw sockets
 * legacy iptables is read through): call it at start-up. Nothing is
 * watched before hostfw_start().
 * Return: 0 or negative errno.
 */
int hostfw_new(const struct hostfw_env *env, struct hostfw **ret);
/*
 * Watch nftables' events, firewalld, and legacy iptables, after
 * adoption wrote the table. Whatever cannot be watched is logged and
 * left out (no D-Bus: no firewalld).
 */
void hostfw_start(struct hostfw *h);
/*
 * Stop watching. The rules stay as they are: networks in use outlive
 * the daemon. When networks went away since the last check, the rules
 * are brought in line with the rest first (in place).
 */
struct hostfw *hostfw_free(struct hostfw *h);
static inline void hostfw_freep(struct hostfw **h)
{
	hostfw_free(*h);
}

/**
 * hostfw_set_networks() - the running networks are now exactly @v
 *
 * Called after every network that comes or goes. The accept rules in
 * iptables and the firewalld zone follow on the event loop, within tens
 * of milliseconds: a new network's acquire does not wait for them.
 * Return: 0 or -ENOMEM.
 */
int hostfw_set_networks(struct hostfw *h, const struct hostfw_network *v, size_t n);
/* Take every rule and zone interface of ours away, now (vmnet-brokerd --remove-all). */
void hostfw_remove_all(struct hostfw *h);

/* The "host" member of `status`: what was found on the host and what was done about it. */
json_t *hostfw_status_json(struct hostfw *h);

#endif

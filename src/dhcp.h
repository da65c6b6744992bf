/* dhcp.h - one dnsmasq per network: DHCP reservations and DNS */
#ifndef VMNET_DHCP_H
#define VMNET_DHCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "dns-name.h"

struct dnsmasq_env;
struct dhcp_server;
struct dhcp_watch;

/* dnsmasq's lease file of @s changed: dhcp_server_leases() has news. */
typedef void (*dhcp_leases_fn)(struct dhcp_server *s, void *userdata);

struct dhcp_params {
	const char *name;        /* network name, for file names and logs */
	const char *bridge;      /* interface dnsmasq serves */
	const char *state_dir;   /* NAME.hosts, .leases and .pid go in its DNSMASQ_DIR */
	const char *resolv_file; /* upstream DNS servers; NULL: dnsmasq's default */
	uint32_t gateway;        /* host byte order; the /24's .1 */
	uint8_t prefix_len;      /* of the IPv4 subnet; 0 means 24 */
	bool router;             /* advertise the gateway as default route */
	bool dns_upstream;       /* forward DNS queries beyond local names */
	bool no_dhcp4;           /* serve no IPv4 addresses (`dhcp`: false) */
	bool no_dns;             /* no DNS at all (`dns_proxy`: false): --port=0 */
	unsigned int dns_port;   /* DNS on this port, not 53 (a host's server has 53); 0: 53 */
	uint32_t range_first;    /* the dynamic range, host byte order; 0: none (static only) */
	uint32_t range_last;
	unsigned int lease_max; /* leases dnsmasq keeps at most: the subnet's addresses */
	const char *domain;     /* guests' names are NAME.@domain (NAME.names); NULL: none */
	unsigned int mtu;
	struct dnsmasq_env *env;  /* what dnsmasq is exec'd with; NULL: the daemon's environment */
	struct dhcp_watch *watch; /* tells when dnsmasq's lease file changes; NULL: nobody asks */
	dhcp_leases_fn on_leases;
	/* A span's: names of @domain this one lacks are asked of the other hosts' names
	 * servers (dhcp_server_set_name_peers()), none at first. */
	bool name_peers;
};

/* A MAC and its address: a reservation of the hosts file, or a lease of dnsmasq's file. */
struct dhcp_host {
	uint8_t mac[6];
	uint32_t address;             /* host byte order */
	char name[DNS_LABEL_MAX + 2]; /* a lease's: the host name the guest asked for, cut at 64; "" none */
};

/* One line of the names file: NAME.domain is @address. */
struct dhcp_name {
	char name[DNS_LABEL_MAX + 1];
	uint32_t address; /* host byte order */
};

/*
 * Called when dnsmasq exits on its own (not through dhcp_server_free()), or
 * a restart failed (@si NULL); it is started again after @restart_usec.
 */
typedef void (*dhcp_exit_fn)(struct dhcp_server *s, const siginfo_t *si, uint64_t restart_usec,
			     void *userdata);

/**
 * dhcp_watch_new() - one inotify instance on @event for every network's lease file
 *
 * One for the daemon, not one per network: freeing an instance waits for
 * an SRCU grace period (see dhcp.c), and a watch of the state directory
 * would wake the daemon for its own journal writes.
 * Return: 0 or negative errno.
 */
int dhcp_watch_new(sd_event *event, struct dhcp_watch **ret);
struct dhcp_watch *dhcp_watch_free(struct dhcp_watch *w);

/**
 * dhcp_server_new() - write the hosts file with @hosts and start dnsmasq for @p
 * Return: 0 or negative errno.
 */
int dhcp_server_new(sd_event *event, const struct dhcp_params *p, const struct dhcp_host *hosts,
		    size_t n_hosts, dhcp_exit_fn on_exit, void *userdata, struct dhcp_server **ret);
/**
 * dhcp_names_server_new() - start a span's names server for @p's network at @link
 *
 * A second dnsmasq that answers @p's names (the names file of the
 * network's dnsmasq, NAME.names) to the span's other hosts and nothing
 * else (dhcp.c says how; span-names.c why). Watched, restarted, stopped
 * and abandoned as the other one is; rereads the names file on
 * dhcp_server_reload().
 * Return: 0 or negative errno.
 */
int dhcp_names_server_new(sd_event *event, const struct dhcp_params *p, const char *link,
			  dhcp_exit_fn on_exit, void *userdata, struct dhcp_server **ret);
/**
 * dhcp_server_set_name_peers() - ask exactly @peers (@n names servers) for names it lacks
 *
 * A span's dnsmasq only (dhcp_params.name_peers): its servers file, and
 * SIGHUP. None: the domain's names are its own alone, as without a span.
 * Return: 0 or negative errno.
 */
int dhcp_server_set_name_peers(struct dhcp_server *s, const uint32_t *peers, size_t n);
/* Have dnsmasq reread its files (SIGHUP, as dhcp_server_set_hosts() sends it). Return: 0 or negative errno. */
int dhcp_server_reload(struct dhcp_server *s);
/* Stop dnsmasq (SIGTERM, then SIGKILL after a grace period), reap it, remove its files. */
struct dhcp_server *dhcp_server_free(struct dhcp_server *s);
static inline void dhcp_server_freep(struct dhcp_server **s)
{
	dhcp_server_free(*s);
}
/* Forget dnsmasq but leave it serving, with its files: the daemon stops, guests stay. */
struct dhcp_server *dhcp_server_abandon(struct dhcp_server *s);
/**
 * dhcp_stop_stale() - stop the dnsmasqs an earlier daemon left for network @name
 *
 * Its names server too (a span's: its pid file says which).
 * That is @pid (the record's) and the one in its pid file, but only a
 * process whose command line names this state dir's hosts file, so a
 * reused pid is never hit. The files of a daemon of before DNSMASQ_DIR
 * move there (the lease file) or go.
 */
void dhcp_stop_stale(pid_t pid, const char *state_dir, const char *name);

/**
 * dhcp_server_set_hosts() - serve exactly @hosts as reservations
 *
 * Rewrites the hosts file atomically and sends SIGHUP; dnsmasq rereads it
 * before it answers its next packet.
 * Return: 0 or negative errno.
 */
int dhcp_server_set_hosts(struct dhcp_server *s, const struct dhcp_host *hosts, size_t n);
/**
 * dhcp_server_set_names() - serve exactly @names, each as NAME.domain (the names file)
 *
 * Only names decided by the daemon; dnsmasq keeps the host names guests
 * ask for out of DNS (dhcp.c says how). Rewritten and SIGHUP'ed as
 * dhcp_server_set_hosts() does, and only when it changed.
 * Return: 1 when it changed, 0 when not, or negative errno.
 */
int dhcp_server_set_names(struct dhcp_server *s, const struct dhcp_name *names, size_t n);
/* dnsmasq's pid, 0 while it is down. */
pid_t dhcp_server_pid(const struct dhcp_server *s);

/**
 * dhcp_server_leases() - the unexpired IPv4 leases dnsmasq holds (its lease file)
 *
 * dnsmasq keeps a lease after its port is gone, until it expires, and
 * will not give that address to another MAC before then. The file is
 * read again only when its inode, size or modification time changed, or
 * when it was written within the last second. Each lease has the host
 * name the guest asked for. In the file's order: the newest lease first.
 * Return: 0 with a malloc'ed array in *@ret (free it; possibly empty), or negative errno.
 */
int dhcp_server_leases(struct dhcp_server *s, struct dhcp_host **ret, size_t *ret_n);

#endif

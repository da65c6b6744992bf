/* resolved.c - the host resolves guests' names: per-link DNS and domain in systemd-resolved
 *
 * On a host where systemd-resolved runs, each bridge becomes a link with
 * its network's dnsmasq as DNS server and the network's domain as a
 * routing-only domain ("~shared.vmnet"): the host asks that dnsmasq for
 * those names, and only for those. libvirt registers its networks the
 * same way. It asks nothing that DNS does not answer anyway: no file of
 * the state directory is read for it (docs/design.md, *Names*, says why
 * not an NSS module).
 *
 * Every call is asynchronous on the daemon's event loop, never started
 * by the bus (a systemd-resolved that is off stays off), and only for a
 * systemd-resolved of the daemon's own network namespace: one outside it
 * (a daemon in a container, or a test's namespace, on the host's bus)
 * has other links under those indexes. Its namespace is checked per
 * link through /proc/PID/net, which, unlike /proc/PID/ns, needs no
 * privilege the daemon keeps: the bridge must be there under its name,
 * with its index and its IPv6 address (a random ULA, which no other
 * namespace has). systemd-resolved keeps what it is told across its own
 * restarts (/run/systemd/resolve/netif); a new instance on the bus is
 * told everything again all the same.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>

#include "dns-name.h"
#include "log.h"
#include "resolved.h"
#include "util.h"

#define RESOLVE1 "org.freedesktop.resolve1"
#define RECONNECT_USEC (10 * 1000 * 1000ULL) /* a missing bus is tried again after this */

struct resolved_link {
	LIST_ENTRY(resolved_link) link;
	int ifindex;
	char name[IFNAMSIZ];
	uint32_t dns4;
	unsigned int port; /* of dnsmasq's DNS on dns4; 0: 53 */
	uint8_t addr6[16]; /* the bridge's, to know it in systemd-resolved's namespace */
	char domain[DNS_DOMAIN_MAX + 1];
};

struct resolved {
	sd_event *event;
	sd_bus *bus;                /* NULL until needed, and after it went away */
	sd_bus_slot *pid_query;     /* GetConnectionUnixProcessID in flight */
	pid_t pid;                  /* systemd-resolved's, while it is on the bus; 0: not there */
	uint64_t retry_usec;        /* no new connection before this (CLOCK_MONOTONIC) */
	sd_event_source *reconnect; /* armed after the bus went away */
	bool denied_logged;
	LIST_HEAD(, resolved_link) links;
};

int resolved_new(sd_event *event, struct resolved **ret)
{
	struct resolved *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->event = sd_event_ref(event);
	LIST_INIT(&r->links);
	*ret = r;
	return 0;
}

static void drop_bus(struct resolved *r)
{
	r->pid_query = sd_bus_slot_unref(r->pid_query);
	r->bus = sd_bus_flush_close_unref(r->bus);
	r->pid = 0;
}

struct resolved *resolved_free(struct resolved *r)
{
	struct resolved_link *l;

	if (!r)
		return NULL;
	while ((l = LIST_FIRST(&r->links))) {
		LIST_REMOVE(l, link);
		free(l);
	}
	drop_bus(r);
	r->reconnect = sd_event_source_disable_unref(r->reconnect);
	sd_event_unref(r->event);
	free(r);
	return NULL;
}

/*
 * Whether bridge @l is there, by its name, index and IPv6 address, in the
 * namespace of process @pid: "ADDR IFINDEX PLEN SCOPE FLAGS NAME" lines,
 * hex, in /proc/PID/net/if_inet6.
 */
static bool same_namespace(pid_t pid, const struct resolved_link *l)
{
	char path[64], want[33], addr[40], name[IFNAMSIZ + 1];
	unsigned int index, plen, scope, flags;
	bool found = false;
	FILE *f;

	for (size_t i = 0; i < 16; i++)
		snprintf(want + 2 * i, 3, "%02x", l->addr6[i]);
	snprintf(path, sizeof(path), "/proc/%d/net/if_inet6", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found &&
	       fscanf(f, "%39s %x %x %x %x %16s", addr, &index, &plen, &scope, &flags, name) == 6)
		found = streq(addr, want) && (int)index == l->ifindex && streq(name, l->name);
	fclose(f);
	return found;
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct resolved *r = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);

	if (!e)
		return 0;
	if (sd_bus_error_has_name(e, SD_BUS_ERROR_ACCESS_DENIED) && !r->denied_logged) {
		r->denied_logged = true;
		log_warning("systemd-resolved refused to take the networks' DNS domains: %s",
			    e->message ? e->message : e->name);
	} else {
		log_debug("systemd-resolved: %s: %s", e->name, e->message ? e->message : "");
	}
	return 0;
}

/* One call of resolve1.Manager, never starting systemd-resolved. */
static int call(struct resolved *r, const char *method, const char *types, ...)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	va_list ap;
	int q;

	q = sd_bus_message_new_method_call(r->bus, &m, RESOLVE1, "/org/freedesktop/resolve1",
					   RESOLVE1 ".Manager", method);
	if (q < 0)
		return q;
	q = sd_bus_message_set_auto_start(m, 0);
	if (q < 0)
		return q;
	va_start(ap, types);
	q = sd_bus_message_appendv(m, types, ap);
	va_end(ap);
	if (q < 0)
		return q;
	return sd_bus_call_async(r->bus, NULL, m, on_reply, r, 0);
}

static void tell(struct resolved *r, const struct resolved_link *l)
{
	int q = 0;

	if (!r->bus || r->pid <= 0)
		return;
	if (!same_namespace(r->pid, l)) {
		log_debug("systemd-resolved (pid %d) is not in our network namespace: not telling it "
			  "of %s",
			  (int)r->pid, l->name);
		return;
	}
	/*
	 * The gateway, where the network's dnsmasq answers the host (lo). On
	 * its other port where a DNS server of the host holds 53: the table
	 * redirects only guests' queries there, and the host's own to the
	 * gateway's 53 reach the host's server (network.c, nft.c). A port
	 * needs SetLinkDNSEx (systemd 246).
	 */
	if (l->port)
		q |= call(r, "SetLinkDNSEx", "ia(iayqs)", l->ifindex, 1, AF_INET, 4,
			  (int)(l->dns4 >> 24), (int)(l->dns4 >> 16) & 0xff,
			  (int)(l->dns4 >> 8) & 0xff, (int)l->dns4 & 0xff, (int)l->port, "");
	else
		q |= call(r, "SetLinkDNS", "ia(iay)", l->ifindex, 1, AF_INET, 4,
			  (int)(l->dns4 >> 24), (int)(l->dns4 >> 16) & 0xff,
			  (int)(l->dns4 >> 8) & 0xff, (int)l->dns4 & 0xff);
	/* "~domain": only those names are asked there, and nothing else. */
	q |= call(r, "SetLinkDomains", "ia(sb)", l->ifindex, 1, l->domain, 1);
	q |= call(r, "SetLinkDefaultRoute", "ib", l->ifindex, 0);
	/* Guests' networks are no place for the host's multicast name queries. */
	q |= call(r, "SetLinkLLMNR", "is", l->ifindex, "no");
	q |= call(r, "SetLinkMulticastDNS", "is", l->ifindex, "no");
	if (q < 0)
		log_debug_errno(q, "Failed to call systemd-resolved for %s: %m", l->name);
	else
		log_debug("Told systemd-resolved that %s is asked of %s", l->domain, l->name);
}

static void tell_all(struct resolved *r)
{
	const struct resolved_link *l;

	LIST_FOREACH(l, &r->links, link)
		tell(r, l);
}

static int on_pid(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct resolved *r = userdata;
	uint32_t pid = 0;

	r->pid_query = sd_bus_slot_unref(r->pid_query);
	r->pid = 0;
	if (sd_bus_message_is_method_error(m, NULL) || sd_bus_message_read(m, "u", &pid) < 0)
		return 0; /* not there: it says so when it comes */
	r->pid = (pid_t)pid;
	tell_all(r);
	return 0;
}

static void ask_pid(struct resolved *r)
{
	int q;

	r->pid_query = sd_bus_slot_unref(r->pid_query);
	q = sd_bus_call_method_async(r->bus, &r->pid_query, "org.freedesktop.DBus",
				     "/org/freedesktop/DBus", "org.freedesktop.DBus",
				     "GetConnectionUnixProcessID", on_pid, r, "s", RESOLVE1);
	if (q < 0)
		log_debug_errno(q, "Failed to ask for systemd-resolved: %m");
}

static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct resolved *r = userdata;
	const char *name, *old, *new;

	if (sd_bus_message_read(m, "sss", &name, &old, &new) < 0 || !streq(name, RESOLVE1))
		return 0;
	r->pid = 0;
	if (*new)
		ask_pid(r); /* started (again): tell it everything */
	return 0;
}

static int connect_bus(struct resolved *r);

static int on_reconnect(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct resolved *r = userdata;

	r->reconnect = sd_event_source_disable_unref(r->reconnect);
	if (connect_bus(r) < 0 && !LIST_EMPTY(&r->links))
		(void)sd_event_add_time_relative(r->event, &r->reconnect, CLOCK_MONOTONIC,
						 RECONNECT_USEC, 0, on_reconnect, r);
	return 0;
}

/* The bus restarted (or stopped): connect again, now and then, while there are links to tell. */
static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct resolved *r = userdata;

	log_debug("The system bus went away; systemd-resolved is told again once it is back");
	drop_bus(r);
	r->retry_usec = 0;
	if (!r->reconnect)
		(void)sd_event_add_time_relative(r->event, &r->reconnect, CLOCK_MONOTONIC,
						 RECONNECT_USEC / 10, 0, on_reconnect, r);
	return 0;
}

static int connect_bus(struct resolved *r)
{
	uint64_t now = 0;
	int q;

	(void)sd_event_now(r->event, CLOCK_MONOTONIC, &now);
	if (r->bus || now < r->retry_usec)
		return 0;
	r->retry_usec = now + RECONNECT_USEC;
	q = sd_bus_open_system(&r->bus);
	if (q >= 0)
		q = sd_bus_attach_event(r->bus, r->event, SD_EVENT_PRIORITY_NORMAL);
	if (q >= 0)
		q = sd_bus_match_signal(r->bus, NULL, "org.freedesktop.DBus.Local", NULL,
					"org.freedesktop.DBus.Local", "Disconnected",
					on_disconnected, r);
	if (q >= 0)
		q = sd_bus_match_signal_async(r->bus, NULL, "org.freedesktop.DBus",
					      "/org/freedesktop/DBus", "org.freedesktop.DBus",
					      "NameOwnerChanged", on_owner_changed, NULL, r);
	if (q < 0) {
		/* No system bus (a container, a test): nothing to tell. */
		log_debug_errno(q, "Failed to connect to the system bus: %m");
		drop_bus(r);
		return q;
	}
	ask_pid(r);
	return 0;
}

void resolved_link_add(struct resolved *r, int ifindex, const char *name, uint32_t dns4,
		       unsigned int port, const uint8_t addr6[16], const char *domain)
{
	struct resolved_link *l;

	if (!r)
		return;
	l = calloc(1, sizeof(*l));
	if (!l) {
		log_warning("Failed to remember %s for systemd-resolved: out of memory", name);
		return;
	}
	l->ifindex = ifindex;
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->dns4 = dns4;
	l->port = port == 53 ? 0 : port;
	memcpy(l->addr6, addr6, 16);
	snprintf(l->domain, sizeof(l->domain), "%s", domain);
	LIST_INSERT_HEAD(&r->links, l, link);
	if (!r->bus)
		(void)connect_bus(r); /* tells every link once systemd-resolved's pid is known */
	else
		tell(r, l);
}

void resolved_link_remove(struct resolved *r, int ifindex)
{
	struct resolved_link *l;

	if (!r)
		return;
	LIST_FOREACH(l, &r->links, link)
		if (l->ifindex == ifindex) {
			LIST_REMOVE(l, link);
			free(l);
			return;
		}
}

/* firewalld.c - the broker's bridges in a firewalld zone of its own, over D-Bus
 *
 * firewalld (Fedora, RHEL, openSUSE) puts every interface it does not
 * know into its default zone, whose rules drop forwarded traffic and
 * what guests ask of the host (DHCP, DNS): with br_netfilter even
 * traffic between two guests on one bridge. As libvirt does with its
 * "libvirt" zone, the broker puts its bridges into a zone of its own,
 * vmnet-broker (firewalld/vmnet-broker.xml): forwarding to and from the
 * bridges is accepted there, and the guests may reach of the host only
 * what the networks need (DHCP, DNS, ICMP); the broker's nftables table
 * does the rest. The package ships the zone; where it is missing, it is
 * added here (permanent, firewalld has no runtime-only zones) and
 * firewalld reloaded once.
 *
 * An interface's zone is runtime state that firewalld forgets on every
 * reload and restart, so it is applied again on the Reloaded signal and
 * whenever firewalld appears on the bus (NameOwnerChanged), as libvirt
 * does. Everything is asynchronous on the event loop.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "firewalld.h"
#include "nft.h"
#include "util.h"

#define FW_NAME "org.fedoraproject.FirewallD1"
#define FW_PATH "/org/fedoraproject/FirewallD1"
#define FW_ZONE_IFACE FW_NAME ".zone"
#define FW_CONFIG_PATH FW_PATH "/config"
#define FW_CONFIG_IFACE FW_NAME ".config"
#define CALL_TIMEOUT_USEC (25 * 1000 * 1000ULL)

/* A set of interface names. */
struct names {
	char **v;
	size_t n;
};

struct firewalld {
	sd_bus *bus;
	sd_bus_slot *reloaded;
	sd_bus_slot *owner;
	bool running;
	bool zone_present;
	bool zone_added;   /* by us, in this daemon's life: never twice */
	bool zone_pending; /* ... and the reload that makes it runtime not yet done */
	struct names want;
	struct names bound;
	firewalld_fn fn;
	void *userdata;
};

static void names_clear(struct names *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	s->v = mfree(s->v);
	s->n = 0;
}

static bool names_has(const struct names *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (streq(s->v[i], name))
			return true;
	return false;
}

static int names_add(struct names *s, const char *name)
{
	char **v;

	if (names_has(s, name))
		return 0;
	v = reallocarray(s->v, s->n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->v = v;
	s->v[s->n] = strdup(name);
	if (!s->v[s->n])
		return -ENOMEM;
	s->n++;
	return 0;
}

static void names_del(struct names *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (streq(s->v[i], name)) {
			free(s->v[i]);
			s->v[i] = s->v[--s->n];
			return;
		}
}

bool firewalld_running(const struct firewalld *fw)
{
	return fw && fw->running;
}

bool firewalld_zone_present(const struct firewalld *fw)
{
	return fw && fw->zone_present;
}

size_t firewalld_bound(const struct firewalld *fw, const char *const **ret)
{
	*ret = fw ? (const char *const *)fw->bound.v : NULL;
	return fw ? fw->bound.n : 0;
}

static void report(struct firewalld *fw, enum firewalld_event e, const char *detail)
{
	fw->fn(e, detail, fw->userdata);
}

/* firewalld's error for a failed call, as "NAME: message". */
static void report_error(struct firewalld *fw, sd_bus_message *m, const char *what)
{
	const sd_bus_error *e = sd_bus_message_get_error(m);
	char buf[256];

	snprintf(buf, sizeof(buf), "%s: %s", what, e && e->message ? e->message : "failed");
	report(fw, FIREWALLD_ERROR, buf);
}

/* One call in flight; freed with its slot (the bus frees floating slots it still holds). */
struct call {
	struct firewalld *fw;
	char ifname[IFNAMSIZ];
};

static int call_async(struct firewalld *fw, sd_bus_message_handler_t cb, const char *ifname,
		      sd_bus_message *m)
{
	_cleanup_free_ struct call *c = calloc(1, sizeof(*c));
	sd_bus_slot *slot = NULL;
	int r;

	if (!c)
		return -ENOMEM;
	c->fw = fw;
	snprintf(c->ifname, sizeof(c->ifname), "%s", ifname ? ifname : "");
	r = sd_bus_call_async(fw->bus, &slot, m, cb, c, CALL_TIMEOUT_USEC);
	if (r < 0)
		return r;
	(void)sd_bus_slot_set_destroy_callback(slot, free);
	(void)sd_bus_slot_set_floating(slot, 1);
	sd_bus_slot_unref(slot);
	TAKE_PTR(c);
	return 0;
}

static int method(struct firewalld *fw, const char *path, const char *iface, const char *member,
		  sd_bus_message **ret)
{
	return sd_bus_message_new_method_call(fw->bus, ret, FW_NAME, path, iface, member);
}

static int on_changed_zone(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	struct call *c = userdata;

	if (sd_bus_message_is_method_error(m, NULL)) {
		report_error(c->fw, m, c->ifname);
		return 0;
	}
	if (names_has(&c->fw->want, c->ifname) && names_add(&c->fw->bound, c->ifname) >= 0)
		report(c->fw, FIREWALLD_BOUND, c->ifname);
	return 0;
}

static int on_removed(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	struct call *c = userdata;

	/* Gone from firewalld or never there: either way not ours to track. */
	names_del(&c->fw->bound, c->ifname);
	return 0;
}

/* zone.changeZoneOfInterface(zone, ifname) or zone.removeInterface(zone, ifname). */
static int zone_call(struct firewalld *fw, const char *member, const char *ifname,
		     sd_bus_message_handler_t cb)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	int r;

	r = method(fw, FW_PATH, FW_ZONE_IFACE, member, &m);
	if (r >= 0)
		r = sd_bus_message_append(m, "ss", FIREWALLD_ZONE, ifname);
	if (r >= 0)
		r = call_async(fw, cb, ifname, m);
	return r;
}

static void put_interfaces(struct firewalld *fw)
{
	for (size_t i = 0; i < fw->want.n; i++)
		if (!names_has(&fw->bound, fw->want.v[i]) &&
		    zone_call(fw, "changeZoneOfInterface", fw->want.v[i], on_changed_zone) < 0)
			report(fw, FIREWALLD_ERROR, "cannot call firewalld");
}

static int on_reload_done(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	struct call *c = userdata;

	/* On success, the Reloaded signal (sent before this reply) put the interfaces in. */
	c->fw->zone_pending = false;
	if (sd_bus_message_is_method_error(m, NULL))
		report_error(c->fw, m, "reload");
	return 0;
}

static int on_zone_added(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	struct call *c = userdata;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *r = NULL;

	if (sd_bus_message_is_method_error(m, NULL)) {
		c->fw->zone_pending = false;
		report_error(c->fw, m, "addZone2");
		return 0;
	}
	report(c->fw, FIREWALLD_ZONE_ADDED, FIREWALLD_ZONE);
	/* A permanent zone becomes a runtime one only by a reload. */
	if (method(c->fw, FW_PATH, FW_NAME, "reload", &r) < 0 ||
	    call_async(c->fw, on_reload_done, NULL, r) < 0)
		report(c->fw, FIREWALLD_ERROR, "cannot call firewalld");
	return 0;
}

/*
 * config.addZone2(name, settings), firewalld >= 0.9: the zone as
 * firewalld/vmnet-broker.xml has it. Forwarding from and to its
 * interfaces is accepted (target ACCEPT); what reaches the host is only
 * what is listed (the low-priority reject), as in libvirt's zone. No
 * "forward" key: firewalld before 1.0 (RHEL 8) refuses it, and target
 * ACCEPT forwards all the same.
 */
static int add_zone(struct firewalld *fw)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	char port[8];
	int r;

	snprintf(port, sizeof(port), "%u", NFT_DNS_ALT_PORT);
	fw->zone_added = true;
	fw->zone_pending = true;
	r = method(fw, FW_CONFIG_PATH, FW_CONFIG_IFACE, "addZone2", &m);
	if (r >= 0)
		r = sd_bus_message_append(m, "sa{sv}", FIREWALLD_ZONE, 7, "short", "s",
					  "vmnet-broker", "description", "s",
					  "Bridges of vmnet-broker's networks: forwarding is accepted (the broker's "
					  "own nftables table filters it); guests reach only DHCP, DNS and ICMP of "
					  "the host.",
					  "target", "s", "ACCEPT", "services", "as", 2, "dhcp",
					  "dns", "ports", "a(ss)", 2, port, "udp", port, "tcp",
					  "protocols", "as", 2, "icmp", "ipv6-icmp", "rules_str",
					  "as", 1, "rule priority=\"32767\" reject");
	if (r >= 0)
		r = call_async(fw, on_zone_added, NULL, m);
	return r;
}

static int on_zones(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	struct call *c = userdata;
	struct firewalld *fw = c->fw;
	const char *z;
	int r;

	if (sd_bus_message_is_method_error(m, NULL)) {
		report_error(fw, m, "getZones");
		return 0;
	}
	fw->zone_present = false;
	r = sd_bus_message_enter_container(m, 'a', "s");
	while (r >= 0 && sd_bus_message_read(m, "s", &z) > 0)
		if (streq(z, FIREWALLD_ZONE))
			fw->zone_present = true;
	if (fw->zone_present)
		put_interfaces(fw);
	else if (fw->zone_added && !fw->zone_pending)
		report(fw, FIREWALLD_ERROR, "zone " FIREWALLD_ZONE " still missing after adding it");
	else if (!fw->zone_added && add_zone(fw) < 0)
		report(fw, FIREWALLD_ERROR, "cannot call firewalld");
	/* Being added: the reload's signal applies. */
	return 0;
}

/* Look for our zone, then put every interface in it. */
static void apply(struct firewalld *fw)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

	if (!fw->running || fw->want.n == 0)
		return;
	if (method(fw, FW_PATH, FW_ZONE_IFACE, "getZones", &m) < 0 ||
	    call_async(fw, on_zones, NULL, m) < 0)
		report(fw, FIREWALLD_ERROR, "cannot call firewalld");
}

static int on_reloaded(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	struct firewalld *fw = userdata;

	/* A reload forgets every runtime binding of an interface to a zone. */
	names_clear(&fw->bound);
	report(fw, FIREWALLD_RELOADED, NULL);
	apply(fw);
	return 0;
}

static void came(struct firewalld *fw)
{
	fw->running = true;
	names_clear(&fw->bound);
	report(fw, FIREWALLD_UP, NULL);
	apply(fw);
}

static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	struct firewalld *fw = userdata;
	const char *name, *old, *new;

	if (sd_bus_message_read(m, "sss", &name, &old, &new) < 0 || !streq(name, FW_NAME))
		return 0;
	if (new &&*new) {
		came(fw);
		return 0;
	}
	fw->running = false;
	fw->zone_present = false;
	names_clear(&fw->bound);
	report(fw, FIREWALLD_DOWN, NULL);
	return 0;
}

static int on_owner_now(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	struct call *c = userdata;

	/* An error is "no owner": it is not running (yet); NameOwnerChanged tells when. */
	if (!sd_bus_message_is_method_error(m, NULL))
		came(c->fw);
	return 0;
}

static int watch(struct firewalld *fw)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	int r;

	r = sd_bus_match_signal_async(fw->bus, &fw->reloaded, FW_NAME, FW_PATH, FW_NAME, "Reloaded",
				      on_reloaded, NULL, fw);
	if (r >= 0)
		r = sd_bus_add_match_async(fw->bus, &fw->owner,
					   "type='signal',sender='org.freedesktop.DBus',"
					   "interface='org.freedesktop.DBus',"
					   "member='NameOwnerChanged',arg0='" FW_NAME "'",
					   on_owner_changed, NULL, fw);
	if (r >= 0)
		r = sd_bus_message_new_method_call(fw->bus, &m, "org.freedesktop.DBus",
						   "/org/freedesktop/DBus", "org.freedesktop.DBus",
						   "GetNameOwner");
	if (r >= 0)
		r = sd_bus_message_append(m, "s", FW_NAME);
	if (r >= 0)
		r = call_async(fw, on_owner_now, NULL, m);
	return r;
}

int firewalld_new(sd_event *event, firewalld_fn fn, void *userdata, struct firewalld **ret)
{
	struct firewalld *fw = calloc(1, sizeof(*fw));
	int r;

	if (!fw)
		return -ENOMEM;
	fw->fn = fn;
	fw->userdata = userdata;
	r = sd_bus_open_system(&fw->bus);
	if (r >= 0)
		r = sd_bus_attach_event(fw->bus, event, SD_EVENT_PRIORITY_NORMAL);
	if (r >= 0)
		r = watch(fw);
	if (r < 0) {
		firewalld_free(fw);
		return r;
	}
	*ret = fw;
	return 0;
}

struct firewalld *firewalld_free(struct firewalld *fw)
{
	if (!fw)
		return NULL;
	fw->reloaded = sd_bus_slot_unref(fw->reloaded);
	fw->owner = sd_bus_slot_unref(fw->owner);
	/* Calls still in flight go with the bus, their destroy callbacks with them. */
	fw->bus = sd_bus_flush_close_unref(fw->bus);
	names_clear(&fw->want);
	names_clear(&fw->bound);
	free(fw);
	return NULL;
}

int firewalld_set_interfaces(struct firewalld *fw, const char *const *ifnames, size_t n)
{
	struct names want = {};
	int r = 0;

	for (size_t i = 0; i < n && r >= 0; i++)
		r = names_add(&want, ifnames[i]);
	if (r < 0) {
		names_clear(&want);
		return r;
	}
	/* Out of the zone what is no longer ours (the bridge is gone, or going). */
	for (size_t i = 0; i < fw->bound.n; i++)
		if (fw->running && !names_has(&want, fw->bound.v[i]))
			(void)zone_call(fw, "removeInterface", fw->bound.v[i], on_removed);
	names_clear(&fw->want);
	fw->want = want;
	if (fw->running && fw->zone_present)
		put_interfaces(fw);
	else
		apply(fw);
	return 0;
}

void firewalld_release_all(struct firewalld *fw)
{
	if (!fw || !fw->running)
		return;
	for (size_t i = 0; i < fw->bound.n; i++)
		(void)sd_bus_call_method(fw->bus, FW_NAME, FW_PATH, FW_ZONE_IFACE, "removeInterface",
					 NULL, NULL, "ss", FIREWALLD_ZONE, fw->bound.v[i]);
	names_clear(&fw->bound);
	names_clear(&fw->want);
}

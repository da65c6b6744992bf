/* hostfw.c - sharing the host's firewall: our table kept, Docker's, ufw's and firewalld's opened
 *
 * Theory of operation. The broker's rules live in its own nftables table,
 * but the host has other firewalls, and they change under it:
 *
 *   - `nft flush ruleset` (what restarting Debian's nftables.service
 *     does) or anyone else removes or edits table inet vmnet_broker.
 *     nftables tells every listener of each commit and who made it
 *     (nftmon.c); a change by someone else is undone by rewriting the
 *     whole table from the broker's state (firewall_apply(), atomic,
 *     2 ms for one network, 30 for 64), 100 ms after the last change of a burst and at most
 *     500 ms after the first (a restart of a firewall service is two
 *     batches: a flush, then its rules), one log line each. Whoever keeps
 *     removing it is answered with a growing delay (1 s, 2 s ... 60 s)
 *     after five quick restores, not with a loop.
 *   - Docker, ufw, or an admin set iptables' FORWARD (and ufw INPUT)
 *     to drop, and with br_netfilter that drops guests' traffic even on
 *     one bridge. Wherever a filter table of iptables exists and may
 *     drop, in each backend and family, accept rules for the bridges (and
 *     for the VXLAN and BGP of the spans' other hosts, which ufw's INPUT
 *     drops) go into chains of ours (iptables.c). They are checked
 *     whenever the networks change, 300 ms after iptables-nft's tables settled
 *     (Docker and ufw change them in dozens of batches), and, since
 *     legacy iptables sends no events, when a check every second (while
 *     networks are up) sees a legacy table's signature change: a hash
 *     of its entries, taken only of tables that exist, tens of
 *     microseconds. Changes our own iptables processes make are not news.
 *   - firewalld puts unknown interfaces into a zone that drops guests'
 *     traffic: the bridges go into the broker's zone (firewalld.c),
 *     again after every reload and restart of firewalld.
 *
 * Nothing here is persisted: a new daemon finds the same by looking.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "firewalld.h"
#include "hostfw.h"
#include "hostfw-state.h"
#include "iptables.h"
#include "log.h"
#include "nft.h"
#include "nftmon.h"
#include "proc.h"
#include "sockdiag.h"
#include "util.h"

#define RESTORE_SETTLE_USEC (100 * USEC_PER_MSEC)   /* after the last foreign change of a burst */
#define RESTORE_MAX_WAIT_USEC (500 * USEC_PER_MSEC) /* after the first, at most */
#define RESTORE_QUICK 5                             /* restores in a row before backing off */
#define RESTORE_IN_A_ROW_USEC (10 * USEC_PER_SEC)   /* a change this soon after a restore */
#define RESTORE_QUIET_USEC (60 * USEC_PER_SEC)      /* ... and this long without one resets */
#define RESTORE_MAX_BACKOFF_USEC (60 * USEC_PER_SEC)
#define IPT_SETTLE_USEC (300 * USEC_PER_MSEC)
#define FW_RETRY_USEC (10 * USEC_PER_SEC)
#define LEGACY_POLL_USEC (1 * USEC_PER_SEC)

static uint64_t now_usec(struct hostfw *h)
{
	uint64_t t = 0;

	(void)sd_event_now(h->env.event, CLOCK_MONOTONIC, &t);
	return t;
}

static void happened(struct happening *e, const char *cause, const char *what, double ms)
{
	e->time = time(NULL);
	snprintf(e->cause, sizeof(e->cause), "%s", cause ? cause : "");
	snprintf(e->what, sizeof(e->what), "%s", what ? what : "");
	e->ms = ms;
}

/* ---- table inet vmnet_broker */

static void restore_soon(struct hostfw *h, const char *cause);

static int on_restore_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct hostfw *h = userdata;
	uint64_t t0 = now_usec(h), t1;
	char cause[CAUSE_MAX + 64];
	struct timespec a, b;
	double ms;
	int r;

	h->restore_pending = false;
	if (h->n_nets == 0)
		return 0; /* the last network went meanwhile: no table to keep */
	snprintf(cause, sizeof(cause), "%s", h->cause);
	if (h->batches > 1) {
		size_t l = strlen(cause);

		snprintf(cause + l, sizeof(cause) - l, " (and %u more change(s))", h->batches - 1);
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	r = h->env.restore_table(h->env.userdata);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	t1 = now_usec(h);
	h->last_restore_mono = t1 > t0 ? t1 : t0;
	if (r < 0) {
		/* Logged. Again soon, and later and later if it keeps failing (backoff()). */
		char again[CAUSE_MAX];

		snprintf(again, sizeof(again), "%s", h->cause);
		restore_soon(h, again);
		return 0;
	}
	h->restores++;
	happened(&h->last_restore, cause, NULL, ms);
	log_notice("Table inet " NFT_TABLE ": %s; restored %zu network(s) in %.1f ms, %" PRIu64
		   " ms after the change",
		   cause, h->n_nets, ms, (t0 - h->first_seen) / USEC_PER_MSEC);
	return 0;
}

/* The delay before the next restore: none for the first few in a row, then doubling. */
static uint64_t backoff(struct hostfw *h, uint64_t now)
{
	uint64_t gap = h->last_restore_mono ? now - h->last_restore_mono : UINT64_MAX;
	uint64_t delay;

	if (gap < RESTORE_IN_A_ROW_USEC)
		h->in_a_row++;
	else if (gap >= RESTORE_QUIET_USEC)
		h->in_a_row = 0;
	if (h->in_a_row < RESTORE_QUICK)
		return 0;
	delay = USEC_PER_SEC << (h->in_a_row - RESTORE_QUICK < 6 ? h->in_a_row - RESTORE_QUICK : 6);
	return delay < RESTORE_MAX_BACKOFF_USEC ? delay : RESTORE_MAX_BACKOFF_USEC;
}

static void restore_soon(struct hostfw *h, const char *cause)
{
	uint64_t now = now_usec(h), due;
	int r;

	if (h->n_nets == 0)
		return;
	if (!h->restore_pending) {
		h->restore_pending = true;
		h->first_seen = now;
		h->batches = 0;
		snprintf(h->cause, sizeof(h->cause), "%s", cause);
		h->delay = backoff(h, now);
		h->deadline = now + h->delay + RESTORE_MAX_WAIT_USEC;
		if (h->delay)
			log_warning("Table inet " NFT_TABLE " keeps being changed (%u times in a row "
				    "within %" PRIu64
				    " s of a restore), last: %s; restoring it in %" PRIu64 " s",
				    h->in_a_row + 1, RESTORE_IN_A_ROW_USEC / USEC_PER_SEC, cause,
				    h->delay / USEC_PER_SEC);
	}
	h->batches++;
	due = now + h->delay + RESTORE_SETTLE_USEC;
	if (due > h->deadline)
		due = h->deadline;
	if (!h->restore_timer)
		/* Accuracy 1 us: sd-event's default would add up to 250 ms. */
		r = sd_event_add_time(h->env.event, &h->restore_timer, CLOCK_MONOTONIC, due, 1,
				      on_restore_timer, h);
	else
		r = sd_event_source_set_time(h->restore_timer, due);
	if (r >= 0)
		r = sd_event_source_set_enabled(h->restore_timer, SD_EVENT_ONESHOT);
	if (r < 0) {
		/* Out of memory: the next change tries again. */
		h->restore_pending = false;
		log_warning_errno(r, "Failed to arm the table restore timer: %m");
	}
}

/* ---- iptables */

static void ipt_soon(struct hostfw *h, const char *cause, uint64_t settle);

static bool own_pid(const struct hostfw *h, uint32_t pid)
{
	for (unsigned int i = 0; i < OWN_PIDS; i++)
		if (pid && h->own[i] == (pid_t)pid)
			return true;
	return false;
}

static void on_spawned(pid_t pid, void *userdata)
{
	struct hostfw *h = userdata;

	h->own[h->own_next++ % OWN_PIDS] = pid;
}

/*
 * The bridges' names, then the spans' names links (the other hosts'
 * questions for names come in there), in a malloc'ed array; *@ret_n
 * bridges, *@ret_links links after them. NULL when out of memory.
 */
static const char **bridge_names(const struct hostfw *h, size_t *ret_n, size_t *ret_links)
{
	const char **v = calloc(2 * h->n_nets + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; v && i < h->n_nets; i++)
		v[n++] = h->nets[i].bridge;
	*ret_n = n;
	for (size_t i = 0; v && i < h->n_nets; i++)
		if (h->nets[i].names_link[0])
			v[n++] = h->nets[i].names_link;
	*ret_links = n - *ret_n;
	return v;
}

/* Which bridges and names links (@v: bridge_names()), the DNS port and the spans' hosts
 * every filter table that may drop must let through. */
static void want_of(const struct hostfw *h, const char **v, size_t n, size_t links, struct ipt_want *ret)
{
	*ret = (struct ipt_want){ .bridges = v,
				  .n_bridges = n,
				  .names_links = v + n,
				  .n_names_links = links,
				  .peers = h->peers,
				  .n_peers = h->n_peers };
	for (size_t i = 0; i < h->n_nets; i++)
		if (h->nets[i].dns_alt_port)
			ret->dns_port = NFT_DNS_ALT_PORT;
}

/*
 * Whether iptables-nft's table ip/ip6 filter exists (with a base chain).
 * A dump of every chain is a few milliseconds at 200 networks, so it is
 * redone only when nftables' events said those tables changed: not for
 * every network created on a host without them.
 */
static void nft_filter_refresh(struct hostfw *h)
{
	_cleanup_free_ struct nft_base_chain *chains = NULL;
	size_t n = 0;
	int r;

	if (h->nft_filter_known)
		return;
	r = nft_list_base_chains(&chains, &n);
	if (r < 0) {
		log_warning_errno(r, "Failed to list nftables chains, skipping iptables-nft: %m");
		return;
	}
	h->nft_filter[IPT_IPV4] = h->nft_filter[IPT_IPV6] = false;
	for (size_t i = 0; i < n; i++) {
		if (!streq(chains[i].table, "filter"))
			continue;
		if (streq(chains[i].family, "ip"))
			h->nft_filter[IPT_IPV4] = true;
		else if (streq(chains[i].family, "ip6"))
			h->nft_filter[IPT_IPV6] = true;
	}
	h->nft_filter_known = true;
}

static bool slot_present(const struct hostfw *h, enum ipt_backend b, enum ipt_family f)
{
	return b == IPT_LEGACY ? ipt_legacy_present(f) : h->nft_filter[f];
}

/* Keep the summary of @rep in its slot, and log what changed. */
static void record_report(struct hostfw *h, const struct ipt_report *rep, const char *cause)
{
	struct ipt_slot *s = &h->slots[rep->backend][rep->family];
	char prog[32];

	ipt_program(rep->backend, rep->family, "", prog, sizeof(prog));
	s->checked = true;
	s->last = *rep;
	s->last.view.forward_lines = NULL;
	s->last.view.input_lines = NULL;
	if (rep->error) {
		if (!streq(s->error, rep->message))
			log_warning("%s: %s", prog, rep->message);
		snprintf(s->error, sizeof(s->error), "%s", rep->message);
		return;
	}
	s->error[0] = '\0';
	if (rep->what[0]) {
		happened(&s->fix, cause, rep->what, 0);
		log_info("%s: %s (%s)", prog, rep->what, cause);
	}
}

static void ipt_next(struct hostfw *h);

static void on_ipt_done(struct ipt_check *c, const struct ipt_report *rep, void *userdata)
{
	struct hostfw *h = userdata;

	record_report(h, rep, h->ipt_running_cause);
	h->ipt = ipt_check_free(c);
	h->ipt_slot++;
	ipt_next(h);
}

/* The legacy tables as they are now, ours included: not a change to check again. */
static void legacy_settled(struct hostfw *h)
{
	for (int f = 0; f < _IPT_FAMILY_MAX; f++)
		h->legacy_sig[f] = ipt_legacy_signature(&h->legacy, f);
}

/* Start the check of the next slot that exists; at the end, settle. */
static void ipt_next(struct hostfw *h)
{
	size_t n_bridges, n_links;
	_cleanup_free_ const char **bridges = bridge_names(h, &n_bridges, &n_links);
	struct ipt_want w;
	char prog[32], path[64];
	int r;

	if (!bridges) {
		log_warning("Failed to check iptables: out of memory");
		return;
	}
	want_of(h, bridges, n_bridges, n_links, &w);
	for (; h->ipt_slot < _IPT_BACKEND_MAX * _IPT_FAMILY_MAX; h->ipt_slot++) {
		enum ipt_backend b = h->ipt_slot / _IPT_FAMILY_MAX;
		enum ipt_family f = h->ipt_slot % _IPT_FAMILY_MAX;
		struct ipt_slot *s = &h->slots[b][f];

		s->present = slot_present(h, b, f);
		if (!s->present)
			continue;
		ipt_program(b, f, "-restore", prog, sizeof(prog));
		if (command_find(prog, path, sizeof(path)) < 0) {
			struct ipt_report rep = { .backend = b, .family = f, .error = -ENOENT };

			snprintf(rep.message, sizeof(rep.message),
				 "its filter table exists but %s is not installed: the broker cannot "
				 "add its accept rules there (install iptables)",
				 prog);
			record_report(h, &rep, h->ipt_running_cause);
			continue;
		}
		r = ipt_check_start(h->env.event, b, f, &w, on_spawned, on_ipt_done, h, &h->ipt);
		if (r >= 0)
			return;
		log_warning_errno(r, "Failed to check %s: %m", prog);
	}
	legacy_settled(h);
	if (h->ipt_again) {
		h->ipt_again = false;
		ipt_soon(h, h->ipt_cause, 0);
	}
}

static int on_ipt_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct hostfw *h = userdata;

	if (h->ipt) {
		h->ipt_again = true;
		return 0;
	}
	snprintf(h->ipt_running_cause, sizeof(h->ipt_running_cause), "%s", h->ipt_cause);
	h->ipt_cause[0] = '\0';
	nft_filter_refresh(h);
	h->ipt_slot = 0;
	ipt_next(h);
	return 0;
}

/* Check every iptables backend after @settle, for @cause (the first cause of a burst wins). */
static void ipt_soon(struct hostfw *h, const char *cause, uint64_t settle)
{
	int r;

	if (!h->ipt_cause[0])
		snprintf(h->ipt_cause, sizeof(h->ipt_cause), "%s", cause);
	if (h->ipt) {
		h->ipt_again = true;
		return;
	}
	if (!h->ipt_timer)
		r = sd_event_add_time_relative(h->env.event, &h->ipt_timer, CLOCK_MONOTONIC, settle,
					       1, on_ipt_timer, h);
	else
		r = sd_event_source_set_time_relative(h->ipt_timer, settle);
	if (r >= 0)
		r = sd_event_source_set_enabled(h->ipt_timer, SD_EVENT_ONESHOT);
	if (r < 0)
		log_warning_errno(r, "Failed to schedule the iptables check: %m");
}

static int on_legacy_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct hostfw *h = userdata;
	char cause[64];

	(void)sd_event_source_set_time_relative(s, LEGACY_POLL_USEC);
	/* Our own check changes it too; it settles the signatures when done. */
	if (h->ipt)
		return 0;
	for (int f = 0; f < _IPT_FAMILY_MAX; f++) {
		uint64_t sig = ipt_legacy_signature(&h->legacy, f);

		if (sig == h->legacy_sig[f])
			continue;
		h->legacy_sig[f] = sig;
		snprintf(cause, sizeof(cause), "the legacy %s filter table changed",
			 f == IPT_IPV4 ? "iptables" : "ip6tables");
		ipt_soon(h, cause, 0);
	}
	return 0;
}

/*
 * The poll runs while there are networks to protect. Where no legacy
 * table is listed, a tick reads two short /proc files; the signatures
 * (GET_INFO, GET_ENTRIES) are taken only of listed tables.
 */
static void legacy_watch(struct hostfw *h)
{
	bool on = h->n_nets > 0 && h->legacy.fd[IPT_IPV4] >= 0;
	int r;

	if (!on) {
		h->legacy_timer = sd_event_source_disable_unref(h->legacy_timer);
		return;
	}
	if (h->legacy_timer)
		return;
	legacy_settled(h);
	r = sd_event_add_time_relative(h->env.event, &h->legacy_timer, CLOCK_MONOTONIC,
				       LEGACY_POLL_USEC, 100 * USEC_PER_MSEC, on_legacy_timer, h);
	if (r >= 0)
		r = sd_event_source_set_enabled(h->legacy_timer, SD_EVENT_ON);
	if (r < 0)
		log_warning_errno(r, "Failed to watch legacy iptables: %m");
}

/* ---- nftables events */

static void on_batch(const struct nft_batch *b, void *userdata)
{
	struct hostfw *h = userdata;
	char what[CAUSE_MAX];

	if (b->ours || (!b->lost && own_pid(h, b->pid)))
		return;
	nft_batch_describe(b, what, sizeof(what));
	if (b->lost || b->table) {
		log_debug("nftables: %s", what);
		restore_soon(h, what);
	}
	if (b->lost || b->filter[0] || b->filter[1]) {
		h->nft_filter_known = false;
		ipt_soon(h, what, IPT_SETTLE_USEC);
	}
}

/* ---- firewalld */

static void fw_apply(struct hostfw *h)
{
	_cleanup_free_ const char **v = NULL;
	size_t n, links;

	if (!h->fw)
		return;
	v = bridge_names(h, &n, &links);
	if (!v || firewalld_set_interfaces(h->fw, v, n + links) < 0)
		log_warning("Failed to update the firewalld zone: out of memory");
}

static void on_firewalld(enum firewalld_event e, const char *detail, void *userdata)
{
	struct hostfw *h = userdata;

	switch (e) {
	case FIREWALLD_UP:
		log_info("firewalld is running: the bridges go into its zone " FIREWALLD_ZONE);
		happened(&h->fw_apply, "firewalld started", NULL, 0);
		break;
	case FIREWALLD_DOWN:
		log_info("firewalld stopped");
		break;
	case FIREWALLD_RELOADED:
		log_info("firewalld reloaded: the bridges go into its zone " FIREWALLD_ZONE " again");
		happened(&h->fw_apply, "firewalld reloaded", NULL, 0);
		/* With its iptables backend, a reload flushes iptables' tables too. */
		ipt_soon(h, "firewalld reloaded", IPT_SETTLE_USEC);
		break;
	case FIREWALLD_ZONE_ADDED:
		log_notice("firewalld had no zone " FIREWALLD_ZONE " (the package installs one in "
			   "/usr/lib/firewalld/zones): added it to its permanent configuration, "
			   "and reloading firewalld once to use it");
		break;
	case FIREWALLD_BOUND:
		log_debug("firewalld: %s is in zone " FIREWALLD_ZONE, detail);
		h->fw_error[0] = '\0';
		break;
	case FIREWALLD_ERROR:
		if (!streq(h->fw_error, detail))
			log_warning("firewalld: %s", detail);
		snprintf(h->fw_error, sizeof(h->fw_error), "%s", detail);
		break;
	default:
		break;
	}
}

/*
 * firewalld is reached over the system bus; where there is none, there is
 * no firewalld. A bus that comes later (it hardly does: the daemon starts
 * after the bus at boot) is looked for again as networks change, at most
 * every FW_RETRY_USEC.
 */
static void fw_connect(struct hostfw *h)
{
	uint64_t now = now_usec(h);
	int r;

	if (h->fw || (h->fw_tried && now - h->fw_tried < FW_RETRY_USEC))
		return;
	r = firewalld_new(h->env.event, on_firewalld, h, &h->fw);
	if (r < 0 && !h->fw_tried)
		log_debug_errno(r, "No system bus, so no firewalld to tell about the bridges: %m");
	h->fw_tried = r < 0 ? (now ? now : 1) : 0;
}

/* ---- the whole */

int hostfw_new(const struct hostfw_env *env, struct hostfw **ret)
{
	struct hostfw *h = calloc(1, sizeof(*h));
	int r;

	if (!h)
		return -ENOMEM;
	h->env = *env;
	h->legacy.fd[IPT_IPV4] = h->legacy.fd[IPT_IPV6] = -EBADF;
	r = ipt_legacy_watch_open(&h->legacy);
	if (r < 0)
		log_warning_errno(r, "Failed to open the sockets legacy iptables is read through, "
				     "watching it only as networks change: %m");
	*ret = h;
	return 0;
}

void hostfw_start(struct hostfw *h)
{
	int r;

	/* After libnftables' socket: see nftmon_new(). */
	r = nftmon_new(h->env.event, on_batch, h, &h->mon);
	if (r < 0)
		log_warning_errno(r, "Failed to listen to nftables events; the table is not "
				     "restored when others remove it: %m");
	fw_connect(h);
	legacy_watch(h);
}

/* Add @p to @v unless it is there: two spans may share a host and a port. */
static void add_peer(struct ipt_span_peer *v, size_t *n, struct ipt_span_peer p)
{
	for (size_t i = 0; i < *n; i++)
		if (v[i].address == p.address && v[i].port == p.port) {
			v[i].bgp = v[i].bgp || p.bgp;
			return;
		}
	v[(*n)++] = p;
}

/* The spans' other hosts of @v, each once, in a malloc'ed array (NULL: out of memory). */
static struct ipt_span_peer *span_peers(const struct hostfw_network *v, size_t n, size_t *ret_n)
{
	struct ipt_span_peer *peers;
	size_t total = 0;

	for (size_t i = 0; i < n; i++)
		total += v[i].n_span_peers;
	peers = calloc(total + 1, sizeof(*peers));
	*ret_n = 0;
	for (size_t i = 0; peers && i < n; i++)
		for (size_t j = 0; j < v[i].n_span_peers; j++)
			add_peer(peers, ret_n,
				 (struct ipt_span_peer){ .address = v[i].span_peers[j],
							 .port = v[i].span_port,
							 .bgp = v[i].span_bgp });
	return peers;
}

int hostfw_set_networks(struct hostfw *h, const struct hostfw_network *v, size_t n)
{
	_cleanup_free_ struct net_entry *nets = calloc(n + 1, sizeof(*nets));
	size_t n_peers;
	struct ipt_span_peer *peers = span_peers(v, n, &n_peers);

	if (!nets || !peers) {
		free(peers);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(nets[i].name, sizeof(nets[i].name), "%s", v[i].name);
		snprintf(nets[i].bridge, sizeof(nets[i].bridge), "%s", v[i].bridge);
		snprintf(nets[i].names_link, sizeof(nets[i].names_link), "%s",
			 v[i].names_link ? v[i].names_link : "");
		nets[i].dns_alt_port = v[i].dns_alt_port;
	}
	free(h->nets);
	h->nets = TAKE_PTR(nets);
	h->n_nets = n;
	free(h->peers);
	h->peers = peers;
	h->n_peers = n_peers;
	ipt_soon(h, "the networks changed", 0);
	fw_connect(h);
	fw_apply(h);
	legacy_watch(h);
	return 0;
}

/* Every existing backend and family, checked in place for what @h->nets wants now. */
static void ipt_sync(struct hostfw *h, const char *cause)
{
	size_t n_bridges, n_links;
	_cleanup_free_ const char **bridges = bridge_names(h, &n_bridges, &n_links);
	struct ipt_want w;
	int r;

	if (!bridges)
		return;
	want_of(h, bridges, n_bridges, n_links, &w);
	h->nft_filter_known = false;
	nft_filter_refresh(h);
	for (int b = 0; b < _IPT_BACKEND_MAX; b++)
		for (int f = 0; f < _IPT_FAMILY_MAX; f++) {
			struct ipt_report rep;

			if (!slot_present(h, b, f))
				continue;
			r = ipt_check_run(b, f, &w, &rep);
			if (r >= 0)
				record_report(h, &rep, cause);
			ipt_report_clear(&rep);
		}
}

void hostfw_remove_all(struct hostfw *h)
{
	h->ipt = ipt_check_free(h->ipt);
	(void)sd_event_source_set_enabled(h->ipt_timer, SD_EVENT_OFF);
	h->n_nets = 0;
	h->n_peers = 0;
	ipt_sync(h, "every network removed");
	firewalld_release_all(h->fw);
}

struct hostfw *hostfw_free(struct hostfw *h)
{
	if (!h)
		return NULL;
	/* A check cut short (or one that was due) is done now: the networks that stay need it. */
	if (h->ipt || sd_event_source_get_enabled(h->ipt_timer, NULL) > 0) {
		h->ipt = ipt_check_free(h->ipt);
		ipt_sync(h, "the daemon stops");
	}
	h->restore_timer = sd_event_source_disable_unref(h->restore_timer);
	h->ipt_timer = sd_event_source_disable_unref(h->ipt_timer);
	h->legacy_timer = sd_event_source_disable_unref(h->legacy_timer);
	h->mon = nftmon_free(h->mon);
	h->fw = firewalld_free(h->fw);
	ipt_legacy_watch_close(&h->legacy);
	free(h->nets);
	free(h->peers);
	free(h);
	return NULL;
}

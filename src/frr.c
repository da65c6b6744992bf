/* frr.c - the broker's part of a running FRR: kept as the EVPN spans want it, and its state
 *
 * Theory of operation. FRR runs on its own (its systemd unit on a real
 * host); the broker only adds its part to bgpd's running configuration
 * through vtysh (frr-plan.c says which part), never to frr.conf. Each
 * change of what the spans want is one reconciliation, a vtysh child
 * off the loop at each step:
 *
 *   read   `show running-config` of bgpd;
 *   apply  the plan that makes it what is wanted (when there is one);
 *   status `show bgp l2vpn evpn summary json` and `show evpn vni json`,
 *          kept for `status`.
 *
 * One step runs at a time; a change that comes meanwhile marks the
 * reconciliation dirty, and it runs again once the step ends. A failure
 * (FRR not running, a command refused) is retried with a backoff from
 * 1 s to 30 s. The guests never wait for any of this: the overlay's
 * devices are the kernel's, and FRR only fills their tables.
 *
 * bgpd that restarts comes back with frr.conf's configuration alone, so
 * the run directory is watched: bgpd making its vty socket anew starts a
 * reconciliation (after a moment, for bgpd to read its own file first).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "frr.h"
#include "log.h"
#include "pool.h"
#include "util.h"
#include "vtysh.h"

#define RETRY_MIN_USEC (1000 * 1000ULL)
#define RETRY_MAX_USEC (30 * 1000 * 1000ULL)
#define SETTLE_USEC (500 * 1000ULL)        /* after bgpd's socket appears */
#define STATUS_FRESH_USEC (1000 * 1000ULL) /* a status younger than this is not asked again */
#define MESSAGE_MAX 256

enum health {
	HEALTH_IDLE,        /* nothing wanted, nothing asked */
	HEALTH_PENDING,     /* being applied */
	HEALTH_CONFIGURED,  /* bgpd holds what is wanted */
	HEALTH_UNREACHABLE, /* vtysh could not reach bgpd */
	HEALTH_REFUSED,     /* bgpd refused (another AS, a command) */
};

enum step {
	STEP_NONE,
	STEP_READ,
	STEP_APPLY,
	STEP_STATUS,
};

struct frr {
	sd_event *event;
	char *dir; /* NULL: FRR's own */
	struct vtysh_job *job;
	enum step step;
	bool dirty;           /* want changed, or bgpd restarted, while a step ran */
	struct frr_want want; /* what the spans want now */
	bool ours_present;    /* something of the broker's may be in bgpd */
	bool first_read;      /* the first read since the daemon started is still to come */
	bool had_advertise;   /* advertise-all-vni was there before the apply */
	bool sent;            /* the apply sent commands (else bgpd held it all already) */
	enum health health;
	char message[MESSAGE_MAX];
	sd_event_source *retry;
	unsigned int failures; /* in a row, for the backoff */
	int inotify_fd;
	sd_event_source *watch;
	json_t *sessions; /* "peers" of the EVPN summary, by address */
	json_t *vnis;     /* `show evpn vni json`, by VNI */
	uint64_t status_usec;
};

static void reconcile(struct frr *f);
static void start_status(struct frr *f);

static const char *vty_dir(const struct frr *f)
{
	return f->dir;
}

/* The lines of vtysh's output that say what went wrong, for a person. */
static void set_message(struct frr *f, int status, const char *out)
{
	const char *nl;
	size_t n = 0;

	f->message[0] = '\0';
	if (status < 0) {
		snprintf(f->message, sizeof(f->message), "vtysh: %s", strerror(-status));
		return;
	}
	for (const char *line = out; *line; line = nl ? nl + 1 : line + strlen(line)) {
		nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		/* vtysh's own complaint about /etc/frr/vtysh.conf (mode 0640 frr:frr) is noise. */
		if (len == 0 || strncmp(line, "% Can't open configuration file", 31) == 0)
			continue;
		n += (size_t)snprintf(f->message + n, sizeof(f->message) - n, "%s%.*s",
				      n ? "; " : "", (int)len, line);
		if (n >= sizeof(f->message) - 1)
			break;
	}
	if (!f->message[0])
		snprintf(f->message, sizeof(f->message), "vtysh exited with status %d", status);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct frr *f = userdata;

	f->retry = sd_event_source_disable_unref(f->retry);
	reconcile(f);
	return 0;
}

/* Try again later, after one more failure in a row. */
static void schedule_retry(struct frr *f, uint64_t min_usec)
{
	uint64_t delay = RETRY_MIN_USEC << (f->failures < 5 ? f->failures : 5);
	int r;

	if (delay > RETRY_MAX_USEC)
		delay = RETRY_MAX_USEC;
	if (delay < min_usec)
		delay = min_usec;
	f->failures++;
	f->retry = sd_event_source_disable_unref(f->retry);
	r = sd_event_add_time_relative(f->event, &f->retry, CLOCK_MONOTONIC, delay, 0, on_retry, f);
	if (r < 0)
		log_warning_errno(r, "FRR: failed to schedule a retry, trying at the next change: %m");
}

static void forget_status(struct frr *f)
{
	json_decref(f->sessions);
	json_decref(f->vnis);
	f->sessions = f->vnis = NULL;
	f->status_usec = 0;
}

/* A step failed: say so once per kind of failure, keep the state for `status`, retry. */
static void step_failed(struct frr *f, enum health h, int status, const char *out)
{
	char before[MESSAGE_MAX];
	enum health was = f->health;

	memcpy(before, f->message, sizeof(before));
	set_message(f, status, out);
	if (!f->want.n_vnis) {
		/* Only cleaning up after an earlier daemon: no FRR, nothing to clean. */
		log_debug("FRR: not cleaning up: %s", f->message);
		f->ours_present = false;
		f->health = HEALTH_IDLE;
		return;
	}
	f->health = h;
	if (was != h || !streq(before, f->message))
		log_warning("FRR: %s: %s; the overlay keeps what it has, retrying",
			    h == HEALTH_UNREACHABLE ? "bgpd unreachable" : "refused", f->message);
	if (h == HEALTH_UNREACHABLE)
		forget_status(f);
	schedule_retry(f, h == HEALTH_REFUSED ? RETRY_MAX_USEC : 0);
}

/* The current step is over: whatever came meanwhile goes next. */
static void step_done(struct frr *f)
{
	f->step = STEP_NONE;
	if (f->dirty) {
		f->dirty = false;
		reconcile(f);
	}
}

static int start(struct frr *f, enum step step, const char *daemon, const char *const *cmds,
		 size_t n, vtysh_done_fn done)
{
	const struct vtysh_call c = {
		.vty_dir = vty_dir(f),
		.daemon = daemon,
		.commands = cmds,
		.n_commands = n,
	};
	int r;

	r = vtysh_start(f->event, &c, done, f, &f->job);
	if (r < 0)
		return r;
	f->step = step;
	return 0;
}

static void on_applied(int status, const char *out, size_t len, void *userdata)
{
	struct frr *f = userdata;

	f->job = NULL;
	f->step = STEP_NONE;
	if (status != 0) {
		step_failed(f, HEALTH_REFUSED, status, out);
		return;
	}
	if (f->want.n_vnis && !f->had_advertise)
		f->want.advertise_ours = true; /* we put it there */
	else if (!f->want.n_vnis)
		f->want.advertise_ours = false;
	f->ours_present = f->want.n_vnis > 0;
	f->failures = 0;
	f->health = f->want.n_vnis ? HEALTH_CONFIGURED : HEALTH_IDLE;
	f->message[0] = '\0';
	if (f->sent && f->want.n_vnis)
		log_info("FRR: bgpd holds the broker's part for %zu span(s)", f->want.n_vnis);
	else if (f->sent)
		log_info("FRR: removed the broker's part from bgpd");
	if (f->dirty || !f->want.n_vnis)
		step_done(f);
	else
		start_status(f); /* the sessions as they are now, for `status` */
}

static void apply(struct frr *f, const struct frr_running *run)
{
	char **cmds = NULL;
	size_t n = 0;
	int r;

	r = frr_plan(run, &f->want, &cmds, &n);
	if (r == FRR_E_ASN) {
		char out[MESSAGE_MAX];

		snprintf(out, sizeof(out),
			 "bgpd runs AS %u and the span files say AS %u: FRR has one BGP instance",
			 run->asn, f->want.asn);
		f->step = STEP_NONE;
		step_failed(f, HEALTH_REFUSED, 1, out);
		return;
	}
	f->sent = n > 0;
	if (r >= 0 && n == 0) {
		on_applied(0, "", 0, f); /* nothing to change */
		return;
	}
	if (r >= 0)
		r = start(f, STEP_APPLY, "bgpd", (const char *const *)cmds, n, on_applied);
	frr_commands_free(cmds, n);
	if (r < 0) {
		f->step = STEP_NONE;
		step_failed(f, HEALTH_UNREACHABLE, r, "");
	}
}

static void on_read(int status, const char *out, size_t len, void *userdata)
{
	struct frr *f = userdata;
	struct frr_running run = {};
	int r;

	f->job = NULL;
	/* A change that came meanwhile is in f->want already: this read serves it too. */
	f->dirty = false;
	if (status != 0) {
		f->step = STEP_NONE;
		step_failed(f, HEALTH_UNREACHABLE, status, out);
		return;
	}
	r = frr_running_parse(out, &run);
	if (r < 0) {
		f->step = STEP_NONE;
		step_failed(f, HEALTH_REFUSED, r, "");
		return;
	}
	/* An earlier daemon's groups: it put advertise-all-vni there too. */
	if (f->first_read && run.group)
		f->want.advertise_ours = true;
	f->first_read = false;
	f->had_advertise = run.advertise_all_vni;
	apply(f, &run);
	frr_running_clear(&run);
}

static void reconcile(struct frr *f)
{
	static const char *const read_cmds[] = { "show running-config" };
	int r;

	if (f->step != STEP_NONE) {
		f->dirty = true;
		return;
	}
	if (!f->want.n_vnis && !f->ours_present) {
		f->health = HEALTH_IDLE;
		return;
	}
	f->retry = sd_event_source_disable_unref(f->retry);
	if (f->health != HEALTH_CONFIGURED)
		f->health = HEALTH_PENDING;
	r = start(f, STEP_READ, "bgpd", read_cmds, ELEMENTSOF(read_cmds), on_read);
	if (r < 0)
		step_failed(f, HEALTH_UNREACHABLE, r, "");
}

void frr_set(struct frr *f, const struct frr_want *want)
{
	bool ours = f->want.advertise_ours;
	int r;

	frr_want_clear(&f->want);
	r = frr_want_copy(&f->want, want);
	if (r < 0)
		log_error_errno(r, "FRR: failed to take what the spans want: %m");
	f->want.advertise_ours = ours;
	f->failures = 0;
	reconcile(f);
}

/* ---- status */

/* The JSON document at *@p, and *@p past it. Return: a new reference, or NULL. */
static json_t *next_json(const char **p, const char *end)
{
	json_error_t e;
	json_t *v;

	while (*p < end && **p && **p != '{')
		(*p)++; /* a line of vtysh's own before it */
	if (*p >= end)
		return NULL;
	v = json_loadb(*p, (size_t)(end - *p), JSON_DISABLE_EOF_CHECK, &e);
	*p += v ? (size_t)e.position : (size_t)(end - *p);
	return v;
}

static void on_status(int status, const char *out, size_t len, void *userdata)
{
	struct frr *f = userdata;
	const char *p = out, *end = out + len;
	json_t *summary, *vnis;

	f->job = NULL;
	/* Whatever parses is used, even when one of the daemons is down. */
	summary = next_json(&p, end);
	vnis = next_json(&p, end);
	forget_status(f);
	f->sessions = json_incref(json_object_get(summary, "peers"));
	f->vnis = vnis;
	json_decref(summary);
	(void)sd_event_now(f->event, CLOCK_MONOTONIC, &f->status_usec);
	step_done(f);
}

static void start_status(struct frr *f)
{
	static const char *const cmds[] = { "show bgp l2vpn evpn summary json", "show evpn vni json" };

	if (start(f, STEP_STATUS, NULL, cmds, ELEMENTSOF(cmds), on_status) < 0)
		f->step = STEP_NONE; /* `status` shows what it had; asked again next time */
}

bool frr_busy(const struct frr *f)
{
	return f->step != STEP_NONE || f->dirty;
}

void frr_refresh(struct frr *f)
{
	uint64_t now = 0;

	if (f->step != STEP_NONE || !f->want.n_vnis)
		return;
	(void)sd_event_now(f->event, CLOCK_MONOTONIC, &now);
	if (f->status_usec && now - f->status_usec < STATUS_FRESH_USEC)
		return;
	start_status(f);
}

json_t *frr_health_json(const struct frr *f)
{
	static const char *const names[] = {
		[HEALTH_IDLE] = "pending",          [HEALTH_PENDING] = "pending",
		[HEALTH_CONFIGURED] = "configured", [HEALTH_UNREACHABLE] = "unreachable",
		[HEALTH_REFUSED] = "refused",
	};
	json_t *o = json_pack("{s:s}", "state", f ? names[f->health] : "unreachable");

	if (o && f && f->message[0])
		json_object_set_new(o, "message", json_string(f->message));
	return o;
}

json_t *frr_session_json(const struct frr *f, uint32_t addr)
{
	char a[16], state[32];
	json_t *p = f ? json_object_get(f->sessions, addr4_format(addr, a, sizeof(a))) : NULL;
	const char *s = json_string_value(json_object_get(p, "state"));
	json_t *o;

	if (!s)
		return NULL;
	/* FRR's words, lower case: established, active, connect, idle, ... */
	snprintf(state, sizeof(state), "%s", s);
	for (char *c = state; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	o = json_pack("{s:s}", "state", state);
	if (o && json_is_string(json_object_get(p, "peerUptime")))
		json_object_set(o, "uptime", json_object_get(p, "peerUptime"));
	if (o && json_is_integer(json_object_get(p, "pfxRcd")))
		json_object_set(o, "prefixes", json_object_get(p, "pfxRcd"));
	return o;
}

bool frr_vtep_known(const struct frr *f, uint32_t vni, uint32_t addr)
{
	char key[16], a[16];
	json_t *v, *vteps;
	size_t i;

	if (!f)
		return false;
	snprintf(key, sizeof(key), "%u", vni);
	vteps = json_object_get(json_object_get(f->vnis, key), "remoteVteps");
	addr4_format(addr, a, sizeof(a));
	json_array_foreach(vteps, i, v)
		if (json_is_string(v) && streq(json_string_value(v), a))
			return true;
	return false;
}

/* ---- bgpd restarting */

static int on_watch(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *e;
	struct frr *f = userdata;
	bool bgpd = false;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n; p += sizeof(*e) + e->len) {
			e = (const struct inotify_event *)p;
			if (e->len && streq(e->name, "bgpd.vty"))
				bgpd = true;
		}
	if (!bgpd || (!f->want.n_vnis && !f->ours_present))
		return 0;
	log_info("FRR: bgpd started anew, giving it the broker's part again");
	forget_status(f);
	f->health = HEALTH_PENDING;
	f->failures = 0;
	/* bgpd makes its socket before it has read frr.conf: let it. */
	f->retry = sd_event_source_disable_unref(f->retry);
	(void)sd_event_add_time_relative(f->event, &f->retry, CLOCK_MONOTONIC, SETTLE_USEC, 0,
					 on_retry, f);
	return 0;
}

/* bgpd unlinks and binds its vty socket at each start: IN_CREATE. */
static void watch_dir(struct frr *f)
{
	const char *dir = f->dir ? f->dir : FRR_RUN_DIR;
	int r;

	f->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (f->inotify_fd < 0 || inotify_add_watch(f->inotify_fd, dir, IN_CREATE | IN_MOVED_TO) < 0) {
		/* No FRR (yet): retries find it when a span wants it, only later. */
		log_debug("FRR: cannot watch '%s' for bgpd restarts: %m", dir);
		f->inotify_fd = safe_close(f->inotify_fd);
		return;
	}
	r = sd_event_add_io(f->event, &f->watch, f->inotify_fd, EPOLLIN, on_watch, f);
	if (r < 0)
		f->inotify_fd = safe_close(f->inotify_fd);
}

int frr_new(sd_event *event, const char *dir, bool stale, struct frr **ret)
{
	_cleanup_(frr_freep) struct frr *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->event = sd_event_ref(event);
	f->inotify_fd = -EBADF;
	f->first_read = true;
	/* An earlier daemon may have left its part: the first reconciliation cleans it. */
	f->ours_present = stale;
	if (dir && !(f->dir = strdup(dir)))
		return -ENOMEM;
	watch_dir(f);
	*ret = TAKE_PTR(f);
	return 0;
}

struct frr *frr_free(struct frr *f)
{
	if (!f)
		return NULL;
	f->job = vtysh_job_free(f->job);
	f->retry = sd_event_source_disable_unref(f->retry);
	f->watch = sd_event_source_disable_unref(f->watch);
	safe_close(f->inotify_fd);
	forget_status(f);
	frr_want_clear(&f->want);
	free(f->dir);
	sd_event_unref(f->event);
	free(f);
	return NULL;
}

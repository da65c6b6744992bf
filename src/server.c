/* server.c - the SOCK_SEQPACKET listener and its connections (transport only)
 *
 * Theory of operation. SOCK_SEQPACKET keeps message boundaries, so one
 * recvmsg() is one request and there is no framing to get wrong. Each
 * message is read into one buffer one byte larger than the limit: a
 * message that fills it was truncated (MSG_TRUNC) and is refused whole.
 *
 * Fd rules: every fd arrives with MSG_CMSG_CLOEXEC, so none leaks into
 * dnsmasq; the control buffer has room for PROTOCOL_FDS_MAX, and when a
 * peer sends more the kernel sets MSG_CTRUNC and closes the rest itself.
 * Received fds are handed to the request callback, which owns them from
 * then on. Replies are sent with MSG_NOSIGNAL: a peer that hung up gets
 * EPIPE, never a SIGPIPE that would kill the daemon.
 *
 * What one user can take. Connections are counted per uid (SO_PEERCRED):
 * a user other than root may hold --max-connections-per-user of them, and
 * all such users together all but a reserve that only root may use, so no
 * one can lock out the others or the administrator. A connection that
 * holds nothing and sends nothing for --client-timeout is closed (its
 * timer is armed again after every request). Replies a peer leaves unread
 * stay in the kernel, charged to the daemon's socket: before a request
 * of a user other than root is read, the unread bytes of all its
 * connections are summed (SIOCOUTQ), and past SERVER_UNREAD_PER_USER its
 * connections are paused (not read) until it reads; any peer is paused
 * while its own socket is nearly full, so that its reply always fits.
 * Past RLIMIT_NOFILE accept() fails while the listener stays readable:
 * accepting pauses then, with a backoff, until a connection closes.
 */
#include <errno.h>
#include <grp.h>
#include <linux/sockios.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "protocol.h"
#include "server.h"
#include "util.h"

#define ACCEPT_RETRY_MIN_USEC (100 * 1000ULL) /* after accept() ran out of fds, doubling */
#define ACCEPT_RETRY_MAX_USEC (2 * 1000 * 1000ULL)
#define PAUSE_RECHECK_USEC (100 * 1000ULL) /* paused connections are looked at this often */
#define REPLY_ROOM (64 * 1024) /* a connection's socket keeps this free for its next reply */

/* The connections of one uid. */
struct server_user {
	LIST_ENTRY(server_user) link;
	uid_t uid;
	size_t n_conns;
	TAILQ_HEAD(, connection) conns;
};

struct connection {
	TAILQ_ENTRY(connection) link;
	TAILQ_ENTRY(connection) user_link;
	struct server *server;
	struct server_user *user;
	int fd;
	sd_event_source *io;
	struct ucred peer;
	sd_event_source *silence_timer; /* armed anew after every request: drop idle peers */
	gid_t *groups;                  /* SO_PEERGROUPS: the peer's supplementary groups */
	size_t n_groups;
	bool spoke;  /* sent a request: idle since its last one, not silent */
	bool paused; /* not read until its user reads its replies */
	bool stuck;  /* a reply did not fit: closed once the request is done */
	void *data;
};

struct server {
	sd_event *event;
	int fd;
	char *path; /* NULL when socket-activated: systemd owns the path */
	sd_event_source *io;
	TAILQ_HEAD(, connection) conns;
	size_t n_conns;
	LIST_HEAD(, server_user) users;
	server_request_fn on_request;
	server_disconnect_fn on_disconnect;
	server_holds_fn holds;
	void *userdata;
	size_t max_conns;
	size_t max_per_user;
	uint64_t silence_usec; /* a peer that never sends, or holds nothing, is dropped after this */
	sd_event_source *accept_timer; /* armed while accept() is paused for lack of fds */
	uint64_t accept_retry_usec;    /* 0: accepting */
	sd_event_source *pause_timer;  /* armed while a connection is paused */
	size_t n_paused;
	char buf[PROTOCOL_MESSAGE_MAX + 1];
};

const struct ucred *connection_peer(const struct connection *c)
{
	return &c->peer;
}

const gid_t *connection_peer_groups(const struct connection *c, size_t *ret_n)
{
	*ret_n = c->n_groups;
	return c->groups;
}

void *connection_get_data(const struct connection *c)
{
	return c->data;
}

void connection_set_data(struct connection *c, void *data)
{
	c->data = data;
}

size_t server_default_per_user(size_t max)
{
	return max / 8 > 4 ? max / 8 : 4;
}

size_t server_root_reserve(size_t max)
{
	size_t r = max / 32 > 4 ? max / 32 : 4;

	return r < max / 2 ? r : max / 2;
}

void server_set_max_connections(struct server *s, size_t max, size_t per_user)
{
	s->max_conns = max;
	s->max_per_user = per_user ? per_user : server_default_per_user(max);
}

void server_set_silence_timeout(struct server *s, uint64_t usec)
{
	s->silence_usec = usec;
}

void server_set_holds_fn(struct server *s, server_holds_fn holds)
{
	s->holds = holds;
}

size_t server_connection_count(const struct server *s)
{
	return s->n_conns;
}

static struct server_user *user_find(struct server *s, uid_t uid)
{
	struct server_user *u;

	LIST_FOREACH(u, &s->users, link)
		if (u->uid == uid)
			return u;
	return NULL;
}

static size_t user_conns(struct server *s, uid_t uid)
{
	struct server_user *u = user_find(s, uid);

	return u ? u->n_conns : 0;
}

/* @c joins the connections of its uid. Return: 0 or -ENOMEM. */
static int user_add(struct server *s, struct connection *c)
{
	struct server_user *u = user_find(s, c->peer.uid);

	if (!u) {
		u = calloc(1, sizeof(*u));
		if (!u)
			return -ENOMEM;
		u->uid = c->peer.uid;
		TAILQ_INIT(&u->conns);
		LIST_INSERT_HEAD(&s->users, u, link);
	}
	TAILQ_INSERT_TAIL(&u->conns, c, user_link);
	u->n_conns++;
	c->user = u;
	return 0;
}

static void user_remove(struct connection *c)
{
	struct server_user *u = c->user;

	if (!u)
		return;
	TAILQ_REMOVE(&u->conns, c, user_link);
	c->user = NULL;
	if (--u->n_conns == 0) {
		LIST_REMOVE(u, link);
		free(u);
	}
}

/* Its own resources: a connection not (or no longer) in the server's list. */
static struct connection *connection_destroy(struct connection *c)
{
	if (!c)
		return NULL;
	sd_event_source_disable_unref(c->io);
	sd_event_source_disable_unref(c->silence_timer);
	safe_close(c->fd);
	free(c->groups);
	free(c);
	return NULL;
}

static void connection_destroyp(struct connection **c)
{
	connection_destroy(*c);
}

static void accept_resume(struct server *s);

static void connection_free(struct connection *c)
{
	struct server *s = c->server;

	if (s->on_disconnect)
		s->on_disconnect(s->userdata, c);
	TAILQ_REMOVE(&s->conns, c, link);
	s->n_conns--;
	if (c->paused)
		s->n_paused--;
	user_remove(c);
	connection_destroy(c);
	/* An fd is free again: try accept() at once rather than at the next retry. */
	if (s->accept_retry_usec)
		accept_resume(s);
}

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		safe_close(fds[i]);
}

static void reply_transport_error(struct connection *c, const char *message)
{
	_cleanup_(json_decrefp) json_t *reply = reply_error_new(VMNET_BROKER_INVALID_REQUEST, message);

	if (reply)
		(void)connection_reply(c, reply, NULL, 0);
}

/* Return: 0 to keep the connection, negative to close it. */
static int connection_read(struct connection *c)
{
	struct server *s = c->server;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * PROTOCOL_FDS_MAX)];
	} control;
	struct iovec iov = { .iov_base = s->buf, .iov_len = sizeof(s->buf) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = &control,
		.msg_controllen = sizeof(control),
	};
	int fds[PROTOCOL_FDS_MAX];
	size_t n_fds;
	ssize_t n;

	n = recvmsg(c->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		return log_client_debug_errno(c, -errno, "Failed to read a request: %m");
	}
	n_fds = protocol_take_fds(&msg, fds, ELEMENTSOF(fds));
	if (n == 0) {
		/* End of stream (an empty SEQPACKET message reads the same; no
		 * valid request is empty, so treating it as a hang-up is fine). */
		close_fds(fds, n_fds);
		return -ECONNRESET;
	}
	if (msg.msg_flags & MSG_TRUNC || (size_t)n > PROTOCOL_MESSAGE_MAX) {
		close_fds(fds, n_fds);
		reply_transport_error(c, "message larger than 65536 bytes");
		return 0;
	}
	if (msg.msg_flags & MSG_CTRUNC) {
		close_fds(fds, n_fds);
		reply_transport_error(c, "too many file descriptors on one message");
		return 0;
	}
	c->spoke = true;
	s->on_request(s->userdata, c, s->buf, (size_t)n, fds, n_fds);
	if (c->stuck)
		return -ENOBUFS;
	/* Idle from now on, until the next request. */
	(void)sd_event_source_set_time_relative(c->silence_timer, s->silence_usec);
	(void)sd_event_source_set_enabled(c->silence_timer, SD_EVENT_ONESHOT);
	return 0;
}

static int on_silence(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct connection *c = userdata;
	struct server *s = c->server;
	unsigned long long secs = (unsigned long long)(s->silence_usec / 1000000);

	if (!c->spoke) {
		log_client_info(c, "sent nothing for %llu s, closing", secs);
	} else if (s->holds && s->holds(s->userdata, c)) {
		/* Its leases end with it: the client's to close. Look again later,
		 * for when they ended otherwise (a named TAP deleted). */
		(void)sd_event_source_set_time_relative(src, s->silence_usec);
		(void)sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
		return 0;
	} else {
		log_client_info(c, "idle for %llu s, holding nothing, closing (--client-timeout)",
				secs);
	}
	connection_free(c);
	return 0;
}

/* Bytes @c's peer has not read yet (SIOCOUTQ: what the daemon's socket has queued). */
static int unread(const struct connection *c)
{
	int n = 0;

	return ioctl(c->fd, SIOCOUTQ, &n) < 0 ? 0 : n;
}

/*
 * Whether @c must wait before its next request is read: its own socket
 * would not take a reply, or (not root) the unread replies of all its
 * user's connections reach SERVER_UNREAD_PER_USER. A peer that does not
 * read is never answered into the void (the reply dropped), nor does it
 * pin more memory by opening connections.
 */
static bool must_wait(const struct connection *c)
{
	const struct connection *o;
	int own = unread(c), sndbuf = 0;
	socklen_t len = sizeof(sndbuf);
	size_t total = 0;

	if (own > 0 && getsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) == 0 &&
	    own + REPLY_ROOM > sndbuf)
		return true;
	if (c->peer.uid == 0)
		return false;
	TAILQ_FOREACH(o, &c->user->conns, user_link) {
		total += (size_t)unread(o);
		if (total >= SERVER_UNREAD_PER_USER)
			return true;
	}
	return false;
}

static void connection_pause(struct connection *c)
{
	struct server *s = c->server;

	if (c->paused)
		return;
	(void)sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
	c->paused = true;
	if (s->n_paused++ == 0) {
		log_client_info(c, "leaves its replies unread: not reading its requests until it does");
		(void)sd_event_source_set_time_relative(s->pause_timer, PAUSE_RECHECK_USEC);
		(void)sd_event_source_set_enabled(s->pause_timer, SD_EVENT_ONESHOT);
	}
}

/* Paused connections whose peers read (or left) go on; the rest wait on. */
static int on_pause_recheck(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct server *s = userdata;
	struct connection *c, *next;

	for (c = TAILQ_FIRST(&s->conns); c; c = next) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };

		next = TAILQ_NEXT(c, link);
		if (!c->paused)
			continue;
		/* A peer gone: its unread replies went with it. */
		if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)) && !(p.revents & POLLIN)) {
			connection_free(c);
			continue;
		}
		if (must_wait(c))
			continue;
		c->paused = false;
		s->n_paused--;
		(void)sd_event_source_set_enabled(c->io, SD_EVENT_ON);
	}
	if (s->n_paused > 0) {
		(void)sd_event_source_set_time_relative(src, PAUSE_RECHECK_USEC);
		(void)sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
	}
	return 0;
}

/* Refuse a connection over the limit with a reply that says so. */
static void refuse(int fd, const char *message)
{
	_cleanup_(json_decrefp) json_t *reply = reply_error_new(VMNET_BROKER_LIMIT_EXCEEDED, message);
	_cleanup_free_ char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;

	if (text)
		(void)send(fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT);
}

static int on_connection_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct connection *c = userdata;

	/* Read before honouring a hang-up: a peer may send and close at once. */
	if (revents & EPOLLIN) {
		if (must_wait(c)) {
			connection_pause(c);
			return 0;
		}
		if (connection_read(c) < 0) {
			connection_free(c);
			return 0;
		}
		return 0;
	}
	if (revents & (EPOLLHUP | EPOLLERR))
		connection_free(c);
	return 0;
}

/*
 * The supplementary groups the peer had at connect(), like SO_PEERCRED
 * (Linux 4.13). The kernel says ERANGE with the size it needs when the
 * buffer is short.
 */
static int read_peer_groups(int fd, gid_t **ret, size_t *ret_n)
{
	socklen_t len = 32 * sizeof(gid_t);

	for (int tries = 0; tries < 4; tries++) {
		_cleanup_free_ gid_t *v = malloc(len ? len : sizeof(gid_t));

		if (!v)
			return -ENOMEM;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, v, &len) == 0) {
			*ret_n = len / sizeof(gid_t);
			*ret = TAKE_PTR(v);
			return 0;
		}
		if (errno != ERANGE)
			return -errno;
	}
	return -ERANGE;
}

/* A connection of @peer for the accepted @fd (which it takes only on success). */
static int connection_new(struct server *s, int fd, const struct ucred *peer, struct connection **ret)
{
	_cleanup_(connection_destroyp) struct connection *c = NULL;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = -EBADF;
	c->server = s;
	c->peer = *peer;
	r = read_peer_groups(fd, &c->groups, &c->n_groups);
	if (r < 0)
		/* Only allowed_groups needs them; such a peer just is in none. */
		log_debug_errno(r, "Failed to read peer groups, ignoring: %m");
	r = sd_event_add_io(s->event, &c->io, fd, EPOLLIN, on_connection_io, c);
	if (r < 0)
		return log_warning_errno(r, "Failed to watch connection: %m");
	r = sd_event_add_time_relative(s->event, &c->silence_timer, CLOCK_MONOTONIC,
				       s->silence_usec, 0, on_silence, c);
	if (r < 0)
		return log_warning_errno(r, "Failed to arm connection timer: %m");
	/* Last: nothing can fail after it, so a failure leaves no count behind. */
	r = user_add(s, c);
	if (r < 0)
		return r;
	c->fd = fd;
	*ret = TAKE_PTR(c);
	return 0;
}

/* Why the connection of @uid may not be taken: a message for the peer, or NULL. */
static const char *over_limit(struct server *s, uid_t uid, char *buf, size_t size)
{
	size_t reserve = server_root_reserve(s->max_conns), mine;

	if (s->n_conns >= s->max_conns) {
		snprintf(buf, size,
			 "too many connections to the daemon (%zu, its --max-connections): "
			 "try again later",
			 s->n_conns);
		return buf;
	}
	if (uid == 0)
		return NULL;
	if (s->n_conns + reserve >= s->max_conns) {
		snprintf(buf, size,
			 "the daemon has %zu connections, and the remaining %zu are kept for root: "
			 "try again later",
			 s->n_conns, s->max_conns - s->n_conns);
		return buf;
	}
	mine = user_conns(s, uid);
	if (mine >= s->max_per_user) {
		snprintf(buf, size,
			 "uid %u already has %zu connections to the daemon, its limit "
			 "(--max-connections-per-user): close one first",
			 (unsigned)uid, mine);
		return buf;
	}
	return NULL;
}

static int on_accept_retry(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct server *s = userdata;

	(void)sd_event_source_set_enabled(s->io, SD_EVENT_ON);
	return 0;
}

/* accept() failed with @error, and would again at once: wait, doubling the wait. */
static void accept_pause(struct server *s, int error)
{
	struct rlimit rl = {};
	int r;

	if (s->accept_retry_usec == 0) {
		(void)getrlimit(RLIMIT_NOFILE, &rl);
		log_warning_errno(error,
				  "Cannot accept connections: %m (%zu client connections open, "
				  "RLIMIT_NOFILE %llu); pausing until one closes",
				  s->n_conns, (unsigned long long)rl.rlim_cur);
		s->accept_retry_usec = ACCEPT_RETRY_MIN_USEC;
	} else if (s->accept_retry_usec < ACCEPT_RETRY_MAX_USEC) {
		s->accept_retry_usec *= 2;
	}
	(void)sd_event_source_set_enabled(s->io, SD_EVENT_OFF);
	r = sd_event_source_set_time_relative(s->accept_timer, s->accept_retry_usec);
	if (r >= 0)
		r = sd_event_source_set_enabled(s->accept_timer, SD_EVENT_ONESHOT);
	if (r < 0)
		/* Without a retry, spinning beats never serving again. */
		(void)sd_event_source_set_enabled(s->io, SD_EVENT_ON);
}

static void accept_resume(struct server *s)
{
	(void)sd_event_source_set_enabled(s->io, SD_EVENT_ON);
}

static int on_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct server *s = userdata;
	_cleanup_close_ int cfd = -EBADF;
	socklen_t len = sizeof(struct ucred);
	struct connection *c = NULL;
	struct ucred peer;
	const char *why;
	char buf[192];
	int r;

	cfd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0) {
		/* Anything else (EMFILE, ENFILE, ENOBUFS, ENOMEM) leaves the
		 * listener readable: accepting again at once would spin. */
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			accept_pause(s, -errno);
		return 0;
	}
	if (s->accept_retry_usec) {
		log_info("Accepting connections again");
		s->accept_retry_usec = 0;
		(void)sd_event_source_set_enabled(s->accept_timer, SD_EVENT_OFF);
	}
	/* Identity is what the kernel saw at connect(), not what the peer claims. */
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0) {
		log_warning_errno(-errno, "Failed to read peer credentials: %m");
		return 0;
	}
	why = over_limit(s, peer.uid, buf, sizeof(buf));
	if (why) {
		log_warning("Refusing connection of pid %d uid %u: %s", (int)peer.pid,
			    (unsigned)peer.uid, why);
		refuse(cfd, why);
		return 0;
	}
	r = connection_new(s, cfd, &peer, &c);
	if (r == -ENOMEM)
		log_error("Failed to accept connection: out of memory");
	if (r < 0)
		return 0; /* the others are logged */
	TAKE_FD(cfd);
	TAILQ_INSERT_TAIL(&s->conns, c, link);
	s->n_conns++;
	log_client_debug(c, "connected");
	return 0;
}

void connection_hold(struct connection *c)
{
	/* With no events asked for, epoll still reports EPOLLHUP: a peer
	 * that hangs up while it waits is noticed (on_connection_io()). */
	(void)sd_event_source_set_io_events(c->io, 0);
}

void connection_resume(struct connection *c)
{
	/* Level-triggered: requests it sent meanwhile are read at once. */
	(void)sd_event_source_set_io_events(c->io, EPOLLIN);
}

int connection_reply(struct connection *c, json_t *reply, const int *fds, size_t n_fds)
{
	_cleanup_free_ char *text = json_dumps(reply, JSON_COMPACT);

	if (!text)
		return -ENOMEM;
	return connection_reply_text(c, text, fds, n_fds);
}

int connection_reply_text(struct connection *c, const char *text, const int *fds, size_t n_fds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * PROTOCOL_FDS_MAX)];
	} control;
	struct iovec iov;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (n_fds > PROTOCOL_FDS_MAX)
		return -E2BIG;
	iov = (struct iovec){ .iov_base = (char *)text, .iov_len = strlen(text) };
	if (n_fds > 0) {
		struct cmsghdr *cm;

		memset(&control, 0, sizeof(control));
		msg.msg_control = &control;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
	}
	/* A long status reply needs a send buffer that holds it whole:
	 * SEQPACKET never splits a message. */
	if (iov.iov_len > PROTOCOL_MESSAGE_MAX) {
		int size = (int)(iov.iov_len * 2 + 4096);

		if (iov.iov_len > PROTOCOL_REPLY_MAX)
			return -EMSGSIZE;
		(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
	}
	if (sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		int r = -errno;

		/* Full: the peer reads nothing (must_wait() kept room for one reply). */
		if (r == -EAGAIN || r == -ENOBUFS) {
			log_client_info(c, "does not read its replies (socket full): closing");
			c->stuck = true;
		}
		return log_client_debug_errno(c, r, "Failed to send reply: %m");
	}
	return 0;
}

static int listen_on_path(const char *path, gid_t gid, int *ret)
{
	_cleanup_close_ int fd = -EBADF;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t mode = gid == (gid_t)-1 ? 0666 : 0660;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A stale socket from a crashed daemon would make bind() fail; a live
	 * one belongs to a running daemon, and taking it over would split the
	 * world in two. connect() tells them apart. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return -EADDRINUSE;
	safe_close(fd);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	if (gid != (gid_t)-1 && chown(path, 0, gid) < 0)
		return -errno;
	if (chmod(path, mode) < 0)
		return -errno;
	if (listen(fd, SOMAXCONN) < 0)
		return -errno;
	*ret = TAKE_FD(fd);
	return 0;
}

int server_new(sd_event *event, const char *path, int listen_fd, gid_t gid,
	       server_request_fn on_request, server_disconnect_fn on_disconnect, void *userdata,
	       struct server **ret)
{
	_cleanup_(server_freep) struct server *s = NULL;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = -EBADF;
	s->event = event;
	server_set_max_connections(s, SERVER_MAX_CONNECTIONS, 0);
	s->silence_usec = SERVER_SILENCE_TIMEOUT_SEC * 1000000ULL;
	s->on_request = on_request;
	s->on_disconnect = on_disconnect;
	s->userdata = userdata;
	TAILQ_INIT(&s->conns);
	LIST_INIT(&s->users);
	if (listen_fd >= 0) {
		s->fd = listen_fd;
	} else {
		r = listen_on_path(path, gid, &s->fd);
		if (r < 0)
			return r;
		/* Only now is the path ours to unlink at exit. */
		s->path = strdup(path);
		if (!s->path)
			return -ENOMEM;
	}
	r = sd_event_add_io(event, &s->io, s->fd, EPOLLIN, on_accept, s);
	if (r < 0)
		return r;
	r = sd_event_add_time_relative(event, &s->accept_timer, CLOCK_MONOTONIC,
				       ACCEPT_RETRY_MIN_USEC, 0, on_accept_retry, s);
	if (r >= 0)
		r = sd_event_source_set_enabled(s->accept_timer, SD_EVENT_OFF);
	if (r >= 0)
		r = sd_event_add_time_relative(event, &s->pause_timer, CLOCK_MONOTONIC,
					       PAUSE_RECHECK_USEC, 0, on_pause_recheck, s);
	if (r >= 0)
		r = sd_event_source_set_enabled(s->pause_timer, SD_EVENT_OFF);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(s);
	return 0;
}

struct server *server_free(struct server *s)
{
	struct connection *c;

	if (!s)
		return NULL;
	/* No retry of accept() while the connections go. */
	s->accept_retry_usec = 0;
	while ((c = TAILQ_FIRST(&s->conns)))
		connection_free(c);
	sd_event_source_disable_unref(s->accept_timer);
	sd_event_source_disable_unref(s->pause_timer);
	sd_event_source_disable_unref(s->io);
	safe_close(s->fd);
	if (s->path)
		(void)unlink(s->path);
	free(s->path);
	free(s);
	return NULL;
}

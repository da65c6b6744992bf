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
 */
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "protocol.h"
#include "server.h"
#include "util.h"

struct connection {
	TAILQ_ENTRY(connection) link;
	struct server *server;
	int fd;
	sd_event_source *io;
	struct ucred peer;
	sd_event_source *silence_timer; /* until the first message: drop peers that never speak */
	gid_t *groups;                  /* SO_PEERGROUPS: the peer's supplementary groups */
	size_t n_groups;
	void *data;
};

struct server {
	sd_event *event;
	int fd;
	char *path; /* NULL when socket-activated: systemd owns the path */
	sd_event_source *io;
	TAILQ_HEAD(, connection) conns;
	size_t n_conns;
	server_request_fn on_request;
	server_disconnect_fn on_disconnect;
	void *userdata;
	size_t max_conns;
	uint64_t silence_usec; /* a peer that never sends is dropped after this */
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

void server_set_max_connections(struct server *s, size_t max)
{
	s->max_conns = max;
}

void server_set_silence_timeout(struct server *s, uint64_t usec)
{
	s->silence_usec = usec;
}

size_t server_connection_count(const struct server *s)
{
	return s->n_conns;
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

static void connection_free(struct connection *c)
{
	struct server *s = c->server;

	if (s->on_disconnect)
		s->on_disconnect(s->userdata, c);
	TAILQ_REMOVE(&s->conns, c, link);
	s->n_conns--;
	connection_destroy(c);
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
	c->silence_timer = sd_event_source_disable_unref(c->silence_timer);
	s->on_request(s->userdata, c, s->buf, (size_t)n, fds, n_fds);
	return 0;
}

static int on_silence(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct connection *c = userdata;

	log_client_info(c, "sent nothing for %llu s, closing",
			(unsigned long long)(c->server->silence_usec / 1000000));
	connection_free(c);
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

/* A connection for the accepted @fd (which it takes only on success). */
static int connection_new(struct server *s, int fd, struct connection **ret)
{
	_cleanup_(connection_destroyp) struct connection *c = NULL;
	socklen_t len = sizeof(struct ucred);
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = -EBADF;
	c->server = s;
	/* Identity is what the kernel saw at connect(), not what the peer claims. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->peer, &len) < 0)
		return log_warning_errno(-errno, "Failed to read peer credentials: %m");
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
	c->fd = fd;
	*ret = TAKE_PTR(c);
	return 0;
}

static int on_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct server *s = userdata;
	_cleanup_close_ int cfd = -EBADF;
	struct connection *c;
	int r;

	cfd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warning("Failed to accept connection: %m");
		return 0;
	}
	if (s->n_conns >= s->max_conns) {
		log_warning("Refusing connection: %zu connections open, the limit", s->n_conns);
		refuse(cfd, "too many connections to the daemon");
		return 0;
	}
	r = connection_new(s, cfd, &c);
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
	if (sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return log_client_debug_errno(c, -errno, "Failed to send reply: %m");
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
	s->max_conns = SERVER_MAX_CONNECTIONS;
	s->silence_usec = SERVER_SILENCE_TIMEOUT_SEC * 1000000ULL;
	s->on_request = on_request;
	s->on_disconnect = on_disconnect;
	s->userdata = userdata;
	TAILQ_INIT(&s->conns);
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
	*ret = TAKE_PTR(s);
	return 0;
}

struct server *server_free(struct server *s)
{
	struct connection *c;

	if (!s)
		return NULL;
	while ((c = TAILQ_FIRST(&s->conns)))
		connection_free(c);
	sd_event_source_disable_unref(s->io);
	safe_close(s->fd);
	if (s->path)
		(void)unlink(s->path);
	free(s->path);
	free(s);
	return NULL;
}

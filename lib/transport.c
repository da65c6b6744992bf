/* transport.c - libvmnet-broker: one request and its reply over the daemon's socket
 *
 * Connecting (with words for the user when that fails), sending a request
 * with an fd, receiving a reply of any size with its fds, turning an error
 * reply into its code, and the thread's last message.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "protocol.h"
#include "transport.h"
#include "util.h"
#include "vmnet-broker.h"

#define ERROR_MESSAGE_MAX 1024

static _Thread_local char last_error[ERROR_MESSAGE_MAX];

void message_done(struct message *m)
{
	for (size_t i = 0; i < m->n_fds; i++)
		m->fds[i] = safe_close(m->fds[i]);
	m->n_fds = 0;
	free(m->buf);
	m->buf = NULL;
}

/* Record why the call fails, for vmnet_broker_last_error_message(); "%m" names errno. */
vmnet_broker_return_t fail(vmnet_broker_return_t status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return status;
}

static const char *socket_path_resolve(const char *path)
{
	const char *env;

	if (path)
		return path;
	/*
	 * secure_getenv(): a setuid or file-capability program using this
	 * library must not be pointed at a socket of the caller's choosing.
	 */
	env = secure_getenv(VMNET_BROKER_SOCKET_ENV);
	if (env && *env)
		return env;
	return VMNET_BROKER_DEFAULT_SOCKET;
}

/* The caller's user name, for the command that adds it to the group; "USER" if unknown. */
static void user_name(char *buf, size_t size)
{
	struct passwd pw, *found = NULL;
	char scratch[1024];

	if (getpwuid_r(getuid(), &pw, scratch, sizeof(scratch), &found) != 0 || !found)
		snprintf(buf, size, "USER");
	else
		snprintf(buf, size, "%s", found->pw_name);
}

/* Why connect() failed (errno), and what the user can do about it. */
static vmnet_broker_return_t connect_failure(const char *path)
{
	char user[64];
	int e = errno;

	switch (e) {
	case EACCES:
	case EPERM:
		user_name(user, sizeof(user));
		errno = e;
		return fail(VMNET_BROKER_CONNECTION_FAILURE,
			    "connect %s: %m: only root and the members of group '" VMNET_BROKER_GROUP
			    "' may use the broker; to join it: sudo usermod -aG " VMNET_BROKER_GROUP
			    " %s, then log in again (or run: newgrp " VMNET_BROKER_GROUP ")",
			    path, user);
	case ENOENT:
	case ECONNREFUSED:
		return fail(VMNET_BROKER_CONNECTION_FAILURE,
			    "connect %s: %m: the vmnet-broker daemon is not running; start it with: "
			    "sudo systemctl start vmnet-brokerd.socket (it then starts on the first "
			    "connection), or run vmnet-brokerd",
			    path);
	default:
		return fail(VMNET_BROKER_CONNECTION_FAILURE, "connect %s: %m", path);
	}
}

static vmnet_broker_return_t broker_connect(const char *path, int *ret_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -EBADF;
	size_t n = strlen(path);
	int r;

	if (n == 0 || n >= sizeof(sa.sun_path))
		return fail(VMNET_BROKER_CONNECTION_FAILURE,
			    "socket path '%s' is empty or too long", path);
	memcpy(sa.sun_path, path, n);

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(VMNET_BROKER_CONNECTION_FAILURE, "socket: %m");
	/*
	 * An AF_UNIX connect() interrupted while waiting for room in the
	 * listener's backlog leaves the socket unconnected, so it may be retried.
	 */
	do
		r = connect(fd, (struct sockaddr *)&sa,
			    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1));
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return connect_failure(path);

	*ret_fd = TAKE_FD(fd);
	return VMNET_BROKER_SUCCESS;
}

/* Send @req as one message, with @pass_fd as SCM_RIGHTS when it is open. */
static vmnet_broker_return_t send_request(int fd, const json_t *req, int pass_fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control = { 0 };
	_cleanup_free_ char *text = NULL;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	text = json_dumps(req, JSON_COMPACT);
	if (!text)
		return fail(VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	iov = (struct iovec){ .iov_base = text, .iov_len = strlen(text) };
	if (iov.iov_len > PROTOCOL_MESSAGE_MAX)
		return fail(VMNET_BROKER_INVALID_REQUEST, "request larger than %d bytes",
			    PROTOCOL_MESSAGE_MAX);

	if (pass_fd >= 0) {
		struct cmsghdr *c;

		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}

	/* MSG_NOSIGNAL: a daemon that went away must not kill the caller with SIGPIPE. */
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return fail(VMNET_BROKER_CONNECTION_FAILURE, "send request: %m");
	return VMNET_BROKER_SUCCESS;
}

/* Receive one reply into @m (which the caller cleans up with message_done(), always). */
static vmnet_broker_return_t receive_reply(int fd, struct message *m)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * PROTOCOL_FDS_MAX)];
	} control;
	struct iovec iov;
	struct msghdr mh;
	size_t size;
	ssize_t n;

	/*
	 * A status of a busy daemon may exceed the 64 KiB of a request:
	 * learn the reply's size first (MSG_PEEK|MSG_TRUNC gives a datagram's
	 * real length), then read it whole, plus one byte so that a reply
	 * that grew past the limit still shows as oversized.
	 */
	do
		n = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return fail(VMNET_BROKER_CONNECTION_FAILURE, "receive reply: %m");
	size = n > PROTOCOL_MESSAGE_MAX ? (size_t)n : PROTOCOL_MESSAGE_MAX;
	if (size > PROTOCOL_REPLY_MAX)
		size = PROTOCOL_REPLY_MAX;
	m->buf = malloc(size + 1);
	if (!m->buf)
		return fail(VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	iov = (struct iovec){ .iov_base = m->buf, .iov_len = size + 1 };
	mh = (struct msghdr){
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};

	/* MSG_CMSG_CLOEXEC: no window in which another thread's fork+exec inherits a TAP. */
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return fail(VMNET_BROKER_CONNECTION_FAILURE, "receive reply: %m");
	/* Every fd into @m first, so none is leaked whatever happens next. */
	m->n_fds = protocol_take_fds(&mh, m->fds, ELEMENTSOF(m->fds));

	if (n == 0)
		return fail(VMNET_BROKER_CONNECTION_FAILURE,
			    "the daemon closed the connection without replying");
	/* MSG_CTRUNC: the kernel dropped fds that did not fit; the reply is incomplete. */
	if (mh.msg_flags & MSG_CTRUNC)
		return fail(VMNET_BROKER_INVALID_REPLY, "reply carries more than %d fds",
			    PROTOCOL_FDS_MAX);
	if ((mh.msg_flags & MSG_TRUNC) || (size_t)n > size)
		return fail(VMNET_BROKER_INVALID_REPLY, "reply larger than %d bytes",
			    PROTOCOL_REPLY_MAX);
	m->len = (size_t)n;
	m->buf[n] = '\0';
	return VMNET_BROKER_SUCCESS;
}

/* {"error": CODE, "message": TEXT}: the daemon's code, with its message recorded. */
static vmnet_broker_return_t reply_error(json_t *root, json_t *error)
{
	json_t *message = json_object_get(root, "message");
	json_int_t code;

	if (!json_is_integer(error) || !json_is_string(message))
		return fail(VMNET_BROKER_INVALID_REPLY, "malformed error reply");
	code = json_integer_value(error);
	/* Codes above the known ones pass through: the protocol may add codes. */
	if (code <= 0 || code > INT_MAX)
		return fail(VMNET_BROKER_INVALID_REPLY,
			    "error reply with code %" JSON_INTEGER_FORMAT, code);
	return fail((vmnet_broker_return_t)code, "%s", json_string_value(message));
}

/*
 * Decode @m: an error reply becomes its code; otherwise it must be an
 * object with member @key of type @type, and *ret is the whole reply.
 */
vmnet_broker_return_t reply_parse(const struct message *m, const char *key, json_type type, json_t **ret)
{
	_cleanup_(json_decrefp) json_t *root = NULL;
	json_error_t jerr;
	json_t *v;

	root = json_loadb(m->buf, m->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return fail(VMNET_BROKER_INVALID_REPLY, "reply is not valid JSON: %s", jerr.text);
	if (!json_is_object(root))
		return fail(VMNET_BROKER_INVALID_REPLY, "reply is not a JSON object");

	v = json_object_get(root, "error");
	if (v)
		return reply_error(root, v);
	v = json_object_get(root, key);
	if (!v || json_typeof(v) != type)
		return fail(VMNET_BROKER_INVALID_REPLY,
			    "reply has neither 'error' nor a valid '%s'", key);

	*ret = TAKE_PTR(root);
	return VMNET_BROKER_SUCCESS;
}

/* Send @req (with @pass_fd) on the open connection @conn and receive the reply into @m. */
vmnet_broker_return_t exchange(int conn, const json_t *req, int pass_fd, struct message *m)
{
	vmnet_broker_return_t s;

	s = send_request(conn, req, pass_fd);
	if (s != VMNET_BROKER_SUCCESS)
		return s;
	return receive_reply(conn, m);
}

/* Connect, send @req (with @pass_fd) and receive the reply into @m. */
vmnet_broker_return_t transact(const char *socket_path, const json_t *req, int pass_fd,
			       int *ret_conn, struct message *m)
{
	_cleanup_close_ int conn = -EBADF;
	vmnet_broker_return_t s;

	s = broker_connect(socket_path_resolve(socket_path), &conn);
	if (s != VMNET_BROKER_SUCCESS)
		return s;
	s = exchange(conn, req, pass_fd, m);
	if (s != VMNET_BROKER_SUCCESS)
		return s;
	*ret_conn = TAKE_FD(conn);
	return VMNET_BROKER_SUCCESS;
}

const char *vmnet_broker_strerror(vmnet_broker_return_t status)
{
	return status_to_string((int)status);
}

const char *vmnet_broker_status_name(vmnet_broker_return_t status)
{
	return status_to_name((int)status);
}

const char *vmnet_broker_last_error_message(void)
{
	return last_error;
}

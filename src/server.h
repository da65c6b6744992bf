/* server.h - the SOCK_SEQPACKET listener and its connections (transport only) */
#ifndef VMNET_SERVER_H
#define VMNET_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

#include "log.h"

struct server;
struct connection;

/*
 * One request arrived. @fds (@n_fds of them) now belong to the callee,
 * which must close them. The callee answers with connection_reply().
 */
typedef void (*server_request_fn)(void *userdata, struct connection *c, const char *msg, size_t len,
				  int *fds, size_t n_fds);
/* The peer went away; @c is freed right after this returns. */
typedef void (*server_disconnect_fn)(void *userdata, struct connection *c);

/**
 * server_new() - listen on @path (mode 0666, or 0660 with group @gid when
 * @gid != (gid_t)-1), or on @listen_fd when it is >= 0 (socket activation)
 * Return: 0 or negative errno.
 */
int server_new(sd_event *event, const char *path, int listen_fd, gid_t gid,
	       server_request_fn on_request, server_disconnect_fn on_disconnect, void *userdata,
	       struct server **ret);
/* Close every connection (calling on_disconnect) and the listener; unlink the path. */
struct server *server_free(struct server *s);
static inline void server_freep(struct server **s)
{
	server_free(*s);
}
size_t server_connection_count(const struct server *s);

/*
 * Limits. Past @max connections (default SERVER_MAX_CONNECTIONS) a new
 * one is refused with LIMIT_EXCEEDED; the last server_root_reserve(@max)
 * of them only root may take, and a user other than root may hold at
 * most @per_user (0: the default, server_default_per_user(@max)).
 */
void server_set_max_connections(struct server *s, size_t max, size_t per_user);
#define SERVER_MAX_CONNECTIONS 1024
/* max(4, @max / 8): 128 of 1024, well below the whole. */
size_t server_default_per_user(size_t max);
/* Connections only root may take: max(4, @max / 32), at most half of them. */
size_t server_root_reserve(size_t max);

/*
 * A connection that sent nothing for this long is closed, and one that
 * holds nothing (server_holds_fn) is closed after this long without a
 * request (default SERVER_SILENCE_TIMEOUT_SEC).
 */
void server_set_silence_timeout(struct server *s, uint64_t usec);
#define SERVER_SILENCE_TIMEOUT_SEC 30
/* Whether @c holds something that ends when it closes: then it is never idle. */
typedef bool (*server_holds_fn)(void *userdata, const struct connection *c);
void server_set_holds_fn(struct server *s, server_holds_fn holds);

/*
 * Bytes of replies the connections of one user other than root may leave
 * unread in the kernel before the daemon reads no further request from
 * them (until they read): what a user pins of the daemon's memory.
 */
#define SERVER_UNREAD_PER_USER (1024 * 1024)

/* Credentials the kernel recorded at connect(): SO_PEERCRED. */
const struct ucred *connection_peer(const struct connection *c);
/* Its supplementary groups at connect(): SO_PEERGROUPS; *@ret_n of them. */
const gid_t *connection_peer_groups(const struct connection *c, size_t *ret_n);
/* Per-connection data of the server's user. */
void *connection_get_data(const struct connection *c);
void connection_set_data(struct connection *c, void *data);

/*
 * Read no more of @c's requests until connection_resume(): a request
 * answered later (wait_address) keeps one reply per request, in order,
 * while other connections are served. A hang-up still ends @c.
 */
void connection_hold(struct connection *c);
void connection_resume(struct connection *c);

/**
 * connection_reply() - send @reply with @fds as SCM_RIGHTS, in one message
 * The fds stay the caller's. A peer that is gone is not an error worth
 * more than a debug line: the caller's cleanup runs the same either way.
 * A peer whose socket is full (it reads no replies) is closed once the
 * request is done: one reply per request, or none and the connection goes.
 * Return: 0 or negative errno.
 */
int connection_reply(struct connection *c, json_t *reply, const int *fds, size_t n_fds);
/* connection_reply() of a reply already serialised: @text, one JSON object. */
int connection_reply_text(struct connection *c, const char *text, const int *fds, size_t n_fds);

/* Lines about a client: "[peer PID uid UID] ...", as SO_PEERCRED says. */
#define log_client_full_errno(c, level, error, fmt, ...)                                        \
	log_full_errno((level), (error), "[peer %d uid %u] " fmt, (int)connection_peer(c)->pid, \
		       (unsigned)connection_peer(c)->uid, ##__VA_ARGS__)
#define log_client_debug(c, fmt, ...) \
	((void)log_client_full_errno(c, LOG_DEBUG, 0, fmt, ##__VA_ARGS__))
#define log_client_info(c, fmt, ...) \
	((void)log_client_full_errno(c, LOG_INFO, 0, fmt, ##__VA_ARGS__))
#define log_client_debug_errno(c, error, fmt, ...) \
	log_client_full_errno(c, LOG_DEBUG, error, fmt, ##__VA_ARGS__)

#endif

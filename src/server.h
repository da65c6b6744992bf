/* server.h - the SOCK_SEQPACKET listener and its connections (transport only) */
#ifndef VMNET_SERVER_H
#define VMNET_SERVER_H

#include <jansson.h>
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
/* Further connections are refused with LIMIT_EXCEEDED (default SERVER_MAX_CONNECTIONS). */
void server_set_max_connections(struct server *s, size_t max);
#define SERVER_MAX_CONNECTIONS 1024
/* A peer that connects and never sends holds a slot for nothing: drop it after this. */
void server_set_silence_timeout(struct server *s, uint64_t usec);
#define SERVER_SILENCE_TIMEOUT_SEC 30

/* Credentials the kernel recorded at connect(): SO_PEERCRED. */
const struct ucred *connection_peer(const struct connection *c);
/* Its supplementary groups at connect(): SO_PEERGROUPS; *@ret_n of them. */
const gid_t *connection_peer_groups(const struct connection *c, size_t *ret_n);
/* Per-connection data of the server's user. */
void *connection_get_data(const struct connection *c);
void connection_set_data(struct connection *c, void *data);

/**
 * connection_reply() - send @reply with @fds as SCM_RIGHTS, in one message
 * The fds stay the caller's. A peer that is gone is not an error worth
 * more than a debug line: the caller's cleanup runs the same either way.
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

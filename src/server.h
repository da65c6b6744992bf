/* server.h - the SOCK_SEQPACKET listener and its connections (transport only) */
#ifndef VMNET_SERVER_H
#define VMNET_SERVER_H

#include <jansson.h>
#include <stddef.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

struct server;
struct connection;

/*
 * One request arrived. @fds (@n_fds of them) now belong to the callee,
 * which must close them. The callee answers with connection_reply().
 */
typedef void (*server_request_fn)(void *userdata, struct connection *c, const char *msg,
				  size_t len, int *fds, size_t n_fds);
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
size_t server_connection_count(const struct server *s);

/* Credentials the kernel recorded at connect(): SO_PEERCRED. */
const struct ucred *connection_peer(const struct connection *c);
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

#endif

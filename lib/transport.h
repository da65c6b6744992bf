/* transport.h - libvmnet-broker's own: one request and its reply over the daemon's socket */
#ifndef VMNET_LIB_TRANSPORT_H
#define VMNET_LIB_TRANSPORT_H

#include <jansson.h>
#include <stddef.h>

#include "protocol.h"
#include "util.h"
#include "vmnet-broker.h"

/* One received message: JSON bytes and the fds that rode on it. */
struct message {
	char *buf;
	size_t len;
	size_t n_fds;
	int fds[PROTOCOL_FDS_MAX];
};

/* Close the fds @m still holds and free its bytes. */
void message_done(struct message *m);

/* Record why the call fails, for vmnet_broker_last_error_message(); "%m" names errno. Return: @status. */
_printf_(2, 3) vmnet_broker_return_t fail(vmnet_broker_return_t status, const char *fmt, ...);

/**
 * transact() - connect, send @req (with @pass_fd when it is open), receive the reply into @m
 * @socket_path: NULL for $VMNET_BROKER_SOCKET, else the default
 *
 * @m is the caller's to message_done(), whatever the result.
 * Return: VMNET_BROKER_SUCCESS with the connection in *@ret_conn, or the failure's code.
 */
vmnet_broker_return_t transact(const char *socket_path, const json_t *req, int pass_fd,
			       int *ret_conn, struct message *m);

/**
 * exchange() - send @req (with @pass_fd when it is open) on @conn, receive the reply into @m
 *
 * transact() on a connection the caller already has (an acquired handle's).
 * Return: VMNET_BROKER_SUCCESS, or the failure's code.
 */
vmnet_broker_return_t exchange(int conn, const json_t *req, int pass_fd, struct message *m);

/**
 * reply_parse() - @m as a reply: an error reply becomes its code; otherwise
 * it must be an object with member @key of @type, and *@ret is the whole reply
 */
vmnet_broker_return_t reply_parse(const struct message *m, const char *key, json_type type,
				  json_t **ret);

#endif

/* request.h - one request, from its bytes to its one reply */
#ifndef VMNET_REQUEST_H
#define VMNET_REQUEST_H

#include <stddef.h>

struct connection;

/**
 * request_dispatch() - answer one request of @c, with the broker as @userdata
 *
 * A server_request_fn (server.h): parses @msg, runs its command, sends
 * exactly one reply, and closes @fds whatever happens.
 */
void request_dispatch(void *userdata, struct connection *c, const char *msg, size_t len, int *fds,
		      size_t n_fds);

#endif

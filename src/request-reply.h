/* request-reply.h - what request handlers answer, and the one mapping of module codes */
#ifndef VMNET_REQUEST_REPLY_H
#define VMNET_REQUEST_REPLY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "port.h"
#include "util.h"

struct lease;

#define REPLY_MESSAGE_MAX 512

/* What a handler answers: a reply to send, or an error. */
struct reply {
	int status;                      /* VMNET_BROKER_SUCCESS, or the error's code */
	char message[REPLY_MESSAGE_MAX]; /* the error's, for a person */
	json_t *json;                    /* on success */
	struct tap_fds fds;              /* ride on a successful reply */
	struct lease *lease;             /* an acquire's, logged once the reply is out */
	uint32_t shadowed;               /* an acquire's forwards over host services (root's) */
	bool later;                      /* answered later: a wait_address that waits */
};

/**
 * status_from() - the one mapping of module codes (util.h's ranges) to status codes
 * Return: the VMNET_BROKER_* status a positive module code answers; INTERNAL_ERROR else.
 */
int status_from(int code);

/* Answer with error @status and a message for a person. Return: @status. */
_printf_(3, 4) int request_fail(struct reply *rp, int status, const char *fmt, ...);

#endif

/* request-reply.h - what request handlers answer, and the one mapping of module codes */
#ifndef VMNET_REQUEST_REPLY_H
#define VMNET_REQUEST_REPLY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "port.h"
#include "util.h"

struct broker;
struct connection;
struct network;
struct network_config;
struct lease;
struct request;

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

/*
 * What decides who may use running network @n now: its file as it is
 * now, or its own configuration when the file is gone or broken (as for
 * an acquire).
 */
const struct network_config *request_access_config(struct broker *b, struct network *n);

/**
 * request_check_forwards() - may @c's peer have host ports @v (@n) forwarded on @cfg?
 * @cfg:	the network's configuration as access sees it (its file as it is now)
 * @ret_shadowed: bit i: @v[i]'s port is a host service's (root may)
 *
 * broker_check_forwards(), its refusals answered in @rp: the same checks
 * for an acquire's port_forwards and for forward_add.
 * Return: 0, or the status answered.
 */
int request_check_forwards(struct broker *b, struct connection *c, const struct network_config *cfg,
			   const struct port_forward *v, size_t n, uint32_t *ret_shadowed,
			   struct reply *rp);

/* "tcp port 2222 is already forwarded, by network 'lab'": the first of @v (@n) that is taken. */
void describe_taken_forward(struct broker *b, const struct port_forward *v, size_t n, char *buf,
			    size_t size);

/**
 * request_manage() - answer release, forward_add, forward_remove, forward_list or stop
 * (request-manage.c)
 * Return: 0 with the reply in @rp->json, or the error's status with @rp filled.
 */
int request_manage(struct broker *b, struct connection *c, const struct request *req, struct reply *rp);

#endif

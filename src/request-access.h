/* request-access.h - who may use a network, and forward which host ports, as a request asks */
#ifndef VMNET_REQUEST_ACCESS_H
#define VMNET_REQUEST_ACCESS_H

#include <stddef.h>
#include <stdint.h>

struct broker;
struct connection;
struct network;
struct network_config;
struct port_forward;
struct reply;

/**
 * request_find_config() - the configuration to create or join network @name with
 * @ret:	the running network's own, or the built-in or valid file's
 * @ret_access:	what decides who may use it: the file as it is now
 * Return: 0, or the status answered in @rp (NOT_FOUND).
 */
int request_find_config(struct broker *b, const char *name, const struct network_config **ret,
			const struct network_config **ret_access, struct reply *rp);

/* Is @c's peer among @cfg's allowed users and groups? Return: 0, or the status answered in @rp. */
int request_check_access(struct connection *c, const struct network_config *cfg, struct reply *rp);

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

#endif

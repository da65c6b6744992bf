/* request-manage.h - the requests about what runs: release, forward_add|remove|list, stop */
#ifndef VMNET_REQUEST_MANAGE_H
#define VMNET_REQUEST_MANAGE_H

struct broker;
struct connection;
struct reply;
struct request;

/**
 * request_manage() - answer release, forward_add, forward_remove, forward_list or stop
 * Return: 0 with the reply in @rp->json, or the error's status with @rp filled.
 */
int request_manage(struct broker *b, struct connection *c, const struct request *req, struct reply *rp);

#endif

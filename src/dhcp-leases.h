/* dhcp-leases.h - dnsmasq's lease file: read when it changed, and watched */
#ifndef VMNET_DHCP_LEASES_H
#define VMNET_DHCP_LEASES_H

#include "dhcp.h"

struct dhcp_lease_file;

/* The file changed, and the writes have settled: dhcp_lease_file_read() has news. */
typedef void (*dhcp_lease_file_fn)(void *userdata);

/**
 * dhcp_lease_file_new() - follow dnsmasq's lease file at @path
 * @w: tells when it changes (dhcp_lease_file_watch()); NULL: nobody asks
 * @fn: called with @userdata once a change has settled
 *
 * Makes the file (root's alone) when it is missing, so that it can be
 * watched as soon as dnsmasq listens; one left by an earlier dnsmasq
 * stays as it is.
 * Return: 0 or negative errno.
 */
int dhcp_lease_file_new(struct dhcp_watch *w, const char *path, dhcp_lease_file_fn fn,
			void *userdata, struct dhcp_lease_file **ret);
/* Watch it from now on (dnsmasq listens); without a watch, or when that fails, only reads tell. */
void dhcp_lease_file_watch(struct dhcp_lease_file *f);
/* The unexpired leases: what dhcp_server_leases() says (dhcp.h). */
int dhcp_lease_file_read(struct dhcp_lease_file *f, struct dhcp_host **ret, size_t *ret_n);
/* Stop following it; the file stays. NULL-safe. Return: NULL. */
struct dhcp_lease_file *dhcp_lease_file_free(struct dhcp_lease_file *f);

#endif

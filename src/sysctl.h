/* sysctl.h - the daemon namespace's sysctls: forwarding, and per-link IPv6 settings */
#ifndef VMNET_SYSCTL_H
#define VMNET_SYSCTL_H

/* Write @value to /proc/sys/@path ("net/ipv4/ip_forward"). Return: 0 or negative errno. */
int sysctl_write(const char *path, const char *value);
/* The number in /proc/sys/@path into *@ret. Return: 0 or negative errno. */
int sysctl_read_uint(const char *path, unsigned int *ret);
/* net.ipv4.conf.@ifname.@key = @value. Return: 0 or negative errno. */
int sysctl_write_ipv4_link(const char *ifname, const char *key, const char *value);
/* net.ipv6.conf.@ifname.@key = @value. Return: 0 or negative errno. */
int sysctl_write_ipv6_link(const char *ifname, const char *key, const char *value);
/**
 * sysctl_keep_router_advertisements() - accept_ra=2 wherever it is 1
 *
 * With IPv6 forwarding on, the kernel ignores router advertisements on
 * interfaces with accept_ra=1, and an uplink configured by RA would lose
 * its default route. accept_ra=2 keeps taking them while forwarding.
 * @changed is called with each interface that was changed.
 */
void sysctl_keep_router_advertisements(void (*changed)(const char *ifname));

#endif

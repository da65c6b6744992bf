/* dns-name.h - what may be a guest's DNS name, and a network's domain (pure) */
#ifndef VMNET_DNS_NAME_H
#define VMNET_DNS_NAME_H

#include <stdbool.h>
#include <stddef.h>

#define DNS_LABEL_MAX 63 /* RFC 1035 */
/* A domain leaves room for one label and its dot within DNS's 253 bytes. */
#define DNS_DOMAIN_MAX (253 - DNS_LABEL_MAX - 1)
#define DNS_DEFAULT_SUFFIX "vmnet"

/*
 * A host name label as RFC 1123 has it: 1-63 of A-Z, a-z, 0-9 and '-',
 * not starting or ending with '-'. What a guest may be called.
 */
bool dns_label_is_valid(const char *s);
/*
 * A domain of one or more such labels separated by dots, at most
 * DNS_DOMAIN_MAX bytes, no trailing dot, and not under "local" (mDNS's,
 * RFC 6762) or "localhost".
 */
bool dns_domain_is_valid(const char *s);
/**
 * dns_default_domain() - the domain of network @network without a `domain` key
 * @buf:	DNS_DOMAIN_MAX + 1 bytes
 *
 * "NAME.vmnet", NAME in lower case with '_' as '-'.
 * Return: 0, or -EINVAL when that is no valid domain ("a_" gives "a-").
 */
int dns_default_domain(const char *network, char *buf, size_t size);
/* Lower-case copy of @s into @buf (@size bytes, cut to fit). Return: @buf. */
char *dns_lower(const char *s, char *buf, size_t size);

#endif

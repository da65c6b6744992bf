/* dns-name.c - what may be a guest's DNS name, and a network's domain (pure) */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dns-name.h"
#include "util.h"

static bool label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

/* The label of @n bytes at @s. */
static bool label_ok(const char *s, size_t n)
{
	if (n == 0 || n > DNS_LABEL_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!label_char(s[i]))
			return false;
	return true;
}

bool dns_label_is_valid(const char *s)
{
	return label_ok(s, strlen(s));
}

/* Whether @s is @suffix or ends in "." @suffix, any case. */
static bool under(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	if (n < m || strcasecmp(s + n - m, suffix) != 0)
		return false;
	return n == m || s[n - m - 1] == '.';
}

bool dns_domain_is_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > DNS_DOMAIN_MAX)
		return false;
	for (const char *p = s;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);

		if (!label_ok(p, len))
			return false;
		if (!dot)
			break;
		p = dot + 1;
	}
	/* Names there are mDNS's or the host's own: a resolver never asks us. */
	return !under(s, "local") && !under(s, "localhost");
}

char *dns_lower(const char *s, char *buf, size_t size)
{
	size_t i = 0;

	for (; s[i] && i + 1 < size; i++)
		buf[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
	if (size)
		buf[i] = '\0';
	return buf;
}

int dns_default_domain(const char *network, char *buf, size_t size)
{
	char name[DNS_DOMAIN_MAX + 1];

	dns_lower(network, name, sizeof(name));
	for (char *p = name; *p; p++)
		if (*p == '_')
			*p = '-';
	if (snprintf(buf, size, "%s." DNS_DEFAULT_SUFFIX, name) >= (int)size ||
	    !dns_domain_is_valid(buf)) {
		if (size)
			buf[0] = '\0';
		return -EINVAL;
	}
	return 0;
}

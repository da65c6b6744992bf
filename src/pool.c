/* pool.c - IPv4 prefixes and subnet / host address allocation (pure, no I/O) */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "util.h"

uint32_t prefix4_mask(uint8_t len)
{
	return len == 0 ? 0 : ~(uint32_t)0 << (32 - len);
}

int prefix4_parse(const char *s, struct prefix4 *ret)
{
	char buf[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	struct in_addr a;
	long len = 32;

	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	if (slash) {
		char *end;
		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		errno = 0;
		len = strtol(slash + 1, &end, 10);
		if (errno || *end || len < 0 || len > 32)
			return -EINVAL;
	}
	ret->addr = ntohl(a.s_addr);
	ret->len = (uint8_t)len;
	return 0;
}

char *addr4_format(uint32_t addr, char *buf, size_t size)
{
	snprintf(buf, size, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
		 addr & 0xff);
	return buf;
}

char *prefix4_format(const struct prefix4 *p, char *buf, size_t size)
{
	char a[16];

	snprintf(buf, size, "%s/%u", addr4_format(p->addr, a, sizeof(a)), p->len);
	return buf;
}

bool prefix4_overlaps(const struct prefix4 *a, const struct prefix4 *b)
{
	/* Two prefixes overlap iff they agree on the shorter one's bits. */
	uint32_t m = prefix4_mask(a->len < b->len ? a->len : b->len);

	return (a->addr & m) == (b->addr & m);
}

void addr6_eui64(const uint8_t prefix[16], const uint8_t mac[6], uint8_t ret[16])
{
	memcpy(ret, prefix, 8);
	ret[8] = mac[0] ^ 0x02; /* the universal/local bit, inverted */
	ret[9] = mac[1];
	ret[10] = mac[2];
	ret[11] = 0xff;
	ret[12] = 0xfe;
	ret[13] = mac[3];
	ret[14] = mac[4];
	ret[15] = mac[5];
}

bool prefix6_overlaps(const uint8_t *a, unsigned int alen, const uint8_t *b, unsigned int blen)
{
	unsigned int len = alen < blen ? alen : blen;

	if (memcmp(a, b, len / 8) != 0)
		return false;
	return len % 8 == 0 || ((a[len / 8] ^ b[len / 8]) & (uint8_t)(0xff00 >> (len % 8))) == 0;
}

int pool_pick_subnet(const struct prefix4 *pool, const struct prefix4 *used, size_t n_used,
		     struct prefix4 *ret)
{
	uint32_t base, count;

	if (pool->len > POOL_SUBNET_LEN)
		return -EINVAL;
	base = pool->addr & prefix4_mask(pool->len);
	count = (uint32_t)1 << (POOL_SUBNET_LEN - pool->len);

	for (uint32_t i = 0; i < count; i++) {
		struct prefix4 cand = { .addr = base + (i << (32 - POOL_SUBNET_LEN)),
					.len = POOL_SUBNET_LEN };
		bool free_ = true;

		for (size_t j = 0; j < n_used && free_; j++)
			/* A default route (0/0) is how the host reaches the world, not a claim on
			 * every subnet; skip it or nothing would ever be free. */
			if (used[j].len > 0 && prefix4_overlaps(&cand, &used[j]))
				free_ = false;
		if (free_) {
			*ret = cand;
			return 0;
		}
	}
	return POOL_E_EXHAUSTED;
}

void host_map_init(struct host_map *m, uint8_t prefix_len, unsigned int gateway)
{
	memset(m, 0, sizeof(*m));
	m->size = 1u << (32 - (prefix_len < HOST_MAP_PREFIX_MIN ? HOST_MAP_PREFIX_MIN : prefix_len));
	(void)host_map_take_exact(m, gateway);
}

/* The range of host numbers that may go to ports (or the gateway). */
static unsigned int first_host(const struct host_map *m)
{
	return m->size ? 1 : 2;
}

static unsigned int last_host(const struct host_map *m)
{
	return m->size ? m->size - 2 : 254;
}

static bool host_map_test(const struct host_map *m, unsigned int host)
{
	return m->used[host / 64] & ((uint64_t)1 << (host % 64));
}

int host_map_take_exact(struct host_map *m, unsigned int host)
{
	if (host < first_host(m) || host > last_host(m) || host_map_test(m, host))
		return POOL_E_EXHAUSTED;
	m->used[host / 64] |= (uint64_t)1 << (host % 64);
	return 0;
}

int host_map_take(struct host_map *m, unsigned int *ret)
{
	unsigned int lo = first_host(m), count = last_host(m) - lo + 1;
	unsigned int start = m->last < lo || m->last >= last_host(m) ? lo : m->last + 1;

	for (unsigned int i = 0; i < count; i++) {
		unsigned int h = lo + (start - lo + i) % count;

		if (host_map_take_exact(m, h) == 0) {
			m->last = h;
			*ret = h;
			return 0;
		}
	}
	return POOL_E_EXHAUSTED;
}

void host_map_put(struct host_map *m, unsigned int host)
{
	if (host < ELEMENTSOF(m->used) * 64)
		m->used[host / 64] &= ~((uint64_t)1 << (host % 64));
}

void host_map_mark(struct host_map *m, unsigned int first, unsigned int last)
{
	for (unsigned int h = first; h <= last && h < ELEMENTSOF(m->used) * 64;) {
		if (h % 64 == 0 && last - h >= 63) {
			m->used[h / 64] = UINT64_MAX; /* a whole word at once: a /16's range is 512 */
			h += 64;
		} else {
			m->used[h / 64] |= (uint64_t)1 << (h % 64);
			h++;
		}
	}
}

/* names-probe.c - which of a span's other hosts' names servers answer now
 *
 * The guests' dnsmasq asks every other host's names server for a name it
 * lacks (span-names.c), and waits for all of them before it gives up on
 * a name none has. A host that does not run the network (it comes with
 * the first lease and goes when idle) never answers, so every such name
 * would wait for the guest resolver's timeout. So the daemon asks each
 * names server itself, once a second, from this host's names address
 * (one small UDP question each: the domain's SOA, which a names server
 * refuses, and a refusal is an answer), and the guests' dnsmasq is
 * given only the ones that answer (dhcp_server_set_name_peers()).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "names-probe.h"
#include "pool.h"
#include "util.h"

#define PROBE_USEC (1000 * 1000ULL)
#define MISSED_MAX 2 /* questions in a row unanswered: it does not answer */
#define QUESTION_MAX 300

struct names_probe {
	sd_event *event;
	sd_event_source *io;
	sd_event_source *timer;
	int fd;
	uint32_t *peers;
	unsigned int *missed; /* per peer, questions unanswered in a row */
	bool *alive;
	size_t n;
	uint16_t id; /* of the questions of this round */
	uint8_t question[QUESTION_MAX];
	size_t question_len;
	names_probe_fn changed;
	void *userdata;
};

/* A DNS question for @domain's SOA, without its 2-byte id. Return: its length, or 0. */
static size_t build_question(const char *domain, uint8_t *buf, size_t size)
{
	static const uint8_t head[] = { 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0 }; /* id, flags, 1 question */
	size_t len = sizeof(head);
	const char *p = domain;

	memcpy(buf, head, sizeof(head));
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		if (l == 0 || l > 63 || len + l + 1 + 5 > size)
			return 0;
		buf[len++] = (uint8_t)l;
		memcpy(buf + len, p, l);
		len += l;
		p += l + (dot ? 1 : 0);
	}
	buf[len++] = 0;
	buf[len++] = 0; /* QTYPE SOA (6), QCLASS IN (1) */
	buf[len++] = 6;
	buf[len++] = 0;
	buf[len++] = 1;
	return len;
}

static ssize_t peer_of(const struct names_probe *p, uint32_t addr)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->peers[i] == addr)
			return (ssize_t)i;
	return -1;
}

static void set_alive(struct names_probe *p, size_t i, bool alive, bool *changed)
{
	if (p->alive[i] != alive) {
		char a[16];

		p->alive[i] = alive;
		*changed = true;
		log_debug("names server %s %s", addr4_format(p->peers[i], a, sizeof(a)),
			  alive ? "answers" : "does not answer");
	}
}

/* An answer of this round from a peer's port 53 makes it alive; anything else is ignored. */
static int on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct names_probe *p = userdata;
	bool changed = false;
	uint8_t buf[512];
	struct sockaddr_in from;
	socklen_t len;
	ssize_t n, i;

	for (;;) {
		len = sizeof(from);
		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &len);
		if (n < 0)
			break;
		if (n < 12 || from.sin_port != htons(53) || !(buf[2] & 0x80) ||
		    (uint16_t)(buf[0] << 8 | buf[1]) != p->id)
			continue;
		i = peer_of(p, ntohl(from.sin_addr.s_addr));
		if (i < 0)
			continue;
		p->missed[i] = 0;
		set_alive(p, (size_t)i, true, &changed);
	}
	if (changed)
		p->changed(p, p->userdata);
	return 0;
}

static void ask_all(struct names_probe *p)
{
	p->id++;
	p->question[0] = (uint8_t)(p->id >> 8);
	p->question[1] = (uint8_t)p->id;
	for (size_t i = 0; i < p->n; i++) {
		struct sockaddr_in to = { .sin_family = AF_INET,
					  .sin_port = htons(53),
					  .sin_addr.s_addr = htonl(p->peers[i]) };

		/* Unreachable for now (no ARP answer yet): as unanswered. */
		(void)sendto(p->fd, p->question, p->question_len, MSG_DONTWAIT,
			     (struct sockaddr *)&to, sizeof(to));
	}
}

/* Who left the last round unanswered, then the next round. */
static int on_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct names_probe *p = userdata;
	bool changed = false;

	for (size_t i = 0; i < p->n; i++)
		if (++p->missed[i] >= MISSED_MAX)
			set_alive(p, i, false, &changed);
	ask_all(p);
	(void)sd_event_source_set_time(src, usec + PROBE_USEC);
	(void)sd_event_source_set_enabled(src, SD_EVENT_ON);
	if (changed)
		p->changed(p, p->userdata);
	return 0;
}

/* A UDP socket from @self, any port. */
static int open_socket(uint32_t self)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(self) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

int names_probe_new(sd_event *event, uint32_t self, const uint32_t *peers, size_t n, const char *domain,
		    names_probe_fn changed, void *userdata, struct names_probe **ret)
{
	_cleanup_(names_probe_freep) struct names_probe *p = calloc(1, sizeof(*p));
	uint64_t now = 0;
	int r;

	if (!p)
		return -ENOMEM;
	p->fd = -EBADF;
	p->event = event;
	p->changed = changed;
	p->userdata = userdata;
	p->n = n;
	p->peers = calloc(n + 1, sizeof(*p->peers));
	p->missed = calloc(n + 1, sizeof(*p->missed));
	p->alive = calloc(n + 1, sizeof(*p->alive));
	if (!p->peers || !p->missed || !p->alive)
		return -ENOMEM;
	if (n)
		memcpy(p->peers, peers, n * sizeof(*peers));
	/* Not guessable from the segment: an answer must carry the round's id. */
	if (getrandom(&p->id, sizeof(p->id), GRND_NONBLOCK) != sizeof(p->id))
		p->id = (uint16_t)now;
	p->question_len = build_question(domain, p->question, sizeof(p->question));
	if (!p->question_len)
		return -EINVAL;
	p->fd = open_socket(self);
	if (p->fd < 0)
		return p->fd;
	r = sd_event_add_io(event, &p->io, p->fd, EPOLLIN, on_io, p);
	if (r >= 0)
		r = sd_event_now(event, CLOCK_MONOTONIC, &now);
	if (r >= 0)
		r = sd_event_add_time(event, &p->timer, CLOCK_MONOTONIC, now + PROBE_USEC, 0,
				      on_timer, p);
	if (r >= 0)
		r = sd_event_source_set_enabled(p->timer, SD_EVENT_ON);
	if (r < 0)
		return r;
	ask_all(p); /* the first answers come in milliseconds, not a second */
	*ret = TAKE_PTR(p);
	return 0;
}

struct names_probe *names_probe_free(struct names_probe *p)
{
	if (!p)
		return NULL;
	sd_event_source_disable_unref(p->io);
	sd_event_source_disable_unref(p->timer);
	safe_close(p->fd);
	free(p->peers);
	free(p->missed);
	free(p->alive);
	free(p);
	return NULL;
}

size_t names_probe_alive(const struct names_probe *p, uint32_t *ret)
{
	size_t k = 0;

	for (size_t i = 0; i < p->n; i++)
		if (p->alive[i])
			ret[k++] = p->peers[i];
	return k;
}

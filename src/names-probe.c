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
 * given only the ones that answer (dhcp_server_set_name_peers()): a
 * server that leaves two rounds in a row unanswered is left out (a lost
 * packet is not enough), one that answers is back after the round.
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
#define FIRST_USEC (100 * 1000ULL) /* the first round's answers are taken in soon */
#define MISSED_MAX 2               /* rounds in a row unanswered: it does not answer */
#define QUESTION_MAX 300

struct names_probe {
	sd_event_source *io;
	sd_event_source *timer;
	int fd;
	uint32_t *peers;
	unsigned int *missed; /* per peer, rounds unanswered in a row */
	bool *answered;       /* per peer, in this round */
	bool *alive;
	size_t n;
	uint16_t id, last_id; /* of this round's questions, and of the round before */
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

/*
 * An answer from a peer's port 53 to a question of this round or the one
 * before (a loop that stalled reads late), with our question in it.
 */
static bool is_answer(const struct names_probe *p, const uint8_t *buf, size_t n,
		      const struct sockaddr_in *from)
{
	uint16_t id = (uint16_t)(buf[0] << 8 | buf[1]);

	return n >= p->question_len && from->sin_port == htons(53) && (buf[2] & 0x80) &&
	       (id == p->id || id == p->last_id) &&
	       memcmp(buf + 12, p->question + 12, p->question_len - 12) == 0;
}

/* Take in what came; a peer that answered is marked so for the round. */
static void read_answers(struct names_probe *p)
{
	uint8_t buf[512];
	struct sockaddr_in from;
	socklen_t len;
	ssize_t n, i;

	for (;;) {
		len = sizeof(from);
		n = recvfrom(p->fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &len);
		if (n < 0)
			break;
		if (!is_answer(p, buf, (size_t)n, &from))
			continue;
		i = peer_of(p, ntohl(from.sin_addr.s_addr));
		if (i >= 0)
			p->answered[i] = true;
	}
}

static int on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	read_answers(userdata);
	return 0;
}

/* A new id each round, not guessable from the segment; the question to everyone. */
static void ask_all(struct names_probe *p)
{
	uint16_t id;

	p->last_id = p->id;
	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != sizeof(id))
		id = (uint16_t)(p->id + 1);
	p->id = id;
	p->question[0] = (uint8_t)(id >> 8);
	p->question[1] = (uint8_t)id;
	for (size_t i = 0; i < p->n; i++) {
		struct sockaddr_in to = { .sin_family = AF_INET,
					  .sin_port = htons(53),
					  .sin_addr.s_addr = htonl(p->peers[i]) };

		/* Unreachable for now (no ARP answer yet): as unanswered. */
		(void)sendto(p->fd, p->question, p->question_len, MSG_DONTWAIT,
			     (struct sockaddr *)&to, sizeof(to));
	}
}

/*
 * The round is over: who answered is alive, who left MISSED_MAX rounds
 * in a row unanswered is not. Once per round, so one file write and one
 * SIGHUP at most, however the answers come.
 */
static bool settle(struct names_probe *p)
{
	bool changed = false;

	for (size_t i = 0; i < p->n; i++) {
		bool alive = p->alive[i];

		if (p->answered[i]) {
			p->missed[i] = 0;
			alive = true;
		} else if (++p->missed[i] >= MISSED_MAX) {
			alive = false;
		}
		p->answered[i] = false;
		if (alive != p->alive[i]) {
			char a[16];

			p->alive[i] = alive;
			changed = true;
			log_debug("names server %s %s", addr4_format(p->peers[i], a, sizeof(a)),
				  alive ? "answers" : "does not answer");
		}
	}
	return changed;
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct names_probe *p = userdata;
	bool changed;
	int r;

	read_answers(p);
	changed = settle(p);
	ask_all(p);
	/* From now, not from when it was due: a stalled loop asks once, not in a burst. */
	r = sd_event_source_set_time_relative(src, PROBE_USEC);
	if (r >= 0)
		r = sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
	if (r < 0)
		log_warning_errno(r, "Failed to ask the names servers again: %m");
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
	int r;

	if (!p)
		return -ENOMEM;
	p->fd = -EBADF;
	p->changed = changed;
	p->userdata = userdata;
	p->n = n;
	p->peers = calloc(n + 1, sizeof(*p->peers));
	p->missed = calloc(n + 1, sizeof(*p->missed));
	p->answered = calloc(n + 1, sizeof(*p->answered));
	p->alive = calloc(n + 1, sizeof(*p->alive));
	if (!p->peers || !p->missed || !p->answered || !p->alive)
		return -ENOMEM;
	if (n)
		memcpy(p->peers, peers, n * sizeof(*peers));
	p->question_len = build_question(domain, p->question, sizeof(p->question));
	if (!p->question_len)
		return -EINVAL;
	p->fd = open_socket(self);
	if (p->fd < 0)
		return p->fd;
	r = sd_event_add_io(event, &p->io, p->fd, EPOLLIN, on_io, p);
	if (r >= 0)
		r = sd_event_add_time_relative(event, &p->timer, CLOCK_MONOTONIC, FIRST_USEC, 0,
					       on_timer, p);
	if (r < 0)
		return r;
	ask_all(p);
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
	free(p->answered);
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

/* names-probe.h - which of a span's other hosts' names servers answer now */
#ifndef VMNET_NAMES_PROBE_H
#define VMNET_NAMES_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

struct names_probe;

/* The set of names servers that answer changed: names_probe_alive() has news. */
typedef void (*names_probe_fn)(struct names_probe *p, void *userdata);

/**
 * names_probe_new() - ask each of @peers (@n names servers) every second or so
 * @self:	this host's names address, which the questions come from
 * @domain:	what is asked: its SOA, which a names server refuses, and so answers
 *
 * None counts as answering before its first answer. @changed is called,
 * at most once a round, when one starts or stops answering (two rounds
 * in a row unanswered); the first round's answers are taken in after
 * 100 ms.
 * Return: 0 or negative errno.
 */
int names_probe_new(sd_event *event, uint32_t self, const uint32_t *peers, size_t n, const char *domain,
		    names_probe_fn changed, void *userdata, struct names_probe **ret);
struct names_probe *names_probe_free(struct names_probe *p);
static inline void names_probe_freep(struct names_probe **p)
{
	names_probe_free(*p);
}
/* The peers that answer now, into @ret (room for @n of names_probe_new()). Return: how many. */
size_t names_probe_alive(const struct names_probe *p, uint32_t *ret);

#endif

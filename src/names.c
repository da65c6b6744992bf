/* names.c - which guest is called what on a network: first come, one name each (pure)
 *
 * Each round starts from every claim there is now (network.c gathers
 * them: the ports' labels, the guests' DHCP host names) and the names
 * given last time, so that what was given stays given: who has a name
 * keeps it while it still asks for it, whoever asks later. The port is
 * the unit of trust: one VM and whatever runs inside it, which may change
 * its MAC (and so its lease) and keep its name; a guest behind another
 * port never takes it. A round is O(claims log claims), and runs once per
 * turn of the event loop that changed a claim, never per packet.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "util.h"

static unsigned int bucket(const char *name)
{
	unsigned int h = 5381;

	for (const char *p = name; *p; p++)
		h = h * 33u + (unsigned char)*p;
	return h % NAMES_BUCKETS;
}

static unsigned int port_bucket(const void *port)
{
	return (unsigned int)(((uintptr_t)port >> 4) % NAMES_BUCKETS);
}

void names_init(struct name_table *t)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < NAMES_BUCKETS; i++) {
		LIST_INIT(&t->records[i]);
		LIST_INIT(&t->by_port[i]);
		LIST_INIT(&t->refusals[i]);
	}
}

void names_clear(struct name_table *t)
{
	for (size_t i = 0; i < NAMES_BUCKETS; i++) {
		struct name_record *r;
		struct name_refusal *f;

		while ((r = LIST_FIRST(&t->records[i]))) {
			LIST_REMOVE(r, link);
			LIST_REMOVE(r, port_link);
			free(r);
		}
		while ((f = LIST_FIRST(&t->refusals[i]))) {
			LIST_REMOVE(f, link);
			free(f);
		}
	}
	t->n = 0;
}

struct name_record *names_find(const struct name_table *t, const char *name)
{
	struct name_record *r;

	LIST_FOREACH(r, &t->records[bucket(name)], link)
		if (streq(r->name, name))
			return r;
	return NULL;
}

bool names_drop_port(struct name_table *t, const void *port)
{
	struct name_record *r, *next;
	bool any = false;

	for (r = LIST_FIRST(&t->by_port[port_bucket(port)]); r; r = next) {
		next = LIST_NEXT(r, port_link);
		if (r->port != port)
			continue;
		LIST_REMOVE(r, link);
		LIST_REMOVE(r, port_link);
		free(r);
		t->n--;
		any = true;
	}
	return any;
}

struct name_record *names_of_port(const struct name_table *t, const void *port)
{
	struct name_record *r;

	LIST_FOREACH(r, &t->by_port[port_bucket(port)], port_link)
		if (r->port == port)
			return r;
	return NULL;
}

struct name_record *names_next_of_port(const struct name_record *r)
{
	const void *port = r->port;

	for (r = LIST_NEXT(r, port_link); r; r = LIST_NEXT(r, port_link))
		if (r->port == port)
			return (struct name_record *)r;
	return NULL;
}

struct name_record *names_next(const struct name_table *t, const struct name_record *r)
{
	size_t i = r ? bucket(r->name) : 0;

	if (r && LIST_NEXT(r, link))
		return LIST_NEXT(r, link);
	for (i = r ? i + 1 : 0; i < NAMES_BUCKETS; i++)
		if (LIST_FIRST(&t->records[i]))
			return LIST_FIRST(&t->records[i]);
	return NULL;
}

/* By name, then the earliest first. */
static int claim_cmp(const void *a, const void *b)
{
	const struct name_claim *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Of two claims of one port: its guest's host name over its label, the newer host name. */
static bool better(const struct name_claim *a, const struct name_claim *b)
{
	if (a->from_host != b->from_host)
		return a->from_host;
	return a->seq > b->seq;
}

/* The best claim of port @port among @v[0..n), or NULL. */
static const struct name_claim *best_of(const struct name_claim *v, size_t n, const void *port)
{
	const struct name_claim *best = NULL;

	for (size_t i = 0; i < n; i++)
		if (v[i].port == port && (!best || better(&v[i], best)))
			best = &v[i];
	return best;
}

/*
 * The claim of @v[0..n) (sorted, earliest first) that gets the name, given
 * who had it (@held, or NULL). A guest behind no known port (its VM gone,
 * or quiet since the daemon started) keeps a name only while nobody behind
 * a port asks for it.
 */
static const struct name_claim *winner(const struct name_claim *v, size_t n,
				       const struct name_record *held)
{
	const struct name_claim *w = held && held->port ? best_of(v, n, held->port) : NULL;

	if (w)
		return w;
	for (size_t i = 0; i < n; i++)
		if (v[i].port)
			return best_of(v, n, v[i].port);
	for (size_t i = 0; held && i < n; i++)
		if (v[i].address == held->address)
			return &v[i];
	return &v[0];
}

static bool refused_before(struct name_table *t, const struct name_claim *c)
{
	struct name_refusal *f;

	LIST_FOREACH(f, &t->refusals[bucket(c->name)], link)
		if (f->who == c->who && streq(f->name, c->name)) {
			f->keep = true;
			return true;
		}
	f = calloc(1, sizeof(*f));
	if (f) {
		memcpy(f->name, c->name, sizeof(f->name));
		f->who = c->who;
		f->keep = true;
		LIST_INSERT_HEAD(&t->refusals[bucket(c->name)], f, link);
	}
	return false;
}

/* Give @c's name to @c. Return: 1 when that changed it, 0, or -ENOMEM. */
static int give(struct name_table *t, struct name_record *held, const struct name_claim *c)
{
	if (!held) {
		held = calloc(1, sizeof(*held));
		if (!held)
			return -ENOMEM;
		memcpy(held->name, c->name, sizeof(held->name));
		LIST_INSERT_HEAD(&t->records[bucket(c->name)], held, link);
		LIST_INSERT_HEAD(&t->by_port[port_bucket(c->port)], held, port_link);
		held->port = c->port;
		t->n++;
		held->address = ~c->address; /* so that it counts as changed */
	}
	held->keep = true;
	if (held->port != c->port) {
		LIST_REMOVE(held, port_link);
		LIST_INSERT_HEAD(&t->by_port[port_bucket(c->port)], held, port_link);
		held->port = c->port;
		held->address = ~c->address; /* another port's now: a change even at one address */
	}
	held->from_host = c->from_host;
	if (held->address == c->address)
		return 0;
	held->address = c->address;
	return 1;
}

/* Drop records and refusals no claim kept. Return: whether a record went. */
static bool sweep(struct name_table *t)
{
	bool changed = false;

	for (size_t i = 0; i < NAMES_BUCKETS; i++) {
		struct name_record *r, *rn;
		struct name_refusal *f, *fn;

		for (r = LIST_FIRST(&t->records[i]); r; r = rn) {
			rn = LIST_NEXT(r, link);
			if (r->keep) {
				r->keep = false;
				continue;
			}
			LIST_REMOVE(r, link);
			LIST_REMOVE(r, port_link);
			free(r);
			t->n--;
			changed = true;
		}
		for (f = LIST_FIRST(&t->refusals[i]); f; f = fn) {
			fn = LIST_NEXT(f, link);
			if (f->keep) {
				f->keep = false;
				continue;
			}
			LIST_REMOVE(f, link);
			free(f);
		}
	}
	return changed;
}

int names_assign(struct name_table *t, struct name_claim *claims, size_t n,
		 names_refused_fn refused, void *userdata)
{
	bool changed = false;
	size_t i = 0;

	qsort(claims, n, sizeof(*claims), claim_cmp);
	while (i < n) {
		size_t j = i;
		struct name_record *held = names_find(t, claims[i].name);
		const struct name_claim *w;
		int r;

		while (j < n && streq(claims[j].name, claims[i].name))
			j++;
		w = winner(&claims[i], j - i, held);
		r = give(t, held, w);
		if (r < 0)
			return r;
		changed = changed || r > 0;
		held = names_find(t, w->name);
		for (size_t k = i; k < j; k++)
			/* Behind the winner's port: the same VM, not a rival. */
			if ((claims[k].port != w->port || !w->port) && &claims[k] != w &&
			    !refused_before(t, &claims[k]) && refused)
				refused(&claims[k], held, userdata);
		i = j;
	}
	return sweep(t) || changed;
}

/* names.h - which guest is called what on a network: first come, one name each (pure) */
#ifndef VMNET_NAMES_H
#define VMNET_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "dns-name.h"

#define NAMES_BUCKETS 256

/* One wish for a name: a port's label, or the host name a guest sent in DHCP. */
struct name_claim {
	char name[DNS_LABEL_MAX + 1]; /* a valid label (dns_label_is_valid()), lower case */
	uint32_t address;             /* host byte order */
	const void *port;             /* the port it comes from; NULL: behind no port known */
	bool from_host;               /* the guest's own host name; else the port's label */
	uint64_t seq;                 /* when it was first made: the earlier one is first */
	uint64_t who;                 /* who wants it, to say once that it was refused */
};

/* A name given: NAME.domain is @address. */
struct name_record {
	LIST_ENTRY(name_record) link;
	LIST_ENTRY(name_record) port_link; /* in the index by port */
	char name[DNS_LABEL_MAX + 1];
	uint32_t address;
	const void *port;
	bool from_host;
	bool keep; /* claimed again in this round */
};

/* A claim refused, remembered so that it is said once. */
struct name_refusal {
	LIST_ENTRY(name_refusal) link;
	char name[DNS_LABEL_MAX + 1];
	uint64_t who;
	bool keep;
};

struct name_table {
	LIST_HEAD(, name_record) records[NAMES_BUCKETS];
	LIST_HEAD(, name_record) by_port[NAMES_BUCKETS];
	LIST_HEAD(, name_refusal) refusals[NAMES_BUCKETS];
	size_t n;
};

/* Called for a claim refused for the first time; @owner has the name. */
typedef void (*names_refused_fn)(const struct name_claim *c, const struct name_record *owner,
				 void *userdata);

void names_init(struct name_table *t);
void names_clear(struct name_table *t);

/**
 * names_assign() - give names to @claims (@n of them), as fairly as last time
 *
 * A name stays with the port that has it while that port still claims
 * it: no guest takes another's name. Behind one port (one VM and what
 * runs inside it) the guest's own host name wins over the port's label,
 * and of two host names the newer: a guest that changed its MAC keeps
 * its name. A name nobody holds goes to the earliest claim. A port's
 * label names the port's guest; two claims of one port for one name at
 * one address are one. @refused hears of each claim refused, once.
 * Return: whether any name changed (its address, or it came or went), or
 * -ENOMEM (the table then holds part of the change).
 */
int names_assign(struct name_table *t, struct name_claim *claims, size_t n,
		 names_refused_fn refused, void *userdata);
struct name_record *names_find(const struct name_table *t, const char *name);
/* @port is gone: its names are nobody's (the next names_assign() gives them on). Return: whether it had any. */
bool names_drop_port(struct name_table *t, const void *port);
/* The first name of @port, and the next after @r; NULL when there is none. */
struct name_record *names_of_port(const struct name_table *t, const void *port);
struct name_record *names_next_of_port(const struct name_record *r);
/* Every name, in no order: @r NULL for the first. NULL after the last. */
struct name_record *names_next(const struct name_table *t, const struct name_record *r);

#endif

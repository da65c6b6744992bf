/* state.h - what the daemon records in its state dir so the next daemon can adopt it */
#ifndef VMNET_STATE_H
#define VMNET_STATE_H

#include <jansson.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "pool.h"
#include "protocol.h"

/*
 * The snapshot's format only gained keys a version 1 reader ignores
 * (a lease's "id", a network's "span"), so it stays 1: a daemon of before the journal still
 * adopts what the snapshot holds (docs/design.md, *Downgrade*).
 */
#define STATE_VERSION 1

struct state_lease {
	uint64_t id; /* unique in the state dir; 0: none recorded (an older daemon's file) */
	enum port_kind kind;
	char ifname[IFNAMSIZ];
	int ifindex;
	uint8_t mac[6];
	unsigned int host; /* 0: no address */
	uid_t uid;
	pid_t pid;
	char label[LABEL_MAX + 1];
	bool persistent; /* outlives its connection (absent in an older daemon's record) */
	struct port_forward forwards[REQUEST_FORWARDS_MAX]; /* the lease's port_forwards */
	unsigned int n_forwards;
};

/* A span's overlay as recorded; vni 0: the network spans no hosts. */
struct state_span {
	uint32_t vni;
	char vxlan[IFNAMSIZ];
	int vxlan_ifindex; /* 0: not yet created */
	uint32_t local;    /* this host's underlay address, host byte order */
};

struct state_network {
	char name[NETWORK_NAME_MAX + 1];
	enum network_mode mode;
	char bridge[IFNAMSIZ];
	int bridge_ifindex;
	uint8_t bridge_mac[6];
	struct prefix4 subnet;
	uint8_t ula[16];
	unsigned int mtu;
	bool dhcp;
	bool has_range;           /* "dhcp_range" recorded (a daemon of before it records none) */
	unsigned int range_first; /* host numbers; 0 and 0: no range */
	unsigned int range_last;
	bool has_domain;                 /* "domain" recorded */
	char domain[DNS_DOMAIN_MAX + 1]; /* "": no names */
	pid_t dnsmasq_pid;               /* 0: none */
	struct state_span span;
	struct state_lease *leases;
	size_t n_leases;
	size_t leases_alloc; /* room in @leases, for state_replay() */
	/* Set by state_load_all(): lines of NAME.journal skipped, or why it could not be read. */
	int journal_skipped;
	int journal_error;
};

/**
 * state_parse() - one NAME.state document into @ret (pure)
 * Return: 0, or -EINVAL for anything malformed (the file is then ignored),
 * or -ENOMEM.
 */
int state_parse(const char *text, size_t len, struct state_network *ret);
/**
 * state_replay() - apply the lines of a NAME.journal to @n, in order (pure)
 *
 * A line is {"add": LEASE} (LEASE as in the snapshot, with its "id") or
 * {"del": ID}, and ends with a newline. Replaying is idempotent, since a
 * crash may leave lines the snapshot holds already: an add replaces the
 * lease of the same id, a del of an unknown id does nothing. A line cut
 * short (no newline: the daemon died writing it) or malformed is skipped.
 * Return: the number of lines skipped, or -ENOMEM (@n then holds part of
 * the journal).
 */
int state_replay(struct state_network *n, const char *text, size_t len);
void state_network_clear(struct state_network *n);

/* Write @doc as DIR/NAME.state, atomically (rename). Return: 0 or negative errno. */
int state_save(const char *dir, const char *name, json_t *doc);
/**
 * state_journal_open() - DIR/NAME.journal for appending, emptied
 * Return: the fd, or negative errno.
 */
int state_journal_open(const char *dir, const char *name);
/* Empty the journal @fd once a snapshot holds what it says. Return: 0 or negative errno. */
int state_journal_reset(int fd);
/* Remove DIR/NAME.journal, when it cannot be emptied; a missing file is fine. */
void state_journal_remove(const char *dir, const char *name);
/**
 * state_journal_add() - append {"add": @lease} to the journal @fd, one write()
 * Return: 0, or negative errno (-EIO: written in part).
 */
int state_journal_add(int fd, json_t *lease);
/* Append {"del": @id}, one write(). Return: 0, or negative errno (-EIO: written in part). */
int state_journal_del(int fd, uint64_t id);
/* Remove DIR/NAME.state and DIR/NAME.journal; missing files are fine. */
void state_forget(const char *dir, const char *name);
/**
 * state_load_all() - every readable, well-formed DIR/ *.state, with its
 * NAME.journal replayed
 * Return: 0 with a malloc'ed array (clear each, then free), or negative errno.
 */
int state_load_all(const char *dir, struct state_network **ret, size_t *ret_n);

#endif

/* record.h - a network's record in the state dir: a snapshot when due, else a journal line */
#ifndef VMNET_RECORD_H
#define VMNET_RECORD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The snapshot (STATE/NAME.state) holds a network and all its leases;
 * the journal (STATE/NAME.journal) the lease changes since, one line
 * each. The owner (network.c) makes the documents; this decides which
 * file gets what.
 */
struct record {
	const char *dir;  /* the state dir; borrowed */
	const char *name; /* the network's; borrowed */
	int journal_fd;   /* open from the first snapshot on */
	size_t lines;     /* lease changes appended since that snapshot */
	pid_t saved_pid;  /* dnsmasq's pid, as the snapshot says */
};

void record_init(struct record *r, const char *dir, const char *name);
/* Close the journal; the files stay, for the next daemon. */
void record_close(struct record *r);
/* Close the journal and remove both files: the network is gone. */
void record_forget(struct record *r);

/**
 * record_snapshot() - write @doc as the snapshot, then empty the journal
 * @dnsmasq_pid:	the pid @doc records
 *
 * The journal is opened the first time. One that cannot be emptied is
 * removed: its lines replayed over the newer snapshot could bring back a
 * lease that ended since; changes are then snapshots until it opens.
 * Return: 0 or negative errno (logged), when the snapshot failed.
 */
int record_snapshot(struct record *r, json_t *doc, pid_t dnsmasq_pid);

/**
 * record_lease_added() - record a new lease before its reply leaves
 * @line:	the lease's record (lease_record_json()); NULL when that failed
 * @n_leases:	the network's leases now
 * @dnsmasq_pid: the network's dnsmasq's pid now
 *
 * A journal line, O(1), when there is a journal and the line is written
 * whole. Otherwise (a new network, a torn line: the lines after it would
 * be lost with it), and also after the line when the journal grew long or
 * dnsmasq's pid changed, a snapshot is due: the caller writes one with
 * record_snapshot().
 * Return: 0, or 1 when a snapshot is due.
 */
int record_lease_added(struct record *r, json_t *line, size_t n_leases, pid_t dnsmasq_pid);
/* The same for lease @id that ended. */
int record_lease_removed(struct record *r, uint64_t id, size_t n_leases, pid_t dnsmasq_pid);

#endif

/* record.c - a network's record in the state dir: a snapshot when due, else a journal line
 *
 * A snapshot costs O(leases), a journal line O(1). A snapshot is due
 * after max(64, 2 x the leases) lines, so a lease change costs O(1)
 * amortised and the journal is never much longer than the snapshot.
 * Neither file is fsync()ed: the state dir is tmpfs, and the record must
 * outlive the daemon, not the machine (docs/design.md, *Restart without
 * loss*).
 */
#include <errno.h>

#include "log.h"
#include "record.h"
#include "state.h"
#include "util.h"

#define log_record_warning_errno(r, error, fmt, ...) \
	log_named_full_errno("network", (r)->name, LOG_WARNING, error, fmt, ##__VA_ARGS__)
#define log_record_error_errno(r, error, fmt, ...) \
	log_named_full_errno("network", (r)->name, LOG_ERR, error, fmt, ##__VA_ARGS__)

void record_init(struct record *r, const char *dir, const char *name)
{
	*r = (struct record){ .dir = dir, .name = name, .journal_fd = -EBADF };
}

void record_close(struct record *r)
{
	r->journal_fd = safe_close(r->journal_fd);
}

void record_forget(struct record *r)
{
	record_close(r);
	state_forget(r->dir, r->name);
}

/* The snapshot now holds all the journal said: empty it, or open it for the first time. */
static int reset_journal(struct record *r)
{
	int k;

	r->lines = 0;
	if (r->journal_fd >= 0) {
		k = state_journal_reset(r->journal_fd);
	} else {
		k = state_journal_open(r->dir, r->name);
		if (k >= 0) {
			r->journal_fd = k;
			k = 0;
		}
	}
	if (k < 0) {
		record_close(r);
		state_journal_remove(r->dir, r->name);
		log_record_warning_errno(r, k,
					 "Failed to reset the state journal, recording "
					 "snapshots only: %m");
	}
	return k;
}

int record_snapshot(struct record *r, json_t *doc, pid_t dnsmasq_pid)
{
	int k;

	if (!doc)
		return log_record_error_errno(r, -ENOMEM, "Failed to record state: %m");
	k = state_save(r->dir, r->name, doc);
	if (k < 0)
		return log_record_error_errno(r, k, "Failed to record state: %m");
	r->saved_pid = dnsmasq_pid;
	/* Failing is fine: the snapshot has it all, later changes make snapshots. */
	(void)reset_journal(r);
	return 0;
}

static size_t journal_limit(size_t n_leases)
{
	return n_leases > 32 ? 2 * n_leases : 64;
}

/* What one journal append (@k: its result) means for the record. Return: 1 when a snapshot is due. */
static int appended(struct record *r, int k, size_t n_leases, pid_t dnsmasq_pid)
{
	if (k < 0) {
		log_record_warning_errno(r, k,
					 "Failed to append to the state journal, writing "
					 "a snapshot: %m");
		/* Reopened (emptied) by the snapshot, or by the next one if it fails. */
		record_close(r);
		return 1;
	}
	r->lines++;
	return r->lines > journal_limit(n_leases) || dnsmasq_pid != r->saved_pid;
}

int record_lease_added(struct record *r, json_t *line, size_t n_leases, pid_t dnsmasq_pid)
{
	if (r->journal_fd < 0)
		return 1;
	return appended(r, line ? state_journal_add(r->journal_fd, line) : -ENOMEM, n_leases,
			dnsmasq_pid);
}

int record_lease_removed(struct record *r, uint64_t id, size_t n_leases, pid_t dnsmasq_pid)
{
	if (r->journal_fd < 0)
		return 1;
	return appended(r, state_journal_del(r->journal_fd, id), n_leases, dnsmasq_pid);
}

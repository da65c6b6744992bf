/* log.h - leveled logging to stderr, with sd-daemon priority prefixes for journald */
#ifndef VMNET_LOG_H
#define VMNET_LOG_H

#include <syslog.h>

#include "util.h"

/* The one global: how much to print (LOG_ERR .. LOG_DEBUG). */
extern int log_max_level;

/**
 * log_parse_level() - "debug", "info", "notice", "warning", "err"/"error", or 0-7
 * Return: the level, or -EINVAL.
 */
int log_parse_level(const char *s);
/* Prefix lines with "<N>" (sd-daemon.h) so journald keeps the priority. */
void log_set_journal_prefix(bool on);

/**
 * log_full_errno() - print one line at @level; "%m" expands to strerror(-@error)
 * Return: @error when it is negative, else -EIO... (so callers can `return log_..._errno(r, ...)`)
 */
int log_full_errno(int level, int error, const char *fmt, ...) _printf_(3, 4);

#define log_full(level, ...) ((void)log_full_errno((level), 0, __VA_ARGS__))
#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)
#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, (e), __VA_ARGS__)

/*
 * A line about one object begins with it in brackets, "[network shared]
 * Created: ...", as systemd's log_link_*(). The objects' headers build
 * their helpers on this: log_network_*() and log_lease_*() (network.h),
 * log_client_*() (server.h).
 */
#define log_named_full_errno(kind, name, level, error, fmt, ...) \
	log_full_errno((level), (error), "[" kind " %s] " fmt, (name), ##__VA_ARGS__)

#endif

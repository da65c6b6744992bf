/* log.c - leveled logging to stderr */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Process-wide, as stderr is: set once in main(), read by every module. */
int log_max_level = LOG_INFO;
static bool journal_prefix;

int log_parse_level(const char *s)
{
	static const char *const names[] = {
		"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
	};

	if (!s || !*s)
		return -EINVAL;
	if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
		return s[0] - '0';
	if (streq(s, "error"))
		return LOG_ERR;
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (streq(s, names[i]))
			return (int)i;
	return -EINVAL;
}

void log_set_journal_prefix(bool on)
{
	journal_prefix = on;
}

int log_full_errno(int level, int error, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (level > log_max_level)
		return error < 0 ? error : -EIO;

	/* %m in fmt reads errno: make it name @error, not whatever came last. */
	errno = error < 0 ? -error : error;
	if (journal_prefix)
		fprintf(stderr, "<%d>", level);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	errno = saved;
	return error < 0 ? error : -EIO;
}

/* util.h - cleanup attributes, ownership transfer and small helpers */
#ifndef VMNET_UTIL_H
#define VMNET_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Functions return 0, a positive code for an expected outcome of their
 * module, or a negative errno. Each module's codes have a range of their
 * own, so that request.c turns any of them into a status in one switch
 * (a code used twice fails to compile there): protocol 100, pool 200,
 * config 300, access 400, port 500, address 600, network 700, broker 800,
 * forward 900, guest 1000, span 1100, frr 1200.
 */

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _unused_ __attribute__((unused))
#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

static inline void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

/* free(@p); Return: NULL, for `x = mfree(x);`. */
static inline void *mfree(void *p)
{
	free(p);
	return NULL;
}

static inline void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

/* Close @fd if it is open; always returns -EBADF, the "not open" value. */
static inline int safe_close(int fd)
{
	if (fd >= 0) {
		int saved = errno;
		(void)close(fd);
		errno = saved;
	}
	return -EBADF;
}

static inline void closep(int *fd)
{
	safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

/* Move ownership out of a cleanup-managed local. */
#define TAKE_PTR(p)                      \
	({                               \
		__typeof__(p) _p_ = (p); \
		(p) = NULL;              \
		_p_;                     \
	})
#define TAKE_FD(fd)              \
	({                       \
		int _fd_ = (fd); \
		(fd) = -EBADF;   \
		_fd_;            \
	})

static inline bool streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

#endif

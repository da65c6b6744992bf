/* access.c - who may use a network: allowed_users and allowed_groups against the peer */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>

#include "access.h"
#include "util.h"

/* A decimal id (config.c checked the syntax), or -1 when @s is a name. */
static long long numeric_id(const char *s)
{
	char *end;
	unsigned long long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	return errno || *end ? -1 : (long long)v;
}

static bool user_matches(const char *s, uid_t uid)
{
	long long id = numeric_id(s);
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (id >= 0)
		return (uid_t)id == uid;
	return getpwnam_r(s, &pw, buf, sizeof(buf), &res) == 0 && res && res->pw_uid == uid;
}

/* Return: the gid of group @s, or (gid_t)-1 when there is no such group. */
static gid_t group_id(const char *s)
{
	long long id = numeric_id(s);
	struct group gr, *res = NULL;
	_cleanup_free_ char *buf = NULL;
	size_t size = 4096;
	int r;

	if (id >= 0)
		return (gid_t)id;
	/* Member lists make group entries large: grow until it fits. */
	for (;;) {
		free(buf);
		buf = malloc(size);
		if (!buf)
			return (gid_t)-1;
		r = getgrnam_r(s, &gr, buf, size, &res);
		if (r != ERANGE || size >= 1 << 20)
			return r == 0 && res ? res->gr_gid : (gid_t)-1;
		size *= 2;
	}
}

static bool in_groups(gid_t g, const struct access_peer *p)
{
	if (g == p->gid)
		return true;
	for (size_t i = 0; i < p->n_groups; i++)
		if (p->groups[i] == g)
			return true;
	return false;
}

bool access_listed(char *const *users, size_t n_users, char *const *groups, size_t n_groups,
		   const struct access_peer *p)
{
	for (size_t i = 0; i < n_users; i++)
		if (user_matches(users[i], p->uid))
			return true;
	for (size_t i = 0; i < n_groups; i++) {
		gid_t g = group_id(groups[i]);

		if (g != (gid_t)-1 && in_groups(g, p))
			return true;
	}
	return false;
}

int access_check(const struct network_config *c, const struct access_peer *p)
{
	if (p->uid == 0 || !c->restricted)
		return 0;
	return access_listed(c->allowed_users, c->n_allowed_users, c->allowed_groups,
			     c->n_allowed_groups, p)
		       ? 0
		       : ACCESS_E_DENIED;
}

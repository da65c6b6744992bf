/* dnsmasq-env.c - how dnsmasq starts: its environment (with dnsmasq-preload.so), its
 * account, and the private directory of its files
 *
 * Each dnsmasq gets dnsmasq-preload.so (see dnsmasq-preload.c), so that
 * its rtnetlink socket joins no multicast groups and the address and
 * route events of the namespace do not wake every network's dnsmasq. The
 * library is preloaded into a process that starts as root: only a copy
 * that root owns and nobody else may write is used.
 *
 * dnsmasq starts as root, binds, opens its lease file, writes its pid
 * file, and drops to its account; as that account it rereads the hosts
 * file on SIGHUP. Those files name every guest's MAC and address, which
 * `status` shows only to the lease's owner: so they live in a directory
 * of their own that root owns, mode 0750, which a POSIX ACL opens to
 * dnsmasq's account alone. A group would do as well, were it not that
 * files made later would need chown() (the daemon keeps no CAP_CHOWN)
 * or a setgid directory (which the unit's RestrictSUIDSGID= forbids).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "dnsmasq-env.h"
#include "log.h"
#include "proc.h"
#include "util.h"

#define PRELOAD_NAME "dnsmasq-preload.so"
#define LD_PRELOAD_EQ "LD_PRELOAD="

extern char **environ;

struct dnsmasq_env {
	bool made;             /* dnsmasq_env_get() has looked for the library */
	bool checked;          /* dnsmasq_env_check() has looked at a dnsmasq */
	char **env;            /* environ with our LD_PRELOAD; NULL: environ as it is */
	char *ld_preload;      /* env's LD_PRELOAD= entry, the one string env owns */
	char beside[PATH_MAX]; /* the library beside the daemon's executable */
	char *user;            /* dnsmasq's --user, --group; NULL: its defaults */
	char *group;
	mode_t file_mode; /* of the hosts files: 0640, or 0644 where the directory is open */
};

int dnsmasq_env_new(struct dnsmasq_env **ret)
{
	struct dnsmasq_env *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->file_mode = 0644;
	*ret = e;
	return 0;
}

struct dnsmasq_env *dnsmasq_env_free(struct dnsmasq_env *e)
{
	if (!e)
		return NULL;
	free(e->ld_preload);
	free(e->env);
	free(e->user);
	free(e->group);
	free(e);
	return NULL;
}

/* A library to preload into a process running as root: root's, and
 * writable by nobody else. */
static bool trusted_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 &&
	       !(st.st_mode & (S_IWGRP | S_IWOTH));
}

/*
 * Where dnsmasq-preload.so is: beside the daemon's own executable when it
 * runs from the build tree, else where it is installed. NULL if neither:
 * dnsmasq then works as well, only woken by every address and route event
 * in the namespace (dnsmasq-preload.c).
 */
static const char *find_preload(struct dnsmasq_env *e)
{
	ssize_t n = readlink("/proc/self/exe", e->beside, sizeof(e->beside));
	char *slash = NULL;

	if (n > 0 && (size_t)n < sizeof(e->beside) - sizeof(PRELOAD_NAME)) {
		e->beside[n] = 0;
		slash = strrchr(e->beside, '/');
	}
	if (slash) {
		strcpy(slash + 1, PRELOAD_NAME);
		if (trusted_file(e->beside))
			return e->beside;
	}
	if (trusted_file(DNSMASQ_PRELOAD))
		return DNSMASQ_PRELOAD;
	log_warning("No %s beside the daemon or at %s that only root can write: each dnsmasq "
		    "will wake for every address and route change",
		    PRELOAD_NAME, DNSMASQ_PRELOAD);
	return NULL;
}

/* environ, with LD_PRELOAD= @lib appended to what it preloads. */
static int make_env(struct dnsmasq_env *e, const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	_cleanup_free_ char **env = NULL;
	size_t n = 0, k = 0;

	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(char *));
	if (!env)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], LD_PRELOAD_EQ, strlen(LD_PRELOAD_EQ)) != 0)
			env[k++] = environ[i];
	if (asprintf(&e->ld_preload, LD_PRELOAD_EQ "%s%s%s", old && *old ? old : "",
		     old && *old ? ":" : "", lib) < 0) {
		e->ld_preload = NULL;
		return -ENOMEM;
	}
	env[k] = e->ld_preload;
	e->env = TAKE_PTR(env);
	return 0;
}

char **dnsmasq_env_get(struct dnsmasq_env *e)
{
	const char *lib;

	if (e->made)
		return e->env ? e->env : environ;
	e->made = true;
	lib = find_preload(e);
	if (lib && make_env(e, lib) < 0)
		log_warning("Out of memory: dnsmasq starts without %s", lib);
	return e->env ? e->env : environ;
}

/*
 * A loader that ignores LD_PRELOAD (a security module's exec transition,
 * say) would leave dnsmasq in rtnetlink's groups without a word. Its
 * socket is the rtnetlink one whose port id is its pid (autobind's first
 * choice), in our own namespace's /proc/net/netlink.
 */
void dnsmasq_env_check(struct dnsmasq_env *e, pid_t pid)
{
	unsigned int groups;

	if (e->checked || !e->env)
		return;
	e->checked = true;
	if (proc_netlink_groups(NETLINK_ROUTE, (unsigned int)pid, &groups) == 0 && groups)
		log_warning("dnsmasq %d ignored %s (rtnetlink groups %#x): each dnsmasq "
			    "will wake for every address and route change",
			    (int)pid, PRELOAD_NAME, groups);
}

/* ---- the account and the directory */

const char *dnsmasq_env_user(const struct dnsmasq_env *e)
{
	return e->user;
}

const char *dnsmasq_env_group(const struct dnsmasq_env *e)
{
	return e->group;
}

mode_t dnsmasq_env_file_mode(const struct dnsmasq_env *e)
{
	return e->file_mode;
}

/* The first account of DNSMASQ_USER, "dnsmasq", "nobody" that exists, with its group. */
static int find_account(struct dnsmasq_env *e, uid_t *ret_uid)
{
	static const char *const users[] = { DNSMASQ_USER, "dnsmasq", "nobody" };

	for (size_t i = 0; i < ELEMENTSOF(users); i++) {
		struct passwd *pw = getpwnam(users[i]);
		struct group *gr;

		if (!pw)
			continue;
		/* dnsmasq takes names, not numbers: the group needs one too. */
		gr = getgrgid(pw->pw_gid);
		if (!gr)
			continue;
		e->user = strdup(pw->pw_name);
		e->group = strdup(gr->gr_name);
		if (!e->user || !e->group)
			return -ENOMEM;
		*ret_uid = pw->pw_uid;
		return (int)i;
	}
	return -ENOENT;
}

/* One POSIX ACL, as the kernel takes it in its xattr: root's, and @uid's to read. */
static int set_acl(int fd, const char *name, uid_t uid, unsigned int obj_perm)
{
	static const struct {
		uint16_t tag;
		uint16_t perm;
	} shape[] = {
		/* In the kernel's order: by tag, then id. */
		{ ACL_USER_OBJ, 0 },
		{ ACL_USER, ACL_READ | ACL_EXECUTE },
		{ ACL_GROUP_OBJ, ACL_READ | ACL_EXECUTE },
		{ ACL_MASK, ACL_READ | ACL_EXECUTE },
		{ ACL_OTHER, 0 },
	};
	struct {
		struct posix_acl_xattr_header h;
		struct posix_acl_xattr_entry v[ELEMENTSOF(shape)];
	} acl = { .h.a_version = htole32(POSIX_ACL_XATTR_VERSION) };

	for (size_t i = 0; i < ELEMENTSOF(shape); i++)
		acl.v[i] = (struct posix_acl_xattr_entry){
			.e_tag = htole16(shape[i].tag),
			.e_perm = htole16(shape[i].tag == ACL_USER_OBJ ? obj_perm : shape[i].perm),
			/* Only a named user has an id; the others, -1. */
			.e_id = htole32(shape[i].tag == ACL_USER ? (uint32_t)uid : UINT32_MAX),
		};
	return fsetxattr(fd, name, &acl, sizeof(acl), 0) < 0 ? -errno : 0;
}

/* STATE/DNSMASQ_DIR, root's and 0750 (whatever an earlier run left), as an fd. */
static int open_dir(const char *state_dir, int *ret)
{
	_cleanup_close_ int sfd = -EBADF, fd = -EBADF;
	struct stat st;

	sfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return -errno;
	if (mkdirat(sfd, DNSMASQ_DIR, 0750) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(sfd, DNSMASQ_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_uid != geteuid())
		return -EPERM; /* only we make it: someone else's is no place for our files */
	if (fchmod(fd, 0750) < 0)
		return -errno;
	*ret = TAKE_FD(fd);
	return 0;
}

int dnsmasq_env_prepare(struct dnsmasq_env *e, const char *state_dir)
{
	_cleanup_close_ int fd = -EBADF;
	uid_t uid = 0;
	int which, r;

	which = find_account(e, &uid);
	if (which == -ENOMEM)
		return which;
	if (which < 0)
		log_warning("No account '" DNSMASQ_USER "', 'dnsmasq' or 'nobody': dnsmasq keeps "
			    "its own default user");
	else if (which > 0)
		log_warning("No account '" DNSMASQ_USER "' (the vmnet-broker package makes it, "
			    "systemd-sysusers): dnsmasq runs as '%s', which alone besides root may "
			    "read its hosts and lease files%s",
			    e->user,
			    streq(e->user, "nobody") ? ", and so may every process of that user" : "");
	r = open_dir(state_dir, &fd);
	if (r < 0)
		return log_error_errno(r, "Failed to make '%s/" DNSMASQ_DIR "' for dnsmasq: %m",
				       state_dir);
	if (which >= 0) {
		r = set_acl(fd, "system.posix_acl_access", uid, ACL_READ | ACL_WRITE | ACL_EXECUTE);
		if (r >= 0)
			r = set_acl(fd, "system.posix_acl_default", uid,
				    ACL_READ | ACL_WRITE | ACL_EXECUTE);
		if (r >= 0) {
			e->file_mode = 0640;
			return which == 0 ? DNSMASQ_PRIVATE : DNSMASQ_FALLBACK_USER;
		}
		log_warning_errno(r,
				  "Failed to give '%s' alone access to '%s/" DNSMASQ_DIR "' (ACL): %m; "
				  "dnsmasq's hosts and lease files are readable by every user",
				  e->user, state_dir);
	}
	/* dnsmasq, as whoever it is, must still reach its hosts file. */
	if (fchmod(fd, 0755) < 0)
		return log_error_errno(-errno, "Failed to open '%s/" DNSMASQ_DIR "' to dnsmasq: %m",
				       state_dir);
	e->file_mode = 0644;
	return DNSMASQ_WORLD;
}

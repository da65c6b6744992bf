/* config-dir.c - the NAME.json files of one directory, reread only when they change
 *
 * The daemon refreshes on every acquire and every `networks`, so a new or
 * edited file counts without a restart. A refresh is a readdir() and one
 * stat() per file; only files whose inode, size or modification time
 * changed are read and parsed again. The daemon also watches the
 * directory with inotify: then a refresh with no event queued does
 * nothing (with 40 files, a scan costs about 100 us of every acquire).
 * The parsing itself is config.c.
 *
 * Trust. A network file says who may use a network and which host ports
 * it takes, and the daemon is root: a file that anyone but root could
 * write would let them admit themselves. So the directory must be root's
 * and not writable by group or others (sticky or not), and so must each
 * file. A file is looked at without following a symlink first
 * (fstatat()), then opened O_PATH (which opens no FIFO and no device),
 * checked on that fd, and only then opened for reading through
 * /proc/self/fd: what is checked is what is read, and a FIFO or a device
 * node is never opened, even when a symlink leads to one. `networks`
 * shows every file's errors to every client, so errors quote a file's
 * text only when everyone may read the file (CONFIG_PARSE_HIDE).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-dir.h"
#include "util.h"

#define SUFFIX ".json"

int config_dir_new(const char *path, struct config_dir **ret)
{
	struct config_dir *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->path = strdup(path);
	if (!d->path) {
		free(d);
		return -ENOMEM;
	}
	d->inotify_fd = -EBADF;
	d->owner = 0;
	*ret = d;
	return 0;
}

void config_dir_quote_all(struct config_dir *d)
{
	d->quote_all = true;
}

static void entry_clear(struct config_entry *e)
{
	free(e->path);
	network_config_clear(&e->config);
	config_errors_clear(&e->own);
	config_errors_clear(&e->errors);
}

struct config_dir *config_dir_free(struct config_dir *d)
{
	if (!d)
		return NULL;
	for (size_t i = 0; i < d->n; i++)
		entry_clear(&d->v[i]);
	free(d->v);
	free(d->path);
	free(d->dir_error);
	safe_close(d->inotify_fd);
	free(d);
	return NULL;
}

#define WATCH_MASK                                                                        \
	(IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_MOVED_FROM | \
	 IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF)

void config_dir_watch(struct config_dir *d)
{
	if (d->inotify_fd < 0)
		d->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
}

/*
 * Return: true when the directory may have changed since the last refresh.
 * Drains the queued events; a directory gone or moved drops the watch,
 * and the next refresh, scanning, sets it again.
 */
static bool maybe_changed(struct config_dir *d)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *e;
	bool changed = false;
	ssize_t n;

	if (d->inotify_fd < 0 || !d->watching || d->has_links || !d->refreshed)
		return true;
	while ((n = read(d->inotify_fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n; p += sizeof(*e) + e->len) {
			e = (const struct inotify_event *)p;
			changed = true;
			if (e->mask & (IN_IGNORED | IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF))
				d->watching = false;
		}
	return changed;
}

/* Before a scan: a watch on the directory, if there is one to watch. */
static void rewatch(struct config_dir *d)
{
	if (d->inotify_fd < 0 || d->watching)
		return;
	/* Adding the watch again on the same inode returns the same one. */
	d->watching = inotify_add_watch(d->inotify_fd, d->path, WATCH_MASK | IN_ONLYDIR) >= 0;
}

static void stamp_of(const struct stat *st, struct config_stamp *ret)
{
	*ret = (struct config_stamp){
		.dev = st->st_dev, .ino = st->st_ino, .size = st->st_size, .mtime = st->st_mtim
	};
}

bool config_stamp_equal(const struct config_stamp *a, const struct config_stamp *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* The whole of @fd, which fstat() says is @size bytes, NUL-terminated. */
static int read_all(int fd, size_t size, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *buf = malloc(size + 1);
	size_t n = 0;

	if (!buf)
		return -ENOMEM;
	while (n < size) {
		ssize_t k = read(fd, buf + n, size - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break; /* shrank meanwhile: the next refresh sees the new stamp */
		n += (size_t)k;
	}
	buf[n] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = n;
	return 0;
}

/* "a FIFO": what a file of mode @m is, for a person. */
static const char *file_kind(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISLNK(m))
		return "a symlink";
	return "a special file";
}

/* One error of @e's file as a whole. Return: 0 or -ENOMEM. */
_printf_(2, 3) static int entry_error(struct config_entry *e, const char *fmt, ...)
{
	_cleanup_free_ char *reason = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&reason, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	return config_errors_add(&e->own, e->path, "", "%s", reason);
}

/*
 * Why a file of @st may not be trusted, into @buf (@link: it is a
 * symlink's target); NULL when it may. Whoever may write it could say
 * who may use its network.
 */
static const char *distrust(const struct config_dir *d, const struct stat *st, bool link, char *buf,
			    size_t size)
{
	const char *what = link ? "a symlink to a file " : "";

	if (st->st_uid != d->owner)
		snprintf(buf, size,
			 "%sowned by uid %u, not root: not used (whoever may write it could "
			 "change who may use the network: chown root)",
			 what, (unsigned)st->st_uid);
	else if (st->st_mode & (S_IWGRP | S_IWOTH))
		snprintf(buf, size,
			 "%swritable by group or others (mode %04o): not used (whoever may "
			 "write it could change who may use the network: chmod go-w)",
			 what, (unsigned)(st->st_mode & 07777));
	else
		return NULL;
	return buf;
}

/*
 * @e's file, for reading, into *@ret_fd, and its stat into @st; or 0 with
 * *@ret_fd -EBADF and the reason among @e's errors. FIFOs and devices are
 * never opened: O_PATH first, the checks on that fd, then the real open
 * of exactly that inode through /proc.
 */
static int entry_open(const struct config_dir *d, struct config_entry *e, int dfd, struct stat *st,
		      int *ret_fd)
{
	_cleanup_close_ int pfd = -EBADF;
	char file[NAME_MAX + sizeof(SUFFIX)], proc[64], why[256];
	struct stat lst;
	bool link;
	int fd;

	*ret_fd = -EBADF;
	snprintf(file, sizeof(file), "%s" SUFFIX, e->name);
	if (fstatat(dfd, file, &lst, AT_SYMLINK_NOFOLLOW) < 0)
		return entry_error(e, "cannot read: %s", strerror(errno));
	link = S_ISLNK(lst.st_mode);
	pfd = openat(dfd, file, O_PATH | O_CLOEXEC | (link ? 0 : O_NOFOLLOW));
	if (pfd < 0 || fstat(pfd, st) < 0)
		return link ? entry_error(e, "a symlink that leads nowhere (%s): not used",
					  strerror(errno))
			    : entry_error(e, "cannot read: %s", strerror(errno));
	stamp_of(st, &e->stamp);
	e->mode = st->st_mode;
	e->uid = st->st_uid;
	if (!S_ISREG(st->st_mode))
		return entry_error(e, "%s%s, not a regular file: not used",
				   link ? "a symlink to " : "", file_kind(st->st_mode));
	if (distrust(d, st, link, why, sizeof(why)))
		return entry_error(e, "%s", why);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	fd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return entry_error(e, "cannot read: %s", strerror(errno));
	*ret_fd = fd;
	return 0;
}

/* Every entry is listed under its own name and path, whatever is wrong with it. */
static int entry_placeholder(struct config_entry *e)
{
	struct network_config *c = &e->config;

	snprintf(c->name, sizeof(c->name), "%.*s", NETWORK_NAME_MAX, e->name);
	utf8_sanitize(c->name);
	c->mode = _MODE_MAX; /* none: `networks` shows no mode */
	c->source = strdup(e->path);
	if (!c->source)
		return -ENOMEM;
	utf8_sanitize(c->source);
	return 0;
}

static bool utf8_valid(const char *s)
{
	_cleanup_free_ char *copy = strdup(s);

	if (!copy)
		return true; /* cannot tell: the name's own check comes later */
	utf8_sanitize(copy);
	return streq(copy, s);
}

/* Read and parse @e's file into @e; its problems become its errors. */
static int entry_load(const struct config_dir *d, struct config_entry *e, int dfd)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *text = NULL;
	struct stat st;
	size_t len = 0;
	int r;

	r = entry_placeholder(e);
	if (r < 0)
		return r;
	/* JSON carries only UTF-8, and no network name is anything else. */
	if (!utf8_valid(e->name))
		return entry_error(e, "the file name is not valid UTF-8: not used (rename it)");
	if (d->dir_error)
		return entry_error(e, "%s", d->dir_error);
	r = entry_open(d, e, dfd, &st, &fd);
	if (r < 0 || fd < 0)
		return r;
	if (st.st_size > CONFIG_FILE_MAX)
		return entry_error(e, "larger than %d bytes", CONFIG_FILE_MAX);
	r = read_all(fd, (size_t)st.st_size, &text, &len);
	if (r < 0)
		return r == -ENOMEM ? r : entry_error(e, "cannot read: %s", strerror(-r));
	network_config_clear(&e->config);
	/* A client may quote back only what it could read itself. */
	r = config_parse_flags(e->name, e->path, text, len,
			       d->quote_all || (st.st_mode & S_IROTH) ? 0 : CONFIG_PARSE_HIDE,
			       &e->config, &e->own);
	e->config.stamp = e->stamp;
	return r < 0 ? r : 0;
}

static int entry_new(const struct config_dir *d, int dfd, const char *name, struct config_entry *ret)
{
	memset(ret, 0, sizeof(*ret));
	snprintf(ret->name, sizeof(ret->name), "%s", name);
	if (asprintf(&ret->path, "%s/%s" SUFFIX, d->path, name) < 0) {
		ret->path = NULL;
		return -ENOMEM;
	}
	return entry_load(d, ret, dfd);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The stems of every visible *.json of @dir, sorted; *@ret_links: some may be symlinks. */
static int list_names(DIR *dir, char ***ret, size_t *ret_n, bool *ret_links)
{
	char **v = NULL;
	size_t n = 0;
	struct dirent *de;

	*ret = NULL;
	*ret_n = 0;
	while ((de = readdir(dir))) {
		size_t len = strlen(de->d_name);
		char **g;

		/* Hidden files are editors' and package managers' business. */
		if (de->d_name[0] == '.' || len <= strlen(SUFFIX) ||
		    !streq(de->d_name + len - strlen(SUFFIX), SUFFIX))
			continue;
		if (de->d_type != DT_REG)
			*ret_links = true;
		g = realloc(v, (n + 1) * sizeof(*v));
		if (!g || !(g[n] = strndup(de->d_name, len - strlen(SUFFIX)))) {
			names_free(g ? g : v, n);
			return -ENOMEM;
		}
		v = g;
		n++;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_names);
	*ret = v;
	*ret_n = n;
	return 0;
}

/*
 * Why none of the files of directory @dfd may be used, malloc'ed into
 * *@ret; NULL when they may. Not its ancestors: /etc is root's, and a
 * test's temporary directory lives in /tmp.
 */
static int dir_distrust(const struct config_dir *d, int dfd, char **ret)
{
	struct stat st;
	int r = 0;

	*ret = NULL;
	if (fstat(dfd, &st) < 0)
		return -errno;
	if (st.st_uid != d->owner)
		r = asprintf(ret,
			     "the directory %s is owned by uid %u, not root: none of its files is used "
			     "(chown root %s)",
			     d->path, (unsigned)st.st_uid, d->path);
	else if (st.st_mode & (S_IWGRP | S_IWOTH))
		r = asprintf(ret,
			     "the directory %s is writable by group or others (mode %04o): none of its "
			     "files is used (chmod go-w %s)",
			     d->path, (unsigned)(st.st_mode & 07777), d->path);
	if (r < 0) {
		*ret = NULL;
		return -ENOMEM;
	}
	return 0;
}

static bool same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && streq(a, b));
}

/* Each entry's errors: its own, then those with other valid files. */
static int check_across(struct config_dir *d)
{
	_cleanup_free_ const struct network_config **cfgs =
		calloc(d->n + 1, sizeof(const struct network_config *));
	_cleanup_free_ struct config_errors *errs = calloc(d->n + 1, sizeof(*errs));
	_cleanup_free_ size_t *idx = calloc(d->n + 1, sizeof(*idx));
	size_t k = 0;
	int r = 0;

	if (!cfgs || !errs || !idx)
		return -ENOMEM;
	for (size_t i = 0; i < d->n; i++) {
		config_errors_clear(&d->v[i].errors);
		if (config_errors_append(&d->v[i].errors, &d->v[i].own) < 0)
			return -ENOMEM;
		if (d->v[i].own.n == 0) {
			idx[k] = i;
			cfgs[k++] = &d->v[i].config;
		}
	}
	r = config_check_files(cfgs, k, errs);
	for (size_t j = 0; j < k; j++) {
		if (r == 0)
			r = config_errors_append(&d->v[idx[j]].errors, &errs[j]);
		config_errors_clear(&errs[j]);
	}
	return r;
}

static struct config_entry *take_old(struct config_dir *d, const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].path && streq(d->v[i].name, name))
			return &d->v[i];
	return NULL;
}

/* Whether @old is still what @name of @dfd is: same file, size, time, owner and mode. */
static bool entry_unchanged(const struct config_entry *old, int dfd, const char *name)
{
	char file[NAME_MAX + sizeof(SUFFIX)];
	struct config_stamp now;
	struct stat st;

	snprintf(file, sizeof(file), "%s" SUFFIX, name);
	if (fstatat(dfd, file, &st, 0) < 0 && fstatat(dfd, file, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	stamp_of(&st, &now);
	return config_stamp_equal(&now, &old->stamp) && st.st_mode == old->mode &&
	       st.st_uid == old->uid;
}

/* The entries of @dir (NULL: no directory) into *@ret (*@ret_n). Return: 0, or negative errno. */
static int scan(struct config_dir *d, DIR *dir, struct config_entry **ret, size_t *ret_n,
		bool *ret_changed)
{
	struct config_entry *v = NULL;
	char **names = NULL;
	size_t n_names = 0, n = 0;
	bool links = false, changed;
	_cleanup_free_ char *why = NULL;
	int dfd = dir ? dirfd(dir) : -EBADF, r = 0;

	if (dir) {
		r = dir_distrust(d, dfd, &why);
		if (r >= 0)
			r = list_names(dir, &names, &n_names, &links);
		if (r < 0)
			return r;
	}
	d->has_links = links;
	v = calloc(n_names + 1, sizeof(*v));
	if (!v) {
		names_free(names, n_names);
		return -ENOMEM;
	}
	/* The directory's trust changed: every file's with it. */
	changed = n_names != d->n || !same_text(why, d->dir_error);
	free(d->dir_error);
	d->dir_error = TAKE_PTR(why);
	for (size_t i = 0; i < n_names && r >= 0; i++) {
		struct config_entry *old = take_old(d, names[i]);

		if (old && !changed && entry_unchanged(old, dfd, names[i])) {
			v[n++] = *old;
			memset(old, 0, sizeof(*old)); /* moved: path NULL marks it taken */
			continue;
		}
		r = entry_new(d, dfd, names[i], &v[n]);
		n++;
		changed = true;
	}
	names_free(names, n_names);
	*ret = v;
	*ret_n = n;
	*ret_changed = changed;
	return r;
}

int config_dir_refresh(struct config_dir *d)
{
	_cleanup_(closedirp) DIR *dir = NULL;
	struct config_entry *v = NULL;
	size_t n = 0;
	bool changed = false;
	int r;

	if (!maybe_changed(d))
		return 0;
	rewatch(d);
	dir = opendir(d->path);
	if (!dir && errno != ENOENT)
		return -errno;
	r = scan(d, dir, &v, &n, &changed);
	if (!v)
		return r;
	for (size_t i = 0; i < d->n; i++)
		entry_clear(&d->v[i]);
	free(d->v);
	d->v = v;
	d->n = n;
	/* The same files, unchanged: so are the errors between them. */
	if (r >= 0 && changed)
		r = check_across(d);
	/* Only a complete scan lets the next refresh trust the watch. */
	d->refreshed = r >= 0;
	return r;
}

const struct config_entry *config_dir_find(const struct config_dir *d, const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (streq(d->v[i].name, name))
			return &d->v[i];
	return NULL;
}

int config_dir_lookup(const struct config_dir *d, const char *name,
		      const struct network_config **ret, const struct config_entry **ret_entry)
{
	const struct network_config *b = config_builtin(name);
	const struct config_entry *e = config_dir_find(d, name);

	if (ret_entry)
		*ret_entry = e;
	if (b) {
		*ret = b; /* a file of a built-in's name is refused, never used */
		return 0;
	}
	if (!e)
		return CONFIG_E_NOT_FOUND;
	if (!config_entry_valid(e))
		return CONFIG_E_INVALID;
	*ret = &e->config;
	return 0;
}

int config_lookup(const char *config_dir, const char *name, struct network_config *ret)
{
	struct config_dir *d = NULL;
	const struct network_config *c = config_builtin(name);
	int r;

	if (c)
		return network_config_copy(ret, c);
	r = config_dir_new(config_dir, &d);
	if (r < 0)
		return r;
	r = config_dir_refresh(d);
	if (r >= 0)
		r = config_dir_lookup(d, name, &c, NULL);
	if (r == 0)
		r = network_config_copy(ret, c);
	else if (r > 0)
		r = CONFIG_E_NOT_FOUND;
	config_dir_free(d);
	return r;
}

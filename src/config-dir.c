/* config-dir.c - the NAME.json files of one directory, reread only when they change
 *
 * The daemon refreshes on every acquire and every `networks`, so a new or
 * edited file counts without a restart. A refresh is a readdir() and one
 * stat() per file; only files whose inode, size or modification time
 * changed are read and parsed again. The daemon also watches the
 * directory with inotify: then a refresh with no event queued does
 * nothing (with 40 files, a scan costs about 100 us of every acquire).
 * The parsing itself is config.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
	*ret = d;
	return 0;
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

/* Read and parse @e->path into @e; its problems become its errors. */
static int entry_load(struct config_entry *e)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *text = NULL;
	struct stat st;
	size_t len = 0;
	int r;

	fd = open(e->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0)
		return config_errors_add(&e->own, e->path, "", "cannot read: %s", strerror(errno));
	stamp_of(&st, &e->stamp);
	if (!S_ISREG(st.st_mode))
		return config_errors_add(&e->own, e->path, "", "not a regular file");
	if (st.st_size > CONFIG_FILE_MAX)
		return config_errors_add(&e->own, e->path, "", "larger than %d bytes", CONFIG_FILE_MAX);
	r = read_all(fd, (size_t)st.st_size, &text, &len);
	if (r < 0)
		return r == -ENOMEM ? r
				    : config_errors_add(&e->own, e->path, "", "cannot read: %s",
							strerror(-r));
	r = config_parse(e->name, e->path, text, len, &e->config, &e->own);
	e->config.stamp = e->stamp;
	return r < 0 ? r : 0;
}

static int entry_new(const char *dir, const char *name, struct config_entry *ret)
{
	memset(ret, 0, sizeof(*ret));
	snprintf(ret->name, sizeof(ret->name), "%s", name);
	if (asprintf(&ret->path, "%s/%s" SUFFIX, dir, name) < 0) {
		ret->path = NULL;
		return -ENOMEM;
	}
	return entry_load(ret);
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

/* The stems of every visible *.json in @path, sorted; *@ret_links: some may be symlinks. */
static int list_names(const char *path, char ***ret, size_t *ret_n, bool *ret_links)
{
	_cleanup_(closedirp) DIR *dir = opendir(path);
	char **v = NULL;
	size_t n = 0;
	struct dirent *de;

	*ret = NULL;
	*ret_n = 0;
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
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

int config_dir_refresh(struct config_dir *d)
{
	struct config_entry *v = NULL;
	char **names = NULL;
	size_t n_names = 0, n = 0;
	bool changed, links = false;
	int r;

	if (!maybe_changed(d))
		return 0;
	rewatch(d);
	r = list_names(d->path, &names, &n_names, &links);
	if (r < 0)
		return r;
	d->has_links = links;
	v = calloc(n_names + 1, sizeof(*v));
	if (!v) {
		names_free(names, n_names);
		return -ENOMEM;
	}
	changed = n_names != d->n;
	for (size_t i = 0; i < n_names && r >= 0; i++) {
		struct config_entry *old = take_old(d, names[i]);
		char path[PATH_MAX];
		struct config_stamp now;
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s" SUFFIX, d->path, names[i]);
		if (old && stat(path, &st) == 0 &&
		    (stamp_of(&st, &now), config_stamp_equal(&now, &old->stamp))) {
			v[n++] = *old;
			memset(old, 0, sizeof(*old)); /* moved: path NULL marks it taken */
			continue;
		}
		r = entry_new(d->path, names[i], &v[n]);
		n++;
		changed = true;
	}
	names_free(names, n_names);
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

/* config-dir.h - the NAME.json files of one directory, reread only when they change */
#ifndef VMNET_CONFIG_DIR_H
#define VMNET_CONFIG_DIR_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* One file of the directory, valid or not. */
struct config_entry {
	char name[NAME_MAX + 1]; /* the file name without ".json", as it is (maybe not UTF-8) */
	char *path;
	struct config_stamp stamp;
	mode_t mode; /* of the file (a symlink's target): trust changes with them alone */
	uid_t uid;
	struct network_config config; /* as far as the file allows, even when invalid */
	struct config_errors own;     /* the file's own errors */
	struct config_errors errors;  /* own ones, then those with other files: what to show */
};

struct config_dir {
	char *path;
	struct config_entry *v; /* sorted by name */
	size_t n;
	int inotify_fd;  /* config_dir_watch(): -EBADF when not watching */
	bool watching;   /* a watch is on the directory itself */
	bool has_links;  /* some entry is (or may be) a symlink: inotify misses their edits */
	bool refreshed;  /* at least once */
	char *dir_error; /* why none of the directory's files is used; NULL: they may be */
	uid_t owner;     /* whose files are trusted: root (a unit test, its own uid) */
	bool quote_all;  /* errors may quote any file: config_dir_quote_all() */
};

int config_dir_new(const char *path, struct config_dir **ret);
/*
 * Let errors quote the text of every file, readable by others or not: for
 * `vmnet-broker check-config`, which reads only what its user may read.
 * The daemon quotes only files that everyone may read, since `networks`
 * shows errors to every client.
 */
void config_dir_quote_all(struct config_dir *d);
struct config_dir *config_dir_free(struct config_dir *d);
/**
 * config_dir_watch() - let config_dir_refresh() skip a directory that did not change
 *
 * With an inotify watch on the directory, a refresh that finds no event
 * queued (read at once, so an edit made before a request always counts)
 * costs one read() instead of a readdir() and a stat() per file. Without a
 * watch (no directory yet, symlinked files, no inotify), refreshes scan.
 */
void config_dir_watch(struct config_dir *d);

/**
 * config_dir_refresh() - bring the entries up to date with the directory
 *
 * A file whose inode, size, modification time, owner and mode are
 * unchanged is not read again; a new or changed one is parsed, a removed
 * one dropped. Then the files are checked against each other. A missing
 * directory simply has no files.
 *
 * Only files that root owns and no one else may write are used: the
 * directory must be root's and not writable by group or others, each file
 * (or a symlink's target) too. Symlinks are followed only to such regular
 * files; FIFOs, sockets and device nodes are never opened. Any other file
 * is listed with an error saying why, under its own name and path.
 * Return: 0, or negative errno when the directory cannot be read (the
 * entries then stay as they were).
 */
int config_dir_refresh(struct config_dir *d);

static inline bool config_entry_valid(const struct config_entry *e)
{
	return e->errors.n == 0;
}

/* Same file, same size, same modification time: unchanged, as far as we care. */
bool config_stamp_equal(const struct config_stamp *a, const struct config_stamp *b);

const struct config_entry *config_dir_find(const struct config_dir *d, const char *name);

/**
 * config_dir_lookup() - the configuration of network @name: a built-in or a valid file
 * @ret:	borrowed; valid until the next refresh
 * @ret_entry:	the file, when there is one (also when it has errors); may be NULL
 * Return: 0, CONFIG_E_NOT_FOUND, or CONFIG_E_INVALID (*@ret_entry says why).
 */
int config_dir_lookup(const struct config_dir *d, const char *name,
		      const struct network_config **ret, const struct config_entry **ret_entry);

#endif

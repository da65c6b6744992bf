/* fuzz-main.c - replay corpus files through one fuzz harness, without libFuzzer
 *
 * Linked with each harness in the ordinary build, so `make check` runs every
 * committed seed (and any crash reproducer added to the corpus) through the
 * parser with the same checks the fuzzer makes. Arguments are files or
 * directories of files; no input at all is a failure, so a lost corpus shows.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "util.h"

#define INPUT_MAX (4 << 20)

static int run_file(int dir_fd, const char *name, const char *shown)
{
	_cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ uint8_t *buf = NULL;
	struct stat st;
	size_t len = 0;

	if (fd < 0 || fstat(fd, &st) < 0) {
		int r = -errno;

		fprintf(stderr, "%s: %m\n", shown);
		return r;
	}
	if (st.st_size > INPUT_MAX) {
		fprintf(stderr, "%s: larger than %d bytes\n", shown, INPUT_MAX);
		return -EFBIG;
	}
	/* One byte more, so that an empty input is a valid pointer too. */
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n <= 0) {
			fprintf(stderr, "%s: short read\n", shown);
			return -EIO;
		}
		len += (size_t)n;
	}
	LLVMFuzzerTestOneInput(buf, len);
	return 0;
}

static int run_path(const char *path, size_t *count)
{
	_cleanup_(closedirp) DIR *d = NULL;
	struct dirent *de;
	struct stat st;
	int r;

	if (stat(path, &st) < 0) {
		r = -errno;
		fprintf(stderr, "%s: %m\n", path);
		return r;
	}
	if (!S_ISDIR(st.st_mode)) {
		r = run_file(AT_FDCWD, path, path);
		*count += r == 0;
		return r;
	}
	d = opendir(path);
	if (!d) {
		r = -errno;
		fprintf(stderr, "%s: %m\n", path);
		return r;
	}
	while ((de = readdir(d))) {
		char shown[4096];

		if (de->d_name[0] == '.')
			continue;
		snprintf(shown, sizeof(shown), "%s/%s", path, de->d_name);
		r = run_file(dirfd(d), de->d_name, shown);
		if (r < 0)
			return r;
		(*count)++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	size_t count = 0;

	for (int i = 1; i < argc; i++)
		if (run_path(argv[i], &count) < 0)
			return EXIT_FAILURE;
	printf("%s: %zu inputs replayed\n", argv[0], count);
	return count > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

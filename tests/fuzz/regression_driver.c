/* SPDX-License-Identifier: MIT */
/*
 * regression_driver.c - replays fuzz corpora through the harnesses without
 * libFuzzer, so `make check` runs every committed input (and every input
 * that once crashed) on each build.
 *
 * Usage: fuzz_regression <target> <file-or-dir>...
 * where target is block, container, opts, model or sniff. Directories are read one level
 * deep. A harness that finds a bug aborts; a file that cannot be read fails
 * the run, and so does a run with no input at all.
 */
#include "fuzz_helpers.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

typedef int (*fuzz_entry_fn)(const uint8_t *data, size_t size);

static const struct {
	const char *name;
	fuzz_entry_fn entry;
} targets[] = {
	{ "block", fuzz_block_entry },
	{ "container", fuzz_container_entry },
	{ "opts", fuzz_opts_entry },
	{ "model", fuzz_model_entry },
	{ "sniff", fuzz_sniff_entry },
};

static fuzz_entry_fn target_find(const char *name)
{
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
		if (strcmp(targets[i].name, name) == 0)
			return targets[i].entry;
	return NULL;
}

/* Reads all of path into a malloc'd buffer. @return 0 or -errno. */
static int file_read(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;
	int rc = 0;

	if (!f)
		return -errno;
	for (;;) {
		if (n == cap) {
			uint8_t *grown = realloc(buf, cap ? cap * 2 : 4096);

			if (!grown) {
				rc = -ENOMEM;
				break;
			}
			buf = grown;
			cap = cap ? cap * 2 : 4096;
		}
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap)
			break;
	}
	if (rc == 0 && ferror(f))
		rc = -EIO;
	fclose(f);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	*len = n;
	return 0;
}

static int run_file(fuzz_entry_fn entry, const char *path)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int rc = file_read(path, &data, &len);

	if (rc < 0) {
		fprintf(stderr, "fuzz_regression: %s: %s\n", path, strerror(-rc));
		return rc;
	}
	entry(data, len);
	free(data);
	return 0;
}

/* Runs every regular file in dir; adds the count run to *count. */
static int run_dir(fuzz_entry_fn entry, const char *dir, unsigned *count)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		rc = -errno;
		fprintf(stderr, "fuzz_regression: %s: %s\n", dir, strerror(-rc));
		return rc;
	}
	while (rc == 0 && (de = readdir(d))) {
		char path[4096];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		rc = run_file(entry, path);
		*count += rc == 0;
	}
	closedir(d);
	return rc;
}

int main(int argc, char **argv)
{
	fuzz_entry_fn entry = argc > 2 ? target_find(argv[1]) : NULL;
	unsigned count = 0;
	int rc = 0;

	if (!entry) {
		fprintf(stderr, "usage: fuzz_regression block|container|opts|model "
				"<file-or-dir>...\n");
		return 2;
	}
	for (int i = 2; i < argc && rc == 0; i++) {
		struct stat st;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			rc = run_dir(entry, argv[i], &count);
		} else {
			rc = run_file(entry, argv[i]);
			count += rc == 0;
		}
	}
	if (rc == 0 && count == 0) {
		fprintf(stderr, "fuzz_regression: %s: no inputs\n", argv[1]);
		return 1;
	}
	printf("fuzz_regression: %s: %u inputs ok\n", argv[1], count);
	return rc == 0 ? 0 : 1;
}

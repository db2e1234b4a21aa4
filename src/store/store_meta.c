/* SPDX-License-Identifier: MIT */
/*
 * store_meta.c - creating and opening a store: the backing directory and its
 * hidden metadata directory (docs/format.md §1).
 */
#include "store/store_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void pf_store_opts_default(pf_store_opts *opts)
{
	*opts = (pf_store_opts){
		.block_size = PF_BLOCK_SIZE_DEFAULT,
		.codec = { .choice = PF_CHOICE_AUTO, .zstd_level = PF_ZSTD_LEVEL_DEFAULT,
			   .min_saving = PF_MIN_SAVING_DEFAULT },
		.verify = true,
		.level = PF_MODEL_LEVEL_DEFAULT,
	};
}

bool pf_store_is_meta_name(const char *name)
{
	return strcmp(name, PF_META_NAME) == 0;
}

/* A tool's record: a plain name that is not one of the store's own. */
static bool record_name_ok(const char *name)
{
	static const char *const own[] = { PF_STORE_CONFIG, "lock", "models" };

	if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (size_t i = 0; i < sizeof(own) / sizeof(*own); i++)
		if (!strcmp(name, own[i]))
			return false;
	return true;
}

int pf_store_meta_open(pf_store *store, const char *name, int flags, mode_t mode)
{
	char path[sizeof(PF_META_NAME) + NAME_MAX + 1];
	int fd;

	if (!record_name_ok(name) ||
	    (size_t)snprintf(path, sizeof(path), PF_META_NAME "/%s", name) >= sizeof(path))
		return -EINVAL;
	fd = openat(store->root_fd, path, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	return fd < 0 ? -errno : fd;
}

int pf_store_meta_rename(pf_store *store, const char *from, const char *to)
{
	char a[sizeof(PF_META_NAME) + NAME_MAX + 1], b[sizeof(a)];

	if (!record_name_ok(from) || !record_name_ok(to) ||
	    (size_t)snprintf(a, sizeof(a), PF_META_NAME "/%s", from) >= sizeof(a) ||
	    (size_t)snprintf(b, sizeof(b), PF_META_NAME "/%s", to) >= sizeof(b))
		return -EINVAL;
	return renameat(store->root_fd, a, store->root_fd, b) < 0 ? -errno : 0;
}

/* 1 if dir holds anything besides "." and "..", 0 if empty, or -errno. */
static int dir_has_entries(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;
	int found = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while (!found && (de = readdir(d)))
		found = strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return found;
}

static int write_config(int metafd)
{
	char text[128];
	int fd, len, rc = 0;

	len = snprintf(text, sizeof(text), "format=1\ncreated=%lld\n",
		       (long long)time(NULL));
	fd = openat(metafd, PF_STORE_CONFIG ".tmp",
		    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, (size_t)len) != len || fsync(fd) < 0)
		rc = errno ? -errno : -EIO;
	close(fd);
	if (rc == 0 && renameat(metafd, PF_STORE_CONFIG ".tmp", metafd, PF_STORE_CONFIG) < 0)
		rc = -errno;
	return rc;
}

static int make_meta(int dirfd)
{
	int metafd, rc;

	if (mkdirat(dirfd, PF_META_NAME, 0755) < 0)
		return -errno;
	metafd = openat(dirfd, PF_META_NAME, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	if (metafd < 0)
		return -errno;
	rc = mkdirat(metafd, "models", 0755) < 0 ? -errno : write_config(metafd);
	if (rc == 0 && (fsync(metafd) < 0 || fsync(dirfd) < 0))
		rc = -errno;
	close(metafd);
	return rc;
}

int pf_store_init(const char *path)
{
	int dirfd, rc;

	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	dirfd = open(path, O_RDONLY | O_DIRECTORY);
	if (dirfd < 0)
		return -errno;
	if (faccessat(dirfd, PF_META_NAME "/" PF_STORE_CONFIG, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		rc = -EEXIST;
	else if ((rc = dir_has_entries(dirfd)) > 0)
		rc = -ENOTEMPTY;
	else if (rc == 0)
		rc = make_meta(dirfd);
	close(dirfd);
	return rc;
}

/* Checks .priorfs/config says format=1. */
static int check_config(int rootfd, const char *path)
{
	char text[512];
	ssize_t n;
	int fd = openat(rootfd, PF_META_NAME "/" PF_STORE_CONFIG, O_RDONLY | O_NOFOLLOW);

	if (fd < 0) {
		pf_log(PF_LOG_ERR, "%s: not a priorfs store (no %s/%s: %m); "
		       "create one with 'priorctl init'", path, PF_META_NAME, PF_STORE_CONFIG);
		return -EINVAL;
	}
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	text[n] = '\0';
	if (strncmp(text, "format=1\n", 9) != 0 && !strstr(text, "\nformat=1\n")) {
		pf_log(PF_LOG_ERR, "%s: unsupported store format (config has no format=1)", path);
		return -EINVAL;
	}
	return 0;
}

int pf_store_open(const char *path, const pf_store_opts *opts, pf_store **out)
{
	pf_store *s;
	int rc, fd = open(path, O_PATH | O_DIRECTORY);

	if (fd < 0)
		return -errno;
	rc = check_config(fd, path);
	if (rc < 0)
		goto out_close;
	s = calloc(1, sizeof(*s));
	if (!s) {
		rc = -ENOMEM;
		goto out_close;
	}
	s->root_fd = fd;
	s->opts = *opts;
	rc = pf_models_open(s);
	if (rc < 0) {
		pf_log(PF_LOG_ERR, "%s: cannot open the model store: %s", path, strerror(-rc));
		pf_store_close(s);
		return rc;
	}
	*out = s;
	return 0;
out_close:
	close(fd);
	return rc;
}

void pf_store_close(pf_store *store)
{
	if (!store)
		return;
	pf_models_close(store);
	close(store->root_fd);
	free(store);
}

int pf_store_root_fd(const pf_store *store)
{
	return store->root_fd;
}

const pf_store_opts *pf_store_get_opts(const pf_store *store)
{
	return &store->opts;
}

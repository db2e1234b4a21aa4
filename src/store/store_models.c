/* SPDX-License-Identifier: MIT */
/*
 * store_models.c - the model store: immutable model files named by the
 * SHA-256 of their bytes in .priorfs/models/, the store's default models,
 * and the writer lock (format.md §5).
 *
 * Design notes
 *   (M1) A model file never changes once its name is its hash: it is written
 *        to a temporary name, fsync'd, then renamed into place.
 *   (M2) A model is verified (hash, then the model layer's own checks) when
 *        first loaded, then mapped read-only and shared by every thread until
 *        the store closes, so a decode never sees it change or vanish.
 */
#include "store/store_int.h"
#include "common/pf_sha256.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULTS_NAME "defaults"

/* ---- defaults file: "<hex id> <kind>\n" per model ---------------------------- */

static int parse_defaults(pf_store *s, char *text)
{
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		pf_model_info info = { 0 };
		pf_model_info *v;

		if (strlen(line) < 64 || (line[64] != ' ' && line[64] != '\0'))
			continue;
		snprintf(info.kind, sizeof(info.kind), "%s", line[64] ? line + 65 : "");
		line[64] = '\0';
		if (pf_sha256_parse(line, info.id) < 0)
			continue;
		v = realloc(s->defaults, (s->ndefaults + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->defaults = v;
		s->defaults[s->ndefaults++] = info;
	}
	return 0;
}

static int load_defaults(pf_store *s)
{
	char text[8192];
	ssize_t n;
	int fd = openat(s->models_fd, DEFAULTS_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	text[n] = '\0';
	return parse_defaults(s, text);
}

int pf_models_open(pf_store *s)
{
	s->lock_fd = -1;
	pthread_mutex_init(&s->models_lock, NULL);
	s->models_fd = openat(s->root_fd, PF_META_NAME "/models",
			      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->models_fd < 0)
		return -errno;
	return load_defaults(s);
}

void pf_models_close(pf_store *s)
{
	for (size_t i = 0; i < s->nloaded; i++) {
		pf_codec_model_free(s->loaded[i].model);
		munmap(s->loaded[i].map, s->loaded[i].len);
	}
	free(s->loaded);
	free(s->defaults);
	if (s->models_fd >= 0)
		close(s->models_fd);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	pthread_mutex_destroy(&s->models_lock);
}

int pf_store_lock_writer(pf_store *s)
{
	int fd;

	if (s->lock_fd >= 0)
		return 0;
	fd = openat(s->root_fd, PF_META_NAME "/lock",
		    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno == EWOULDBLOCK ? -EBUSY : -errno;

		close(fd);
		return err;
	}
	s->lock_fd = fd;
	return 0;
}

/* ---- loading ------------------------------------------------------------------ */

/* Maps, verifies (M2) and loads the model file named by id. */
static int load_model(pf_store *s, const uint8_t id[PF_MODEL_ID_SIZE],
		      pf_loaded_model *out)
{
	char hex[PF_SHA256_HEX_SIZE];
	uint8_t sum[PF_SHA256_SIZE];
	struct stat st;
	int rc, fd;

	pf_sha256_hex(id, hex);
	fd = openat(s->models_fd, hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0) {
		rc = fd < 0 ? -errno : -EIO;
		pf_log(PF_LOG_ERR, "model %.16s: cannot open: %s", hex, strerror(-rc));
		goto out_close;
	}
	out->len = (size_t)st.st_size;
	out->map = mmap(NULL, out->len, PROT_READ, MAP_SHARED, fd, 0);
	if (out->map == MAP_FAILED) {
		rc = -errno;
		goto out_close;
	}
	pf_sha256(out->map, out->len, sum);
	rc = memcmp(sum, id, PF_SHA256_SIZE) ? -EIO
					     : pf_codec_model_load(out->map, out->len, &out->model);
	if (rc < 0) {
		pf_log(PF_LOG_ERR, "model %.16s: %s", hex,
		       rc == -EIO ? "corrupt (hash or contents do not match)" : strerror(-rc));
		munmap(out->map, out->len);
	}
	memcpy(out->id, id, PF_MODEL_ID_SIZE);
out_close:
	if (fd >= 0)
		close(fd);
	return rc;
}

int pf_store_model_get(pf_store *s, const uint8_t id[PF_MODEL_ID_SIZE],
		       const pf_model **out)
{
	pf_loaded_model m, *v;
	int rc = 0;

	pthread_mutex_lock(&s->models_lock);
	for (size_t i = 0; i < s->nloaded; i++)
		if (memcmp(s->loaded[i].id, id, PF_MODEL_ID_SIZE) == 0) {
			*out = s->loaded[i].model;
			goto out_unlock;
		}
	rc = load_model(s, id, &m);
	if (rc < 0)
		goto out_unlock;
	v = realloc(s->loaded, (s->nloaded + 1) * sizeof(*v));
	if (!v) {
		pf_codec_model_free(m.model);
		munmap(m.map, m.len);
		rc = -ENOMEM;
		goto out_unlock;
	}
	s->loaded = v;
	s->loaded[s->nloaded++] = m;
	*out = m.model;
out_unlock:
	pthread_mutex_unlock(&s->models_lock);
	return rc;
}

int pf_models_defaults(pf_store *s, const pf_model **models,
		       uint8_t (*ids)[PF_MODEL_ID_SIZE], int max)
{
	int n = 0, count, above = 0;

	/* One copy of the list: pf_store_set_defaults() may replace it. */
	pthread_mutex_lock(&s->models_lock);
	count = s->ndefaults < (size_t)max ? (int)s->ndefaults : max;
	for (int i = 0; i < count; i++)
		memcpy(ids[i], s->defaults[i].id, PF_MODEL_ID_SIZE);
	pthread_mutex_unlock(&s->models_lock);
	for (int i = 0; i < count; i++) {
		/* A default that does not load is skipped: zstd still works.
		 * One above the store's level is kept for those who ask. */
		if (pf_store_model_get(s, ids[i], &models[n]) < 0)
			continue;
		if (pf_codec_model_level(models[n]) > s->opts.level) {
			above++;
			continue;
		}
		if (n != i)
			memcpy(ids[n], ids[i], PF_MODEL_ID_SIZE);
		n++;
	}
	/* All of them above the level: say why nothing codes learned. */
	if (!n && above && !atomic_exchange(&s->level_logged, true))
		pf_log(PF_LOG_WARNING, "the store's %d default model(s) are above level=%s: "
		       "new blocks stay zstd or raw (level=max uses them)", above,
		       pf_codec_level_name(s->opts.level));
	return n;
}

/* ---- adding, listing, removing ---------------------------------------------- */

/* Writes len bytes to name atomically in the models dir (M1). */
static int write_atomic(pf_store *s, const char *name, const void *data, size_t len)
{
	char tmp[96];
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), ".tmp.%d.%s", (int)getpid(), name);
	fd = openat(s->models_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0444);
	if (fd < 0)
		return -errno;
	for (size_t done = 0; done < len && rc == 0;) {
		ssize_t n = write(fd, (const uint8_t *)data + done, len - done);

		if (n < 0 && errno != EINTR)
			rc = -errno;
		else if (n > 0)
			done += (size_t)n;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && renameat(s->models_fd, tmp, s->models_fd, name) < 0)
		rc = -errno;
	if (rc == 0 && fsync(s->models_fd) < 0)
		rc = -errno;
	if (rc < 0)
		unlinkat(s->models_fd, tmp, 0);
	return rc;
}

int pf_store_model_add(pf_store *s, const void *image, size_t len,
		       uint8_t id[PF_MODEL_ID_SIZE])
{
	char hex[PF_SHA256_HEX_SIZE];
	pf_model *check;
	int rc;

	if (s->opts.read_only)
		return -EROFS;
	rc = pf_codec_model_load(image, len, &check);
	if (rc < 0)
		return rc;
	pf_codec_model_free(check);
	pf_sha256(image, len, id);
	pf_sha256_hex(id, hex);
	if (faccessat(s->models_fd, hex, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	return write_atomic(s, hex, image, len);
}

static void kind_of(pf_store *s, const uint8_t id[PF_MODEL_ID_SIZE], char *kind)
{
	kind[0] = '\0';
	pthread_mutex_lock(&s->models_lock);
	for (size_t i = 0; i < s->ndefaults; i++)
		if (memcmp(s->defaults[i].id, id, PF_MODEL_ID_SIZE) == 0)
			snprintf(kind, PF_MODEL_KIND_MAX, "%s", s->defaults[i].kind[0]
							       ? s->defaults[i].kind : "default");
	pthread_mutex_unlock(&s->models_lock);
}

int pf_store_models_list(pf_store *s, pf_model_info **out, size_t *n)
{
	int fd = openat(s->models_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	pf_model_info *v = NULL, *grown;
	struct dirent *de;
	struct stat st;
	int rc = 0;

	*n = 0;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		pf_model_info info = { 0 };

		if (pf_sha256_parse(de->d_name, info.id) < 0 ||
		    fstatat(s->models_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		info.bytes = (uint64_t)st.st_size;
		kind_of(s, info.id, info.kind);
		grown = realloc(v, (*n + 1) * sizeof(*v));
		if (!grown) {
			rc = -ENOMEM;
			break;
		}
		v = grown;
		v[(*n)++] = info;
	}
	closedir(d);
	*out = v;
	return rc;
}

int pf_store_model_remove(pf_store *s, const uint8_t id[PF_MODEL_ID_SIZE])
{
	char hex[PF_SHA256_HEX_SIZE];

	if (s->opts.read_only)
		return -EROFS;
	pf_sha256_hex(id, hex);
	return unlinkat(s->models_fd, hex, 0) < 0 ? -errno : 0;
}

int pf_store_set_defaults(pf_store *s, const pf_model_info *v, size_t n)
{
	char *text = malloc(n * (PF_SHA256_HEX_SIZE + PF_MODEL_KIND_MAX + 2) + 1);
	pf_model_info *copy = malloc((n ? n : 1) * sizeof(*copy));
	size_t len = 0;
	int rc;

	if (!text || !copy) {
		free(text);
		free(copy);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		char hex[PF_SHA256_HEX_SIZE];

		pf_sha256_hex(v[i].id, hex);
		len += (size_t)sprintf(text + len, "%s %.*s\n", hex, PF_MODEL_KIND_MAX - 1, v[i].kind);
	}
	memcpy(copy, v, n * sizeof(*copy));
	rc = s->opts.read_only ? -EROFS : write_atomic(s, DEFAULTS_NAME, text, len);
	free(text);
	if (rc < 0) {
		free(copy);
		return rc;
	}
	pthread_mutex_lock(&s->models_lock);
	free(s->defaults);
	s->defaults = copy;
	s->ndefaults = n;
	pthread_mutex_unlock(&s->models_lock);
	return 0;
}

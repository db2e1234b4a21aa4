/* SPDX-License-Identifier: MIT */
/*
 * ctl_tried.c - the record of files that recompress coded with the learned
 * codec and left with zstd blocks because zstd coded those blocks smaller
 * (.priorfs/recompress-tried, docs/format.md §1).
 *
 * Without it such a file never looks done (a learned target state has no
 * zstd block), and every run, resumed or not, codes it again. A record is
 * one text line: the backing file's inode, a hash of its blocks as that run
 * left them, and a hash of the run's target (codec choice, level, default
 * models), each as 16 hex digits. A file matches while all three do: any
 * write changes its blocks, any new default changes the target.
 *
 * The record is an optimisation only: a lost, torn or damaged line makes a
 * file be coded again, never skipped wrongly, so lines are appended without
 * fsync. A run over the whole store rewrites the file with just the records
 * it used or made (temporary name, then rename), which drops stale ones.
 */
#include "priorctl/priorctl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#define TRIED_NAME "recompress-tried"
#define TRIED_TMP "recompress-tried.tmp"
/* A record line: three u64 in hex, two spaces, a newline. */
#define LINE_MAX_LEN (3 * 16 + 3)

struct tried_rec {
	uint64_t ino, state;
	bool used; /* matched or made by this run: kept by the rewrite */
};

struct pctl_tried {
	pf_store *store;
	uint64_t target;
	int fd;                 /* the record, open for appending */
	pthread_mutex_t lock;   /* guards recs from the first add on, and fd */
	struct tried_rec *recs; /* [0, n_loaded) sorted, then this run's */
	size_t n_loaded, n, cap;
};

uint64_t pctl_tried_state(pf_container *c)
{
	uint64_t n = pctl_container_blocks(c);
	uint64_t head[2] = { pf_container_size(c), pf_container_block_size(c) };
	uint64_t h = XXH3_64bits(head, sizeof(head));

	for (uint64_t b = 0; b < n; b++) {
		pf_block_entry e;
		uint64_t v[3];

		pf_container_block(c, b, &e);
		v[0] = e.codec | (uint64_t)e.model << 8;
		v[1] = e.stored_len;
		v[2] = e.checksum;
		h = XXH3_64bits_withSeed(v, sizeof(v), h); /* chained */
	}
	return h;
}

static int rec_cmp(const void *a, const void *b)
{
	const struct tried_rec *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->state < y->state ? -1 : x->state > y->state;
}

static int rec_push(struct pctl_tried *t, uint64_t ino, uint64_t state, bool used)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct tried_rec *v = reallocarray(t->recs, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->recs = v;
		t->cap = cap;
	}
	t->recs[t->n++] = (struct tried_rec){ ino, state, used };
	return 0;
}

/* Keeps the lines of this target; anything else (another target, a torn
 * or foreign line) is dropped. */
static int tried_load(struct pctl_tried *t)
{
	int fd = pf_store_meta_open(t->store, TRIED_NAME, O_RDONLY, 0);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	char line[LINE_MAX_LEN + 2];
	int rc = 0;

	if (!f) {
		if (fd >= 0)
			close(fd);
		return fd == -ENOENT ? 0 : (fd < 0 ? fd : -errno);
	}
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		uint64_t ino, state, target;
		char end;

		if (sscanf(line, "%16" SCNx64 " %16" SCNx64 " %16" SCNx64 "%c", &ino,
			   &state, &target, &end) == 4 && end == '\n' && target == t->target)
			rc = rec_push(t, ino, state, false);
	}
	fclose(f);
	if (rc == 0) {
		qsort(t->recs, t->n, sizeof(*t->recs), rec_cmp);
		t->n_loaded = t->n;
	}
	return rc;
}

int pctl_tried_open(pf_store *store, uint64_t target, struct pctl_tried **out)
{
	struct pctl_tried *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return -ENOMEM;
	t->store = store;
	t->target = target;
	pthread_mutex_init(&t->lock, NULL);
	rc = tried_load(t);
	if (rc == 0) {
		t->fd = pf_store_meta_open(store, TRIED_NAME,
					   O_WRONLY | O_APPEND | O_CREAT, 0644);
		rc = t->fd < 0 ? t->fd : 0;
	}
	if (rc < 0) {
		t->fd = -1;
		pctl_tried_close(t, false);
		return rc;
	}
	*out = t;
	return 0;
}

bool pctl_tried_has(struct pctl_tried *t, uint64_t ino, uint64_t state)
{
	struct tried_rec key = { ino, state, false }, *r;

	/* The loaded part is sorted and never moves: adds only append, and
	 * realloc happens under the lock, hence the lock here too. */
	pthread_mutex_lock(&t->lock);
	r = bsearch(&key, t->recs, t->n_loaded, sizeof(*t->recs), rec_cmp);
	if (r)
		r->used = true;
	pthread_mutex_unlock(&t->lock);
	return r != NULL;
}

static int line_write(int fd, uint64_t ino, uint64_t state, uint64_t target)
{
	char line[LINE_MAX_LEN + 1];
	int n = snprintf(line, sizeof(line), "%016" PRIx64 " %016" PRIx64 " %016" PRIx64 "\n",
			 ino, state, target);

	/* One write per line: O_APPEND keeps concurrent lines whole. */
	return write(fd, line, (size_t)n) == n ? 0 : -errno;
}

int pctl_tried_add(struct pctl_tried *t, uint64_t ino, uint64_t state)
{
	int rc;

	pthread_mutex_lock(&t->lock);
	rc = rec_push(t, ino, state, true);
	if (rc == 0)
		rc = line_write(t->fd, ino, state, t->target);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

/* Writes the used records to a temporary file and renames it over the
 * record, so a crash leaves the old record or the new one. */
static int tried_rewrite(struct pctl_tried *t)
{
	int fd = pf_store_meta_open(t->store, TRIED_TMP,
				    O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int rc = fd < 0 ? fd : 0;

	for (size_t i = 0; rc == 0 && i < t->n; i++)
		if (t->recs[i].used)
			rc = line_write(fd, t->recs[i].ino, t->recs[i].state, t->target);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (rc == 0)
		rc = pf_store_meta_rename(t->store, TRIED_TMP, TRIED_NAME);
	return rc;
}

int pctl_tried_close(struct pctl_tried *t, bool rewrite)
{
	int rc = 0;

	if (!t)
		return 0;
	if (t->fd >= 0) {
		if (rewrite)
			rc = tried_rewrite(t);
		close(t->fd);
	}
	pthread_mutex_destroy(&t->lock);
	free(t->recs);
	free(t);
	return rc;
}

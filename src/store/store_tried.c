/* SPDX-License-Identifier: MIT */
/*
 * store_tried.c - the records of files a recompression has coded through
 * and left with blocks the learned codec did not take (zstd coded them
 * smaller, or nothing shrinks them), so that later runs skip them:
 * .priorfs/recompress-tried for priorctl recompress and
 * .priorfs/recompress-background for a mount's background thread
 * (docs/format.md §1).
 *
 * Without a record such a file never looks done, and every run codes it
 * again. A record is one text line: the backing file's inode, a hash of the
 * state the run left it in, and a hash of the run's target (codec choice,
 * level, default models), each as 16 hex digits. A file matches while all
 * three do: any write changes its state, any new default the target.
 *
 * A record is an optimisation only: a lost, torn or damaged line makes a
 * file be coded again, never skipped wrongly, so lines are appended without
 * fsync. pf_tried_compact() rewrites the file with just the records used
 * since it was opened or last compacted (temporary name, then rename),
 * which drops stale ones.
 *
 * In memory the records are an open-addressing hash set that can also hold
 * entries never written (the mount remembers every file it coded through,
 * only those with leftovers go to the file).
 */
#include "store/store_int.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

/* A record line: three u64 in hex, two spaces, a newline. */
#define LINE_MAX_LEN (3 * 16 + 3)
#define SLOTS_MIN 1024u
/* Compact when the file or the set holds this many more entries than twice
 * the used ones (pf_tried_stale()). */
#define STALE_SLACK 1024u

enum {
	REC_SET = 1,  /* the slot holds an entry */
	REC_USED = 2, /* matched or made since the last compaction */
	REC_KEEP = 4  /* in the file */
};

struct tried_rec {
	uint64_t ino, state;
	unsigned flags;
};

struct pf_tried {
	pf_store *store;
	uint64_t target;
	char name[NAME_MAX + 1], tmp[NAME_MAX + 1];
	int fd;                 /* the file, open for appending; -1: memory only */
	pthread_mutex_t lock;   /* guards all below, and fd */
	struct tried_rec *v;    /* cap slots, a power of two */
	size_t cap, n;
	size_t used, kept_used; /* entries REC_USED; of them REC_KEEP */
	size_t lines;           /* in the file: loaded and appended */
};

uint64_t pf_tried_state(pf_container *c)
{
	uint64_t size = pf_container_size(c);
	uint32_t bs = pf_container_block_size(c);
	uint64_t head[2] = { size, bs }, n = size / bs + (size % bs != 0);
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

uint64_t pf_tried_target(const pf_tried *t)
{
	return t->target;
}

/* The slot of (ino, state), or the empty slot it would go to. */
static struct tried_rec *slot_of(struct tried_rec *v, size_t cap, uint64_t ino,
				 uint64_t state)
{
	uint64_t key[2] = { ino, state };
	size_t i = (size_t)XXH3_64bits(key, sizeof(key)) & (cap - 1);

	while ((v[i].flags & REC_SET) && (v[i].ino != ino || v[i].state != state))
		i = (i + 1) & (cap - 1);
	return &v[i];
}

/* Rebuilds the set with cap slots, keeping the entries `keep` selects. */
static int rehash(pf_tried *t, size_t cap, unsigned keep)
{
	struct tried_rec *v = calloc(cap, sizeof(*v));

	if (!v)
		return -ENOMEM;
	t->n = 0;
	for (size_t i = 0; i < t->cap; i++)
		if ((t->v[i].flags & keep) == keep) {
			*slot_of(v, cap, t->v[i].ino, t->v[i].state) = t->v[i];
			t->n++;
		}
	free(t->v);
	t->v = v;
	t->cap = cap;
	return 0;
}

/* ORs flags into entry r, keeping the counts of used entries. */
static void rec_mark(pf_tried *t, struct tried_rec *r, unsigned flags)
{
	const unsigned both = REC_USED | REC_KEEP;
	unsigned was = r->flags;

	r->flags |= flags;
	t->used += (r->flags & REC_USED) && !(was & REC_USED);
	t->kept_used += (r->flags & both) == both && (was & both) != both;
}

/* Adds (ino, state) with flags, or ORs them into the entry already there. */
static int rec_put(pf_tried *t, uint64_t ino, uint64_t state, unsigned flags)
{
	struct tried_rec *r = slot_of(t->v, t->cap, ino, state);

	if (!(r->flags & REC_SET)) {
		if (2 * (t->n + 1) > t->cap) {
			PF_FORWARD(rehash(t, t->cap * 2, REC_SET));
			r = slot_of(t->v, t->cap, ino, state);
		}
		*r = (struct tried_rec){ ino, state, REC_SET };
		t->n++;
	}
	rec_mark(t, r, flags);
	return 0;
}

/* Loads the lines of this target; anything else (another target, a torn
 * or foreign line) is left out and goes at the next compaction. */
static int tried_load(pf_tried *t)
{
	int fd = pf_store_meta_open(t->store, t->name, O_RDONLY, 0);
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

		t->lines++;
		if (sscanf(line, "%16" SCNx64 " %16" SCNx64 " %16" SCNx64 "%c", &ino,
			   &state, &target, &end) == 4 && end == '\n' && target == t->target)
			rc = rec_put(t, ino, state, REC_KEEP);
	}
	fclose(f);
	return rc;
}

int pf_tried_open(pf_store *store, const char *name, uint64_t target, pf_tried **out)
{
	pf_tried *t = calloc(1, sizeof(*t));
	int rc;

	*out = NULL;
	if (!t || !(t->v = calloc(SLOTS_MIN, sizeof(*t->v)))) {
		free(t);
		return -ENOMEM;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->cap = SLOTS_MIN;
	t->store = store;
	t->target = target;
	t->fd = -1;
	if ((size_t)snprintf(t->name, sizeof(t->name), "%s", name) >= sizeof(t->name) ||
	    (size_t)snprintf(t->tmp, sizeof(t->tmp), "%s.tmp", name) >= sizeof(t->tmp))
		rc = -ENAMETOOLONG;
	else
		rc = tried_load(t);
	if (rc == -ENOMEM) {
		pf_tried_close(t);
		return rc;
	}
	if (rc == 0) {
		int fd = pf_store_meta_open(store, t->name, O_WRONLY | O_APPEND | O_CREAT, 0644);

		t->fd = fd < 0 ? -1 : fd;
		rc = fd < 0 ? fd : 0;
	}
	*out = t; /* memory only when the file failed */
	return rc;
}

bool pf_tried_has(pf_tried *t, uint64_t ino, uint64_t state)
{
	struct tried_rec *r;
	bool found;

	pthread_mutex_lock(&t->lock);
	r = slot_of(t->v, t->cap, ino, state);
	found = r->flags & REC_SET;
	if (found)
		rec_mark(t, r, REC_USED);
	pthread_mutex_unlock(&t->lock);
	return found;
}

static int line_write(int fd, uint64_t ino, uint64_t state, uint64_t target)
{
	char line[LINE_MAX_LEN + 1];
	int n = snprintf(line, sizeof(line), "%016" PRIx64 " %016" PRIx64 " %016" PRIx64 "\n",
			 ino, state, target);

	/* One write per line: O_APPEND keeps concurrent lines whole. */
	return write(fd, line, (size_t)n) == n ? 0 : -errno;
}

int pf_tried_add(pf_tried *t, uint64_t ino, uint64_t state, bool keep)
{
	struct tried_rec *r;
	int rc;

	pthread_mutex_lock(&t->lock);
	r = slot_of(t->v, t->cap, ino, state);
	keep = keep && !(r->flags & REC_KEEP);
	rc = rec_put(t, ino, state, REC_USED | (keep ? REC_KEEP : 0));
	if (rc == 0 && keep && t->fd >= 0) {
		rc = line_write(t->fd, ino, state, t->target);
		t->lines += rc == 0;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

bool pf_tried_stale(pf_tried *t)
{
	bool stale;

	pthread_mutex_lock(&t->lock);
	stale = t->lines > 2 * t->kept_used + STALE_SLACK ||
		t->n > 2 * t->used + STALE_SLACK;
	pthread_mutex_unlock(&t->lock);
	return stale;
}

/* Writes the used records kept in the file to a temporary file and renames
 * it over the record, so a crash leaves the old record or the new one. */
static int tried_rewrite(pf_tried *t)
{
	int fd = pf_store_meta_open(t->store, t->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int rc = fd < 0 ? fd : 0;

	for (size_t i = 0; rc == 0 && i < t->cap; i++)
		if ((t->v[i].flags & (REC_USED | REC_KEEP)) == (REC_USED | REC_KEEP))
			rc = line_write(fd, t->v[i].ino, t->v[i].state, t->target);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (rc == 0)
		rc = pf_store_meta_rename(t->store, t->tmp, t->name);
	if (rc == 0) { /* the renamed file from now on */
		close(t->fd);
		fd = pf_store_meta_open(t->store, t->name, O_WRONLY | O_APPEND, 0);
		t->fd = fd < 0 ? -1 : fd;
		rc = fd < 0 ? fd : 0;
	}
	return rc;
}

int pf_tried_compact(pf_tried *t)
{
	int rc = 0;

	pthread_mutex_lock(&t->lock);
	if (t->fd >= 0)
		rc = tried_rewrite(t);
	if (rc == 0) {
		t->lines = t->kept_used;
		rc = rehash(t, t->cap, REC_SET | REC_USED);
	}
	if (rc == 0) {
		for (size_t i = 0; i < t->cap; i++)
			t->v[i].flags &= ~(unsigned)REC_USED;
		t->used = t->kept_used = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void pf_tried_close(pf_tried *t)
{
	if (!t)
		return;
	if (t->fd >= 0)
		close(t->fd);
	pthread_mutex_destroy(&t->lock);
	free(t->v);
	free(t);
}

uint64_t pf_store_recode_target(pf_store *store)
{
	const pf_store_opts *o = &store->opts;
	uint64_t v[3] = { o->codec.choice, o->codec.min_saving, o->level };
	uint64_t h = XXH3_64bits(v, sizeof(v));

	pthread_mutex_lock(&store->models_lock);
	for (size_t i = 0; i < store->ndefaults; i++) {
		const pf_model_info *m = &store->defaults[i];

		h = XXH3_64bits_withSeed(m->id, PF_MODEL_ID_SIZE, h);
		h = XXH3_64bits_withSeed(m->kind, strnlen(m->kind, PF_MODEL_KIND_MAX), h);
	}
	pthread_mutex_unlock(&store->models_lock);
	return h;
}

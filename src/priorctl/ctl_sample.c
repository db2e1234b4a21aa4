/* SPDX-License-Identifier: MIT */
/*
 * ctl_sample.c - the data sample priorctl train learns from: every file's
 * data kind sniffed from its name and first bytes, and per kind a bounded
 * sample spread over many files, with about 10% held out for evaluation.
 *
 * Design notes:
 * - Two passes. The walk records each regular file's path, size and kind
 *   (reading only its first 4 KiB). Then, per kind, pieces of up to 256 KiB
 *   are handed out round-robin over the kind's files, in an order fixed by a
 *   hash of the path (so a sample is repeatable, yet not all from the first
 *   directory), until the kind's cap is reached: first each file up to its
 *   share of the cap by size (at least one piece), then to every file with
 *   bytes left. So a kind's sample is made like its bytes: a 40M file among
 *   two 2M ones gives 90% of it, where plain round-robin gave a third (and
 *   a frozen network, level max, learned mostly the small files). Each file
 *   is then read once.
 * - A file that gives k pieces but holds more gives them spread over its
 *   length at a 256 KiB-aligned stride, so a big log is not judged by its
 *   head alone; aligned pieces decode at most two blocks of a container.
 * - Every piece is a whole number of 8-byte units (a file's last 0..7 bytes
 *   and the cap's are left out): the train part is the pieces end to end,
 *   and one odd-length piece would shift every later byte of a token shard
 *   or an int32 column out of the phase it has in its blocks.
 * - Piece n of a kind (in reading order) is held out when n % 10 == 9; a
 *   kind with 2..9 pieces holds out its last one. Held-out pieces stay
 *   separate: they are the blocks the evaluation codes.
 * - Compressed files are counted (their bytes matter for the store's
 *   totals) but never sampled: no model learns anything from them.
 * - In a store, decoding a learned block just to look at a file's first
 *   bytes would make the walk of a large store very slow. So a container
 *   whose first block is learned is sorted by its name when the extension
 *   says what it is, else by the kind of the default model that coded it
 *   (the one that coded its first block best), and decoded only when
 *   neither tells.
 */
#include "priorctl/priorctl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/pf_common.h"

/* ---- reading files: plain or through their containers -------------------- */

struct sample_src {
	pf_store *store; /* NULL for a plain directory */
	int rootfd;
	unsigned char *block; /* container block scratch (PF_BLOCK_SIZE_MAX) */
};

struct src_file {
	int fd;             /* plain file, or -1 */
	pf_container *c;    /* container, or NULL */
};

static int src_open(struct sample_src *src, int dirfd, const char *name,
		    const char *path, struct src_file *f)
{
	f->fd = -1;
	f->c = NULL;
	if (src->store)
		return pctl_container_open(src->store, dirfd, name, path, &f->c);
	f->fd = openat(dirfd, name,
		       O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	return f->fd < 0 ? -errno : 0;
}

static int src_read(struct sample_src *src, struct src_file *f, uint64_t off,
		    void *buf, size_t len)
{
	if (f->c)
		return pctl_container_read(f->c, off, buf, len, src->block);
	while (len) {
		ssize_t n = pread(f->fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) { /* shrunk since the walk: zeros, as a hole */
			memset(buf, 0, len);
			return 0;
		}
		buf = (unsigned char *)buf + n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static void src_close(struct src_file *f)
{
	pf_container_close(f->c);
	if (f->fd >= 0)
		close(f->fd);
}

/* ---- pass 1: the walk ---------------------------------------------------- */

struct entry {
	char *path;
	uint64_t size;
	uint64_t order;    /* hash of path: the round-robin order */
	enum pctl_kind kind;
	uint32_t pieces;   /* handed out by plan_kind() */
	uint32_t last_len; /* of the last piece when the cap cut it, else 0 */
};

struct collect {
	struct sample_src src;
	struct pctl_sample *out;
	struct entry *v;
	size_t count, cap;
	pf_model_info *models;  /* of the store, or NULL */
	size_t n_models;
	uint8_t (*ids)[PF_MODEL_ID_SIZE]; /* PCTL_MODEL_SLOTS scratch */
	bool compressed;        /* sample compressed files too */
};

static uint64_t path_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, then a final mix */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	h ^= h >> 33;
	return h * 0xff51afd7ed558ccdull;
}

static void collect_error(void *arg, const char *path, const char *what,
			  int err)
{
	struct collect *c = arg;

	c->out->errors++;
	pctl_err("sample: %s: %s: %s", *path ? path : ".", what, strerror(-err));
}

/* The kind whose name the store's model `id` is a default for. */
static bool kind_of_model(const struct collect *c, const uint8_t *id,
			  enum pctl_kind *kind)
{
	for (size_t i = 0; i < c->n_models; i++) {
		if (memcmp(c->models[i].id, id, PF_MODEL_ID_SIZE))
			continue;
		for (int k = 0; k < PCTL_KIND_COUNT; k++) {
			if (!strcmp(c->models[i].kind, pctl_kind_name((enum pctl_kind)k))) {
				*kind = (enum pctl_kind)k;
				return true;
			}
		}
	}
	return false;
}

/* The kind of a container whose first block is learned, without decoding
 * it (design notes). */
static bool kind_without_decoding(const struct collect *c, pf_container *ct,
				  const char *name, enum pctl_kind *kind)
{
	pf_block_entry e;
	int n;

	if (!c->ids)
		return false;
	/* first: it may renumber the slots of the working index */
	n = pf_container_models(ct, c->ids, PCTL_MODEL_SLOTS);
	pf_container_block(ct, 0, &e);
	if (e.codec != PF_CODEC_LEARNED)
		return false; /* zstd and raw decode fast */
	if (pctl_kind_by_name(name, kind))
		return true;
	return e.model && e.model <= n && n <= PCTL_MODEL_SLOTS &&
	       kind_of_model(c, c->ids[e.model - 1], kind);
}

/* Sets the kind and, for a container, *size to its logical size. */
static int sniff_file(struct collect *c, int dirfd, const char *name,
		      const char *path, uint64_t *size, enum pctl_kind *kind)
{
	unsigned char head[PCTL_SNIFF_HEAD];
	struct src_file f;
	size_t n;
	int rc;

	rc = src_open(&c->src, dirfd, name, path, &f);
	if (rc == 0 && f.c) {
		*size = pf_container_size(f.c);
		if (kind_without_decoding(c, f.c, name, kind))
			goto out_close;
	}
	n = *size < PCTL_SNIFF_HEAD ? (size_t)*size : PCTL_SNIFF_HEAD;
	if (rc == 0)
		rc = src_read(&c->src, &f, 0, head, n);
	if (rc == 0)
		*kind = pctl_kind_sniff(name, head, n);
out_close:
	src_close(&f);
	return rc;
}

static int collect_file(void *arg, int dirfd, const char *name,
			const char *path, const struct stat *st)
{
	struct collect *c = arg;
	enum pctl_kind kind;
	uint64_t size = (uint64_t)st->st_size;
	struct entry *e;
	int rc;

	rc = sniff_file(c, dirfd, name, path, &size, &kind);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		collect_error(c, path,
			      rc == -EIO ? "corrupt container" : "read", rc);
		return 0;
	}
	c->out->kind[kind].files++;
	c->out->kind[kind].logical += size;
	if (!size || (kind == PCTL_KIND_COMPRESSED && !c->compressed))
		return 0;
	if (c->count == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 256;
		struct entry *v = reallocarray(c->v, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	e = &c->v[c->count];
	*e = (struct entry){ .path = strdup(path), .size = size,
			     .order = path_hash(path), .kind = kind };
	if (!e->path)
		return -ENOMEM;
	c->count++;
	return 0;
}

/* ---- the plan: pieces per file ------------------------------------------- */

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return strcmp(x->path, y->path);
}

/* Sample pieces are whole units (see the design notes). */
static uint64_t unit_floor(uint64_t n)
{
	return n - n % PF_SAMPLE_UNIT;
}

/* One round over v[0..n): each file with bytes left, and under its quota
 * when there is one, takes one more piece while the cap (*left) lasts.
 * @return whether any file took one. */
static bool plan_round(struct entry *v, size_t n, const uint32_t *quota, uint64_t *left)
{
	bool took = false;

	for (size_t i = 0; i < n && *left; i++) {
		struct entry *e = &v[i];
		uint64_t done = (uint64_t)e->pieces * PCTL_SAMPLE_PIECE, take;
		uint64_t usable = unit_floor(e->size);

		if (done >= usable || (quota && e->pieces >= quota[i]))
			continue;
		take = usable - done < PCTL_SAMPLE_PIECE ? usable - done : PCTL_SAMPLE_PIECE;
		if (take > *left) {
			take = unit_floor(*left);
			if (!take)
				continue;
			e->last_len = (uint32_t)take;
		}
		e->pieces++;
		*left -= take;
		took = true;
	}
	return took;
}

/* Pieces for one kind's files v[0..n), at most cap bytes: first each file
 * up to its share of the cap by size (at least one piece), so the sample is
 * made like the kind's bytes, then round-robin over what the shares left.
 * @return bytes planned, or UINT64_MAX without memory. */
static uint64_t plan_kind(struct entry *v, size_t n, uint64_t cap)
{
	uint32_t *quota = malloc((n ? n : 1) * sizeof(*quota));
	double total = 0, pieces = (double)cap / PCTL_SAMPLE_PIECE;
	uint64_t left = cap;

	if (!quota)
		return UINT64_MAX;
	for (size_t i = 0; i < n; i++)
		total += (double)v[i].size;
	for (size_t i = 0; i < n; i++) {
		double share = total > 0 ? (double)v[i].size / total * pieces : 0;

		quota[i] = share < 1 ? 1 : (share > UINT32_MAX ? UINT32_MAX : (uint32_t)share);
	}
	while (left && plan_round(v, n, quota, &left))
		;
	while (left && plan_round(v, n, NULL, &left))
		;
	free(quota);
	return cap - left;
}

/* Offset and length of piece j of e (see the design notes). */
static void piece_at(const struct entry *e, uint32_t j, uint64_t *off,
		     size_t *len)
{
	uint64_t stride = PCTL_SAMPLE_PIECE, n, usable = unit_floor(e->size);

	if ((uint64_t)e->pieces * PCTL_SAMPLE_PIECE < e->size)
		stride = e->size / e->pieces / PCTL_SAMPLE_PIECE * PCTL_SAMPLE_PIECE;
	*off = j * stride;
	n = usable - *off < PCTL_SAMPLE_PIECE ? usable - *off : PCTL_SAMPLE_PIECE;
	if (j + 1 == e->pieces && e->last_len)
		n = e->last_len;
	*len = (size_t)n;
}

static uint64_t entry_sampled(const struct entry *e)
{
	uint64_t off, total = 0;
	size_t len;

	for (uint32_t j = 0; j < e->pieces; j++) {
		piece_at(e, j, &off, &len);
		total += len;
	}
	return total;
}

/* ---- pass 2: reading the pieces ------------------------------------------ */

struct kind_fill {
	uint64_t pieces, next; /* planned pieces of the kind; next piece no. */
};

static bool held_out(const struct kind_fill *k)
{
	if (k->pieces >= 10)
		return k->next % 10 == 9;
	return k->pieces >= 2 && k->next + 1 == k->pieces;
}

static int kind_alloc(struct pctl_kind_sample *ks, uint64_t bytes,
		      uint64_t pieces)
{
	uint64_t held = pieces >= 10 ? pieces / 10 : pieces >= 2;

	/* Which pieces end up held out (and how long they are) is known only
	 * while reading: room for all bytes in train, full pieces in eval. */
	ks->train = malloc(bytes ? bytes : 1);
	ks->eval = malloc(held ? (held * PCTL_SAMPLE_PIECE) : 1);
	ks->eval_lens = calloc(held ? held : 1, sizeof(*ks->eval_lens));
	return ks->train && ks->eval && ks->eval_lens ? 0 : -ENOMEM;
}

static int read_piece(struct collect *c, struct src_file *f,
		      const struct entry *e, uint32_t j, struct kind_fill *kf,
		      struct pctl_progress *bar)
{
	struct pctl_kind_sample *ks = &c->out->kind[e->kind];
	bool eval = held_out(kf);
	uint64_t off;
	size_t len;

	piece_at(e, j, &off, &len);
	PF_FORWARD(src_read(&c->src, f, off,
			    eval ? ks->eval + ks->eval_len
				 : ks->train + ks->train_len,
			    len));
	kf->next++;
	if (eval) {
		ks->eval_lens[ks->eval_count++] = len;
		ks->eval_len += len;
	} else {
		ks->train_len += len;
	}
	pctl_progress_add(bar, len);
	return 0;
}

/* Reads every planned piece of e. A file that fails is reported and its
 * pieces are skipped (their piece numbers too, so the split stays 1:9). */
static int read_entry(struct collect *c, const struct entry *e,
		      struct kind_fill *kf, struct pctl_progress *bar)
{
	struct src_file f;
	int rc;
	uint32_t j = 0;

	rc = src_open(&c->src, c->src.rootfd, e->path, e->path, &f);
	for (; rc == 0 && j < e->pieces; j++)
		rc = read_piece(c, &f, e, j, kf, bar);
	src_close(&f);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		kf->next += e->pieces - j;
		collect_error(c, e->path, rc == -EIO ? "corrupt container" : "read",
			      rc);
	}
	return 0;
}

static int read_all(struct collect *c, uint64_t bytes,
		    const struct kind_fill *fills)
{
	struct kind_fill kf[PCTL_KIND_COUNT];
	struct pctl_progress bar;
	int rc = 0;

	memcpy(kf, fills, sizeof(kf));
	pctl_progress_start(&bar, "sampling", bytes);
	for (size_t i = 0; i < c->count && rc == 0; i++)
		if (c->v[i].pieces)
			rc = read_entry(c, &c->v[i], &kf[c->v[i].kind], &bar);
	pctl_progress_end(&bar);
	return rc;
}

/* Plans every kind (v is sorted by kind) and allocates its buffers. */
static int plan_all(struct collect *c, size_t cap, struct kind_fill *fills,
		    uint64_t *total)
{
	size_t i = 0;

	*total = 0;
	while (i < c->count) {
		enum pctl_kind k = c->v[i].kind;
		size_t n = 1;
		uint64_t bytes;

		while (i + n < c->count && c->v[i + n].kind == k)
			n++;
		bytes = plan_kind(c->v + i, n, cap);
		if (bytes == UINT64_MAX)
			return -ENOMEM;
		for (size_t j = i; j < i + n; j++) {
			fills[k].pieces += c->v[j].pieces;
			if (c->v[j].pieces) /* -v: what the sample is made of */
				pf_log(PF_LOG_DEBUG, "sample: %s: %s, %u piece(s), %" PRIu64
				       " bytes, of its %" PRIu64 " bytes", c->v[j].path,
				       pctl_kind_name(k), c->v[j].pieces,
				       entry_sampled(&c->v[j]), c->v[j].size);
		}
		PF_FORWARD(kind_alloc(&c->out->kind[k], bytes, fills[k].pieces));
		*total += bytes;
		i += n;
	}
	return 0;
}

static int collect_run(struct collect *c, size_t cap)
{
	const struct pctl_walk_fns fns = { .file = collect_file,
					   .err = collect_error };
	struct kind_fill fills[PCTL_KIND_COUNT] = { 0 };
	uint64_t total;

	PF_FORWARD(pctl_walk_tree(c->src.rootfd, c->src.store != NULL, &fns, c));
	if (c->count)
		qsort(c->v, c->count, sizeof(*c->v), entry_cmp);
	PF_FORWARD(plan_all(c, cap, fills, &total));
	return read_all(c, total, fills);
}

int pctl_sample_collect(pf_store *store, const char *from_dir, size_t cap,
			bool compressed, struct pctl_sample *out)
{
	struct collect c = { .src = { .store = from_dir ? NULL : store },
			     .out = out, .compressed = compressed };
	int rc;

	memset(out, 0, sizeof(*out));
	c.src.block = malloc(PF_BLOCK_SIZE_MAX);
	if (!c.src.block)
		return -ENOMEM;
	if (from_dir) {
		c.src.rootfd = open(from_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		rc = c.src.rootfd < 0 ? -errno : 0;
	} else {
		c.src.rootfd = pf_store_root_fd(store);
		/* Without them, every file is sniffed from its bytes. */
		c.ids = calloc(PCTL_MODEL_SLOTS, sizeof(*c.ids));
		if (c.ids && pf_store_models_list(store, &c.models,
						  &c.n_models) < 0)
			c.n_models = 0;
		rc = 0;
	}
	if (rc == 0)
		rc = collect_run(&c, cap);
	if (rc < 0)
		pctl_err("sample: %s: %s", from_dir ? from_dir : "store",
			 strerror(-rc));
	if (from_dir && c.src.rootfd >= 0)
		close(c.src.rootfd);
	for (size_t i = 0; i < c.count; i++)
		free(c.v[i].path);
	free(c.v);
	free(c.src.block);
	free(c.models);
	free(c.ids);
	return rc;
}

void pctl_sample_free(struct pctl_sample *s)
{
	for (int k = 0; k < PCTL_KIND_COUNT; k++) {
		free(s->kind[k].train);
		free(s->kind[k].eval);
		free(s->kind[k].eval_lens);
	}
	memset(s, 0, sizeof(*s));
}

/* SPDX-License-Identifier: MIT */
/*
 * store_container.c - one container: open, read and write blocks, commit.
 *
 * Design notes
 *   The container holds a committed state (the slot with the larger seq, its
 *   index and the blocks it names) and, in memory, a working state. Blocks of
 *   the working state are encoded and written to free space as soon as they
 *   are handed in; only pf_container_commit() makes them part of the file.
 *
 *   (I1) Nothing the committed state references is overwritten before a
 *        commit switches away from it.
 *   (I2) Extents of the state before the committed one (the quarantine) are
 *        reused only after an fdatasync has made the committed slot durable.
 *        At open, every gap is quarantined, since the older slot may name it.
 *   (I3) A commit writes the index, flushes data and index (fdatasync), and
 *        only then writes the slot of the older state. So a crash, even a
 *        power loss, leaves a valid slot naming fully written data.
 *   (I4) A failed slot write leaves memory and disk out of step: the
 *        container turns read-only-with-errors (sticky `failed`).
 *
 *   Extent life: free --alloc--> pending (working only) --commit--> committed
 *                pending --rewritten/dropped--> free
 *                committed --commit of a state without it--> quarantine
 *                quarantine --fdatasync--> free
 */
#include "store/store_int.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>


/* ---- small I/O helpers ---------------------------------------------------- */

/* A short read means the container ends before its index says it does. */
static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n = pf_pread_full(fd, buf, len, off);

	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 0 : -EIO;
}

static int sync_data(pf_container *c)
{
	return fdatasync(c->fd) < 0 ? -errno : 0;
}

static uint32_t block_size(const pf_container *c)
{
	return 1u << c->shift;
}

/* ---- opening -------------------------------------------------------------- */

/*
 * Picks the committed slot from the first PF_DATA_START bytes (format.md
 * §2.2). @return 1 found (sets *s, *slot_no), 0 empty container, -EIO.
 */
static int choose_slot(const uint8_t *head, pf_slot *s, int *slot_no)
{
	pf_slot cand[2];
	int rc[2];

	for (int i = 0; i < 2; i++)
		rc[i] = pf_fmt_slot_decode(head, head + PF_HEADER_SIZE + i * PF_SLOT_SIZE,
					   &cand[i]);
	if (rc[0] <= 0 && rc[1] <= 0)
		return rc[0] == 0 && rc[1] == 0 ? 0 : PF_CORRUPT("no valid slot");
	*slot_no = rc[1] > 0 && (rc[0] <= 0 || cand[1].seq > cand[0].seq);
	*s = cand[*slot_no];
	return 1;
}

/* Reads the header area, zero-filling past a short file (a crash during the
 * first commit leaves one). @return 1 committed state, 0 empty, -EIO. */
static int read_head(int fd, uint64_t file_len, uint8_t head[PF_DATA_START],
		     unsigned *shift, pf_slot *s, int *slot_no)
{
	size_t n = file_len < PF_DATA_START ? (size_t)file_len : PF_DATA_START;
	int rc;

	memset(head, 0, PF_DATA_START);
	PF_FORWARD(pread_full(fd, head, n, 0));
	rc = pf_fmt_header_decode(head, shift);
	if (rc < 0)
		return rc;
	if (rc == 0) /* no header: slots must be blank too */
		return choose_slot(head, s, slot_no) == 0 ? 0 : PF_CORRUPT("slot without header");
	return choose_slot(head, s, slot_no);
}

int pf_container_peek_size(int fd, uint64_t *size)
{
	uint8_t head[PF_DATA_START];
	struct stat st;
	unsigned shift;
	pf_slot s;
	int slot_no, rc;

	if (fstat(fd, &st) < 0)
		return -errno;
	rc = read_head(fd, (uint64_t)st.st_size, head, &shift, &s, &slot_no);
	if (rc < 0)
		return rc;
	*size = rc ? s.size : 0;
	return 0;
}

static int load_index(pf_container *c)
{
	const pf_slot *s = &c->committed;
	uint8_t *raw;
	int rc;

	c->models = calloc(PF_MODELS_MAX, PF_MODEL_ID_SIZE);
	if (!c->models)
		return -ENOMEM;
	if (s->index_len < PF_INDEX_HEAD || s->index_off < PF_DATA_START ||
	    s->index_off > c->file_len || s->index_len > c->file_len - s->index_off)
		return PF_CORRUPT("index extent");
	/* Bound the allocations below by bytes really in the file. */
	if ((uint64_t)s->nblocks * PF_ENTRY_SIZE > s->index_len)
		return PF_CORRUPT("block count larger than the index");
	raw = malloc(s->index_len);
	c->cidx = calloc(s->nblocks ? s->nblocks : 1, sizeof(*c->cidx));
	c->widx = calloc(s->nblocks ? s->nblocks : 1, sizeof(*c->widx));
	if (!raw || !c->cidx || !c->widx) {
		free(raw);
		return -ENOMEM;
	}
	rc = pread_full(c->fd, raw, s->index_len, s->index_off);
	if (rc == 0 && PF_SUM_MISMATCH(s->index_sum, pf_checksum(raw, s->index_len)))
		rc = PF_CORRUPT("index checksum");
	if (rc == 0)
		rc = pf_fmt_index_decode(raw, s, c->shift, c->file_len, c->cidx,
					 c->models, &c->nmodels);
	free(raw);
	if (rc < 0)
		return rc;
	memcpy(c->widx, c->cidx, s->nblocks * sizeof(*c->cidx));
	c->wn = c->wcap = s->nblocks;
	c->wsize = s->size;
	return 0;
}

static int cmp_extent(const void *a, const void *b)
{
	const pf_extent *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* Quarantines every gap between the committed extents (I2); fails on
 * overlapping extents, which only a corrupt index can produce. */
static int build_free_space(pf_container *c)
{
	pf_extent *used = malloc((c->wn + 1) * sizeof(*used));
	uint64_t n = 0, pos = PF_DATA_START;
	int rc = 0;

	if (!used)
		return -ENOMEM;
	for (uint64_t i = 0; i < c->wn; i++)
		if (c->widx[i].codec != PF_CODEC_ZERO)
			used[n++] = (pf_extent){ c->widx[i].offset, c->widx[i].stored_len };
	if (c->committed.seq)
		used[n++] = (pf_extent){ c->committed.index_off, c->committed.index_len };
	qsort(used, n, sizeof(*used), cmp_extent);
	for (uint64_t i = 0; i < n && rc == 0; i++) {
		if (used[i].off < pos) {
			rc = PF_CORRUPT("overlapping extents");
			break;
		}
		rc = pf_extents_add(&c->quarantine, pos, used[i].off - pos);
		pos = used[i].off + used[i].len;
	}
	if (rc == 0)
		rc = pf_extents_add(&c->quarantine, pos, c->file_len - pos);
	free(used);
	return rc;
}

static int open_state(pf_container *c)
{
	uint8_t head[PF_DATA_START];
	struct stat st;
	int rc;

	if (fstat(c->fd, &st) < 0)
		return -errno;
	c->file_len = (uint64_t)st.st_size;
	rc = read_head(c->fd, c->file_len, head, &c->shift, &c->committed, &c->slot_no);
	if (rc < 0)
		return rc;
	c->has_header = rc > 0 || head[0] != 0;
	memcpy(c->hdr, head, PF_HEADER_SIZE);
	if (c->file_len < PF_DATA_START)
		c->file_len = PF_DATA_START;
	if (rc == 0) {
		if (!c->has_header) {
			c->shift = (unsigned)__builtin_ctz(c->store->opts.block_size);
			pf_fmt_header_encode(c->hdr, c->shift);
		}
		c->committed = (pf_slot){ 0 };
		return build_free_space(c);
	}
	PF_FORWARD(load_index(c));
	return build_free_space(c);
}

int pf_container_open(pf_store *store, int fd, const char *label,
		      pf_container **out)
{
	pf_container *c = calloc(1, sizeof(*c));
	int rc;

	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->store = store;
	c->fd = fd;
	c->writable = !store->opts.read_only;
	c->label = strdup(label ? label : "?");
	pthread_rwlock_init(&c->lock, NULL);
	rc = c->label ? open_state(c) : -ENOMEM;
	if (rc < 0) {
		if (rc == -EIO)
			pf_log(PF_LOG_ERR, "%s: corrupt container header or index", c->label);
		pf_container_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* Truncates the file past the last extent of the n entries of idx, of the
 * quarantine (I2) and `from`: the space no state needs any more. */
static void cut_tail(pf_container *c, const pf_block_entry *idx, uint64_t n,
		     uint64_t from)
{
	uint64_t end = from;

	for (uint64_t b = 0; b < n; b++)
		if (idx[b].codec != PF_CODEC_ZERO && idx[b].offset + idx[b].stored_len > end)
			end = idx[b].offset + idx[b].stored_len;
	if (c->quarantine.n) {
		const pf_extent *q = &c->quarantine.v[c->quarantine.n - 1];

		if (q->off + q->len > end)
			end = q->off + q->len;
	}
	if (end < c->file_len && ftruncate(c->fd, (off_t)end) == 0) {
		c->file_len = end;
		pf_extents_clip(&c->free, end);
	}
}

/* Closing drops the working state, and with it the space past every extent
 * the committed state and the quarantine (I2) need: a commit that failed on
 * a full disk would otherwise keep the blocks it wrote until the file's
 * next commit. Not after a failed slot write (I4): the slot on disk may
 * name the new state then. */
static void drop_uncommitted_tail(pf_container *c)
{
	const pf_slot *s = &c->committed;

	cut_tail(c, c->cidx, s->nblocks, s->seq ? s->index_off + s->index_len : 0);
}

void pf_container_close(pf_container *c)
{
	if (!c)
		return;
	if (c->writable && c->dirty && !c->failed)
		drop_uncommitted_tail(c);
	pthread_rwlock_destroy(&c->lock);
	pf_extents_free(&c->free);
	pf_extents_free(&c->quarantine);
	free(c->cidx);
	free(c->widx);
	free(c->models);
	free(c->label);
	close(c->fd);
	free(c);
}

/* ---- accessors ------------------------------------------------------------ */

uint64_t pf_container_size(pf_container *c)
{
	uint64_t size;

	pthread_rwlock_rdlock(&c->lock);
	size = c->wsize;
	pthread_rwlock_unlock(&c->lock);
	return size;
}

uint32_t pf_container_block_size(const pf_container *c)
{
	return block_size(c); /* immutable after open */
}

uint64_t pf_container_stored_bytes(pf_container *c)
{
	struct stat st;
	uint64_t used;

	if (fstat(c->fd, &st) < 0)
		return 0;
	/* Punched free gaps take no disk; tiny files take less than a block. */
	used = (uint64_t)st.st_blocks * 512;
	return used < (uint64_t)st.st_size ? used : (uint64_t)st.st_size;
}

bool pf_container_changed(pf_container *c)
{
	bool changed;

	pthread_rwlock_rdlock(&c->lock);
	changed = c->dirty && !c->recoded_only;
	pthread_rwlock_unlock(&c->lock);
	return changed;
}

bool pf_container_dirty(pf_container *c)
{
	bool dirty;

	pthread_rwlock_rdlock(&c->lock);
	dirty = c->dirty;
	pthread_rwlock_unlock(&c->lock);
	return dirty;
}

const char *pf_container_label(const pf_container *c)
{
	return c->label;
}

int pf_container_models(pf_container *c, uint8_t (*ids)[PF_MODEL_ID_SIZE], int max)
{
	int n;

	pthread_rwlock_wrlock(&c->lock);
	pf_learned_compact(c);
	n = (int)c->nmodels;
	if (n > 0)
		memcpy(ids, c->models, (size_t)(n < max ? n : max) * PF_MODEL_ID_SIZE);
	pthread_rwlock_unlock(&c->lock);
	return n;
}

static pf_block_entry entry_at(const pf_container *c, uint64_t b)
{
	return b < c->wn ? c->widx[b] : (pf_block_entry){ 0 };
}

void pf_container_block(pf_container *c, uint64_t b, pf_block_entry *e)
{
	pthread_rwlock_rdlock(&c->lock);
	*e = entry_at(c, b);
	pthread_rwlock_unlock(&c->lock);
}

uint32_t pf_container_block_len(pf_container *c, uint64_t b)
{
	uint32_t len;

	pthread_rwlock_rdlock(&c->lock);
	len = pf_fmt_block_len(c->wsize, c->shift, b);
	pthread_rwlock_unlock(&c->lock);
	return len;
}

/* ---- reading -------------------------------------------------------------- */

static int block_fault(const pf_container *c, uint64_t b, const char *what, int rc)
{
	pf_log(PF_LOG_ERR, "%s: block %llu: %s", c->label, (unsigned long long)b, what);
	return rc == -ENOTSUP || rc == -ENOMEM ? rc : -EIO;
}

/* Decodes stored bytes of entry e (block b, plain_len bytes) into plain. */
static int decode_entry(const pf_container *c, uint64_t b, const pf_block_entry *e,
			const uint8_t *stored, void *plain, uint32_t plain_len,
			bool verify)
{
	const pf_model *model = NULL;
	int rc = 0;

	if (e->codec == PF_CODEC_LEARNED)
		rc = pf_learned_model((pf_container *)c, e->model, &model);
	if (rc < 0)
		return block_fault(c, b, "its model is missing or corrupt", -EIO);
	rc = pf_codec_decode_model(e->codec, model, stored, e->stored_len, plain, plain_len);
	if (rc == -ENOTSUP)
		return block_fault(c, b, "codec not available in this build", rc);
	if (rc < 0)
		return block_fault(c, b, "stored data does not decode", rc);
	if (verify && pf_checksum(plain, plain_len) != e->checksum)
		return block_fault(c, b, "checksum mismatch", -EIO);
	return 0;
}

/* Reads block b; the caller holds the lock (read or write) throughout. */
static int read_block_locked(pf_container *c, uint64_t b, void *plain, size_t cap,
			     uint32_t *len, bool verify)
{
	pf_block_entry e = entry_at(c, b);
	uint32_t plen = pf_fmt_block_len(c->wsize, c->shift, b);
	uint8_t *stored;
	ssize_t got;
	int rc;

	if (cap < plen)
		return -EINVAL;
	*len = plen;
	if (e.codec == PF_CODEC_ZERO) {
		memset(plain, 0, plen);
		return 0;
	}
	stored = malloc(e.stored_len);
	if (!stored)
		return -ENOMEM;
	got = pf_pread_full(c->fd, stored, e.stored_len, e.offset);
	if (got < 0) {
		char what[64];

		snprintf(what, sizeof(what), "read error: %s", strerror((int)-got));
		rc = block_fault(c, b, what, (int)got);
	} else if ((size_t)got < e.stored_len) {
		rc = block_fault(c, b, "container truncated", -EIO);
	} else {
		rc = decode_entry(c, b, &e, stored, plain, plen, verify);
	}
	free(stored);
	return rc;
}

/* ---- following a writer (read-only containers) ----------------------------- */

static bool same_slot(const pf_slot *a, const pf_slot *b)
{
	return a->seq == b->seq && a->size == b->size && a->index_off == b->index_off &&
	       a->index_len == b->index_len && a->nblocks == b->nblocks &&
	       a->index_sum == b->index_sum;
}

/* True when n holds the same bytes as c: the same size and, block by
 * block, the same plain checksum (zeros stay zeros). */
static bool same_contents(const pf_container *c, const pf_container *n)
{
	if (c->wsize != n->wsize || c->wn != n->wn || c->shift != n->shift)
		return false;
	for (uint64_t b = 0; b < c->wn; b++)
		if ((c->widx[b].codec == PF_CODEC_ZERO) != (n->widx[b].codec == PF_CODEC_ZERO) ||
		    c->widx[b].checksum != n->widx[b].checksum)
			return false;
	return true;
}

#define SWAP(a, b, field)                         \
	do {                                      \
		__typeof__((a)->field) t_ = (a)->field; \
		(a)->field = (b)->field;          \
		(b)->field = t_;                  \
	} while (0)

/* Gives c the committed state of n (which then holds c's, to be freed). */
static void swap_state(pf_container *c, pf_container *n)
{
	SWAP(c, n, committed);
	SWAP(c, n, slot_no);
	SWAP(c, n, cidx);
	SWAP(c, n, widx);
	SWAP(c, n, wn);
	SWAP(c, n, wcap);
	SWAP(c, n, file_len);
	SWAP(c, n, free);
	SWAP(c, n, quarantine);
	SWAP(c, n, models);
	SWAP(c, n, nmodels);
}

/*
 * A read-only container opened before a writer re-encoded the file
 * (priorctl recompress, or a read-write mount's background recompression
 * on shared storage) names space the writer has freed and may reuse, so
 * reads would fail. Before each block read this checks the committed slot
 * on disk; a new state with the same contents (same_contents()) is taken
 * over, one with other contents is not: a handle keeps the contents it
 * opened (priorfs(8) SHARED STORAGE). Errors leave c as it is; the read
 * then tells. OPTIMIZATION: one pread of the slots per block read.
 */
static void follow_recode(pf_container *c)
{
	uint8_t head[PF_DATA_START];
	pf_container *n = NULL;
	unsigned shift;
	pf_slot s;
	bool take, switched = false;
	int slot_no, fd;

	if (read_head(c->fd, PF_DATA_START, head, &shift, &s, &slot_no) <= 0)
		return;
	pthread_rwlock_rdlock(&c->lock);
	take = !same_slot(&s, &c->committed) && !same_slot(&s, &c->declined);
	pthread_rwlock_unlock(&c->lock);
	fd = take ? fcntl(c->fd, F_DUPFD_CLOEXEC, 0) : -1;
	if (fd < 0 || pf_container_open(c->store, fd, c->label, &n) < 0)
		return;
	pthread_rwlock_wrlock(&c->lock);
	take = !same_slot(&n->committed, &c->committed);
	switched = take && same_contents(c, n);
	if (switched)
		swap_state(c, n);
	else if (take)
		c->declined = n->committed;
	pthread_rwlock_unlock(&c->lock);
	if (switched)
		pf_log(PF_LOG_INFO, "%s: re-encoded by a writer since it was opened; "
		       "reading its new state", c->label);
	pf_container_close(n);
}

int pf_container_read_block(pf_container *c, uint64_t b, void *plain, size_t cap,
			    uint32_t *len)
{
	int rc;

	if (!c->writable)
		follow_recode(c);
	pthread_rwlock_rdlock(&c->lock);
	rc = read_block_locked(c, b, plain, cap, len, c->store->opts.verify);
	pthread_rwlock_unlock(&c->lock);
	return rc;
}

long pf_container_verify(pf_container *c, pf_block_check_fn each, void *arg)
{
	uint8_t *plain = malloc(block_size(c));
	long faults = 0;
	uint32_t len;

	if (!plain)
		return -ENOMEM;
	pthread_rwlock_rdlock(&c->lock);
	for (uint64_t b = 0; b < c->wn; b++) {
		int rc = read_block_locked(c, b, plain, block_size(c), &len, true);

		faults += rc < 0;
		if (each)
			each(arg, b, len, rc < 0 ? rc : 0);
	}
	pthread_rwlock_unlock(&c->lock);
	free(plain);
	return faults;
}

/* ---- space ---------------------------------------------------------------- */

/* Reserves len bytes: a free gap, else the quarantine once it may be reused
 * (I2), else the end of the file. */
static int alloc_extent(pf_container *c, uint64_t len, uint64_t *off)
{
	*off = pf_extents_take(&c->free, len);
	if (*off == 0 && c->quarantine.n) {
		/* OPTIMIZATION: one sync now keeps a rewritten file from growing. */
		PF_FORWARD(sync_data(c));
		PF_FORWARD(pf_extents_merge(&c->free, &c->quarantine));
		*off = pf_extents_take(&c->free, len);
	}
	if (*off == 0) {
		*off = c->file_len;
		c->file_len += len;
	}
	return 0;
}

static bool is_committed(const pf_container *c, uint64_t b, const pf_block_entry *e)
{
	return b < c->committed.nblocks && c->cidx[b].codec != PF_CODEC_ZERO &&
	       c->cidx[b].offset == e->offset && e->codec != PF_CODEC_ZERO;
}

/* Forgets working entry b; its extent is free unless committed (I1). */
static void drop_entry(pf_container *c, uint64_t b)
{
	pf_block_entry *e = &c->widx[b];

	if (e->codec != PF_CODEC_ZERO && !is_committed(c, b, e))
		pf_extents_add(&c->free, e->offset, e->stored_len);
	*e = (pf_block_entry){ 0 };
}

static int resize_index(pf_container *c, uint64_t n)
{
	if (n > c->wcap) {
		uint64_t cap = c->wcap ? c->wcap : 8;
		pf_block_entry *v;

		while (cap < n)
			cap *= 2;
		v = realloc(c->widx, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->widx = v;
		c->wcap = cap;
	}
	for (uint64_t i = n; i < c->wn; i++)
		drop_entry(c, i);
	for (uint64_t i = c->wn; i < n; i++)
		c->widx[i] = (pf_block_entry){ 0 };
	c->wn = n;
	return 0;
}

/* ---- writing -------------------------------------------------------------- */

/* Encodes plain as working block b (which must exist) and writes it. */
static int store_block(pf_container *c, uint64_t b, const void *plain, uint32_t len)
{
	size_t cap = pf_codec_bound(len);
	uint8_t *out = malloc(cap);
	pf_block_entry e = { 0 };
	pf_codec_params params;
	ssize_t n;
	int rc;

	if (!out)
		return -ENOMEM;
	rc = pf_learned_params(c, plain, len, &params);
	if (rc < 0)
		goto out_free;
	n = pf_codec_encode(&params, plain, len, out, cap, &e.codec);
	rc = n < 0 ? (int)n : 0;
	if (rc == 0 && e.codec == PF_CODEC_LEARNED) {
		rc = pf_learned_slot(c, c->write_model_id);
		e.model = (uint8_t)(rc > 0 ? rc : 0);
		rc = rc < 0 ? rc : 0;
	}
	if (rc < 0)
		goto out_free;
	if (e.codec != PF_CODEC_ZERO) {
		e.stored_len = (uint32_t)n;
		e.checksum = pf_checksum(plain, len);
		rc = alloc_extent(c, e.stored_len, &e.offset);
		if (rc == 0)
			rc = pf_pwrite_full(c->fd, out, e.stored_len, e.offset);
		if (rc < 0) {
			pf_extents_add(&c->free, e.offset, e.stored_len);
			goto out_free;
		}
	}
	drop_entry(c, b);
	c->widx[b] = e;
	c->dirty = true;
	c->recoded_only = false;
out_free:
	free(out);
	return rc;
}

/* Re-encodes block b at a new plain length: cut short, or zero-padded. */
static int restore_block(pf_container *c, uint64_t b, uint32_t old_len, uint32_t new_len)
{
	uint8_t *plain;
	uint32_t len;
	int rc;

	if (c->widx[b].codec == PF_CODEC_ZERO || old_len == new_len)
		return 0;
	plain = calloc(1, block_size(c));
	if (!plain)
		return -ENOMEM;
	rc = read_block_locked(c, b, plain, block_size(c), &len, true);
	if (rc == 0) {
		uint64_t keep = c->wsize;

		c->wsize = ((uint64_t)b << c->shift) + new_len;
		memset(plain + (new_len < old_len ? new_len : old_len), 0,
		       block_size(c) - (new_len < old_len ? new_len : old_len));
		rc = store_block(c, b, plain, new_len);
		c->wsize = keep;
	}
	free(plain);
	return rc;
}

/* Sets the working size; `skip` names a block the caller is about to
 * rewrite, which need not be re-encoded (UINT64_MAX for none). */
static int set_size_locked(pf_container *c, uint64_t size, uint64_t skip)
{
	uint64_t old = c->wsize, n = pf_fmt_nblocks(size, c->shift);
	uint64_t edge = size < old ? n - 1 : pf_fmt_nblocks(old, c->shift) - 1;

	if (size == old)
		return 0;
	if (size > old && old == 0)
		edge = UINT64_MAX;
	if (size < old && size == 0)
		edge = UINT64_MAX;
	/* The block holding the old or new end changes length. */
	if (edge != UINT64_MAX && edge != skip && edge < c->wn)
		PF_FORWARD(restore_block(c, edge, pf_fmt_block_len(old, c->shift, edge),
					 pf_fmt_block_len(size, c->shift, edge)));
	PF_FORWARD(resize_index(c, n));
	c->wsize = size;
	c->dirty = true;
	c->recoded_only = false;
	return 0;
}

static int check_writable(const pf_container *c)
{
	if (!c->writable)
		return -EROFS;
	return c->failed ? -EIO : 0;
}

int pf_container_write_block(pf_container *c, uint64_t b, const void *plain,
			     uint32_t len)
{
	uint64_t end = ((uint64_t)b << c->shift) + len;
	int rc;

	if (len == 0 || len > block_size(c) || b > (UINT64_MAX >> c->shift) - 1)
		return -EINVAL;
	pthread_rwlock_wrlock(&c->lock);
	rc = check_writable(c);
	if (rc == 0 && end > c->wsize)
		rc = set_size_locked(c, end, b);
	if (rc == 0 && len != pf_fmt_block_len(c->wsize, c->shift, b))
		rc = -EINVAL; /* only the last block may be short */
	if (rc == 0)
		rc = store_block(c, b, plain, len);
	pthread_rwlock_unlock(&c->lock);
	return rc;
}

int pf_container_set_size(pf_container *c, uint64_t size)
{
	int rc;

	pthread_rwlock_wrlock(&c->lock);
	rc = check_writable(c);
	if (rc == 0)
		rc = set_size_locked(c, size, UINT64_MAX);
	pthread_rwlock_unlock(&c->lock);
	return rc;
}

/* ---- re-encoding in place ------------------------------------------------- */

/* The default model recodes of c use: picked by a trial of the first block
 * recoded (slow, so without the lock; two racing picks agree or either will
 * do). *model is NULL when the store has no default model. */
static int recode_model(pf_container *c, const void *plain, uint32_t len,
			const pf_model **model, uint8_t id[PF_MODEL_ID_SIZE])
{
	bool picked;

	pthread_rwlock_rdlock(&c->lock);
	picked = c->recode_picked;
	*model = c->recode_model;
	memcpy(id, c->recode_model_id, PF_MODEL_ID_SIZE);
	pthread_rwlock_unlock(&c->lock);
	if (picked)
		return 0;
	PF_FORWARD(pf_learned_best(c->store, plain, len, model, id));
	pthread_rwlock_wrlock(&c->lock);
	c->recode_picked = true;
	c->recode_model = *model;
	memcpy(c->recode_model_id, id, PF_MODEL_ID_SIZE);
	pthread_rwlock_unlock(&c->lock);
	return 0;
}

static bool same_entry(const pf_block_entry *a, const pf_block_entry *b)
{
	return a->offset == b->offset && a->stored_len == b->stored_len &&
	       a->codec == b->codec && a->checksum == b->checksum;
}

/* Makes e (stored bytes at out, model id) working block b, if b is still
 * `was` at plain length len. */
static int recode_install(pf_container *c, uint64_t b, uint32_t len,
			  const pf_block_entry *was, pf_block_entry *e,
			  const uint8_t *out, const uint8_t id[PF_MODEL_ID_SIZE])
{
	pf_block_entry cur;
	int rc;

	pthread_rwlock_wrlock(&c->lock);
	rc = check_writable(c);
	cur = entry_at(c, b);
	if (rc == 0 && (!same_entry(&cur, was) ||
			pf_fmt_block_len(c->wsize, c->shift, b) != len))
		rc = -EAGAIN;
	if (rc == 0) {
		rc = pf_learned_slot(c, id);
		e->model = (uint8_t)(rc > 0 ? rc : 0);
		rc = rc < 0 ? rc : 0;
	}
	if (rc == 0)
		rc = alloc_extent(c, e->stored_len, &e->offset);
	if (rc == 0) {
		rc = pf_pwrite_full(c->fd, out, e->stored_len, e->offset);
		if (rc < 0)
			pf_extents_add(&c->free, e->offset, e->stored_len);
	}
	if (rc == 0) {
		if (!c->dirty)
			c->recoded_only = true;
		drop_entry(c, b);
		c->widx[b] = *e;
		c->dirty = true;
	}
	pthread_rwlock_unlock(&c->lock);
	return rc;
}

int pf_container_recode_block(pf_container *c, uint64_t b, bool *coded)
{
	uint32_t bs = block_size(c), len = 0;
	uint8_t *plain = malloc(bs), *out = NULL;
	uint8_t id[PF_MODEL_ID_SIZE];
	pf_codec_params params = c->store->opts.codec;
	pf_block_entry was, e = { 0 };
	ssize_t n = 0;
	int rc;

	*coded = false;
	if (!plain)
		return -ENOMEM;
	pthread_rwlock_rdlock(&c->lock);
	rc = check_writable(c);
	was = entry_at(c, b);
	if (rc == 0 && (was.codec == PF_CODEC_ZSTD || was.codec == PF_CODEC_RAW))
		rc = read_block_locked(c, b, plain, bs, &len, true);
	else if (rc == 0)
		rc = 1; /* a hole, zeros, or learned already */
	pthread_rwlock_unlock(&c->lock);
	if (rc == 0)
		rc = recode_model(c, plain, len, &params.model, id);
	if (rc == 0 && !params.model)
		rc = 1;
	params.choice = PF_CHOICE_LEARNED; /* zstd made what is stored */
	if (rc == 0 && !(out = malloc(pf_codec_bound(len))))
		rc = -ENOMEM;
	*coded = rc == 0;
	if (rc == 0) {
		n = pf_codec_encode(&params, plain, len, out, pf_codec_bound(len), &e.codec);
		rc = n < 0 ? (int)n : 0;
	}
	if (rc == 0 && (e.codec != PF_CODEC_LEARNED || (uint64_t)n >= was.stored_len))
		rc = 1; /* the learned codec does not beat what is stored */
	if (rc == 0) {
		e.stored_len = (uint32_t)n;
		e.checksum = was.checksum;
		rc = recode_install(c, b, len, &was, &e, out, id);
	}
	free(out);
	free(plain);
	return rc < 0 ? rc : rc == 0;
}

/* ---- committing ----------------------------------------------------------- */

/* Writes the working index; sets *s to the slot that will name it. */
static int write_index(pf_container *c, pf_slot *s)
{
	uint64_t len;
	uint8_t *raw;
	int rc;

	pf_learned_compact(c);
	len = pf_fmt_index_len(c->wn, c->nmodels);
	if (len > UINT32_MAX || c->wn > UINT32_MAX)
		return -EFBIG;
	raw = malloc(len);
	if (!raw)
		return -ENOMEM;
	pf_fmt_index_encode(c->widx, c->wn, (const uint8_t(*)[PF_MODEL_ID_SIZE])c->models,
			    c->nmodels, raw);
	*s = (pf_slot){ .seq = c->committed.seq + 1, .size = c->wsize,
			.index_len = (uint32_t)len, .nblocks = (uint32_t)c->wn,
			.index_sum = pf_checksum(raw, len) };
	rc = alloc_extent(c, len, &s->index_off);
	if (rc == 0)
		rc = pf_pwrite_full(c->fd, raw, len, s->index_off);
	if (rc < 0)
		pf_extents_add(&c->free, s->index_off, len);
	free(raw);
	return rc;
}

/* After the switch: the old state's extents go to quarantine (I2). */
static int retire_committed(pf_container *c)
{
	const pf_slot *old = &c->committed;
	pf_block_entry *keep;

	for (uint64_t b = 0; b < old->nblocks; b++) {
		const pf_block_entry *e = &c->cidx[b];

		if (e->codec != PF_CODEC_ZERO &&
		    (b >= c->wn || c->widx[b].offset != e->offset))
			PF_FORWARD(pf_extents_add(&c->quarantine, e->offset, e->stored_len));
	}
	if (old->seq)
		PF_FORWARD(pf_extents_add(&c->quarantine, old->index_off, old->index_len));
	keep = realloc(c->cidx, (c->wn ? c->wn : 1) * sizeof(*keep));
	if (!keep)
		return -ENOMEM;
	memcpy(keep, c->widx, c->wn * sizeof(*keep));
	c->cidx = keep;
	return 0;
}

/* Gives back the tail no state uses and punches large free gaps (§4). */
static void trim_space(pf_container *c)
{
	cut_tail(c, c->widx, c->wn, c->committed.index_off + c->committed.index_len);
	for (size_t i = 0; i < c->free.n; i++) {
		uint64_t lo = (c->free.v[i].off + 4095) & ~4095ull;
		uint64_t hi = (c->free.v[i].off + c->free.v[i].len) & ~4095ull;

		if (hi > lo && hi - lo >= (64u << 10)) /* OPTIMIZATION */
			fallocate(c->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				  (off_t)lo, (off_t)(hi - lo));
	}
}

static int commit_locked(pf_container *c, bool durable)
{
	uint8_t raw[PF_SLOT_SIZE];
	pf_slot s;
	int slot_no = c->committed.seq ? 1 - c->slot_no : 0;
	int rc;

	if (!c->dirty)
		return durable ? sync_data(c) : 0;
	if (!c->has_header) {
		PF_FORWARD(pf_pwrite_full(c->fd, c->hdr, PF_HEADER_SIZE, 0));
		c->has_header = true;
	}
	PF_FORWARD(write_index(c, &s));
	rc = sync_data(c); /* (I3) */
	if (rc < 0) {
		pf_extents_add(&c->free, s.index_off, s.index_len);
		return rc;
	}
	PF_FORWARD(pf_extents_merge(&c->free, &c->quarantine));
	pf_fmt_slot_encode(c->hdr, &s, raw);
	rc = pf_pwrite_full(c->fd, raw, PF_SLOT_SIZE, PF_HEADER_SIZE + slot_no * PF_SLOT_SIZE);
	if (rc == 0 && (durable || c->store->opts.sync))
		rc = sync_data(c);
	if (rc == 0)
		rc = retire_committed(c);
	if (rc < 0) {
		c->failed = true; /* (I4) */
		pf_log(PF_LOG_ERR, "%s: commit failed: %s; file is read-only until reopened",
		       c->label, strerror(-rc));
		return rc;
	}
	c->committed = s;
	c->slot_no = slot_no;
	c->dirty = false;
	/* A durable commit has its slot on disk: the old state is garbage now
	 * (I2), so its space is freed (and punched) at once. */
	if (durable || c->store->opts.sync)
		pf_extents_merge(&c->free, &c->quarantine);
	trim_space(c);
	return 0;
}

int pf_container_commit(pf_container *c, bool durable)
{
	int rc;

	pthread_rwlock_wrlock(&c->lock);
	rc = check_writable(c);
	if (rc == 0)
		rc = commit_locked(c, durable);
	pthread_rwlock_unlock(&c->lock);
	return rc;
}

/* SPDX-License-Identifier: MIT */
/*
 * cmd_stat.c - "priorctl stat [--json] [--depth N] STORE|MOUNTPOINT": how
 * much a store saves, per directory, per file type, per data kind and in
 * total, and the models its files use; or, given the root of a running
 * mount, that mount's cache and decode figures.
 *
 * Logical size is what the mount shows; stored size is the length of each
 * container file, so it includes headers, indexes and free gaps that a commit
 * has not trimmed yet. Block counts per codec come from each container's
 * index. Containers are read in their last committed state.
 *
 * Groups are kept in a small open-addressing hash table (a store may hold a
 * great many directories or extensions) and sorted only for output. The
 * data kind is sniffed (pctl_kind_sniff, as import's sampling does) from the
 * first bytes of each file, which costs one block decode per file.
 *
 * A mount is told from a store by its root answering the xattr
 * user.priorfs.stats (fs_xattr.c): "key=value" lines, "version=1" first.
 * Unknown keys are skipped, so a newer daemon may add some.
 */
#include "priorctl/priorctl.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "common/pf_common.h"

static const char stat_usage[] =
	"usage: priorctl stat [--json] [--depth N] STORE|MOUNTPOINT\n"
	"\n"
	"Shows logical size (as seen through the mount) against stored size\n"
	"(container bytes), file counts and blocks per codec: per directory\n"
	"down to depth N, per file type (extension), per data kind and in\n"
	"total, then the models the files use.\n"
	"Given the root of a running priorfs mount instead, shows its cache\n"
	"hit rate, decode throughput per codec, read-ahead queue and cache use.\n"
	"\n"
	"  -j, --json       print JSON instead of tables\n"
	"  -d, --depth N    group directories N levels deep (default 1);\n"
	"                   files further down count in their ancestor\n"
	"  -v, --verbose    also show the store layer's log lines\n"
	"  -h, --help       show this help\n";

#define CODEC_SLOTS (PF_CODEC_MAX_ID + 2) /* ids 0..MAX, then "unknown" */

struct counts {
	uint64_t files;
	uint64_t logical; /* bytes */
	uint64_t stored;  /* bytes of container files */
	uint64_t blocks[CODEC_SLOTS]; /* by codec id; last slot: unknown id */
};

struct group {
	char *name; /* directory path or lower-cased extension */
	struct counts n;
};

/* Groups in insertion order, indexed by an open-addressing hash table. */
struct group_map {
	struct group *v;
	size_t count, cap; /* groups used and allocated at v */
	size_t *slots;     /* index + 1 into v, 0 for an empty slot */
	size_t nslots;     /* a power of two, at least twice count */
};

/* A model some block uses. */
struct model_use {
	uint8_t id[PF_MODEL_ID_SIZE];
	uint64_t files, blocks;
};

/* Bytes sniffed for the data kind, as import's sampling takes. */
#define KIND_HEAD 4096u

struct stat_ctx {
	pf_store *store;
	unsigned depth; /* directory levels shown, >= 1 */
	struct group_map dirs, types;
	struct counts kinds[PCTL_KIND_COUNT];
	struct counts total;
	struct model_use *models; /* in first-seen order */
	size_t nmodels, models_cap;
	uint8_t (*ids)[PF_MODEL_ID_SIZE]; /* PCTL_MODEL_SLOTS; scratch */
	uint8_t *block;                   /* PF_BLOCK_SIZE_MAX; scratch */
	unsigned long errors; /* entries that could not be read */
};

/* ---- group table --------------------------------------------------------- */

static uint64_t key_hash(const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)key[i]) * 0x100000001b3ull;
	return h;
}

static size_t *slot_find(const struct group_map *m, const char *key,
			 size_t len)
{
	size_t mask = m->nslots - 1;
	size_t i = (size_t)key_hash(key, len) & mask;

	for (;; i = (i + 1) & mask) {
		const struct group *g;

		if (!m->slots[i])
			return &m->slots[i];
		g = &m->v[m->slots[i] - 1];
		if (!strncmp(g->name, key, len) && g->name[len] == '\0')
			return &m->slots[i];
	}
}

static int map_grow(struct group_map *m)
{
	size_t nslots = m->nslots ? 2 * m->nslots : 64;
	size_t *old = m->slots;
	size_t old_n = m->nslots;

	if (nslots < m->nslots)
		return -ENOMEM;
	m->slots = calloc(nslots, sizeof(*m->slots));
	if (!m->slots) {
		m->slots = old;
		return -ENOMEM;
	}
	m->nslots = nslots;
	for (size_t i = 0; i < old_n; i++) {
		if (old[i]) {
			const char *name = m->v[old[i] - 1].name;

			*slot_find(m, name, strlen(name)) = old[i];
		}
	}
	free(old);
	return 0;
}

static int map_append(struct group_map *m, const char *key, size_t len)
{
	struct group *g;

	if (m->count == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 32;
		struct group *v = reallocarray(m->v, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		m->v = v;
		m->cap = cap;
	}
	g = &m->v[m->count];
	memset(g, 0, sizeof(*g));
	g->name = strndup(key, len);
	if (!g->name)
		return -ENOMEM;
	m->count++;
	return 0;
}

/* Finds the group named key[0..len), adding an empty one if missing. */
static int map_get(struct group_map *m, const char *key, size_t len,
		   struct group **out)
{
	size_t *slot;

	if (2 * (m->count + 1) > m->nslots)
		PF_FORWARD(map_grow(m));
	slot = slot_find(m, key, len);
	if (!*slot) {
		PF_FORWARD(map_append(m, key, len));
		*slot = m->count;
	}
	*out = &m->v[*slot - 1];
	return 0;
}

static void map_free(struct group_map *m)
{
	for (size_t i = 0; i < m->count; i++)
		free(m->v[i].name);
	free(m->v);
	free(m->slots);
}

/* ---- counting ------------------------------------------------------------ */

static void counts_add(struct counts *to, const struct counts *n)
{
	to->files += n->files;
	to->logical += n->logical;
	to->stored += n->stored;
	for (int i = 0; i < CODEC_SLOTS; i++)
		to->blocks[i] += n->blocks[i];
}

/* The use record of model id, added with no use if missing. */
static struct model_use *model_get(struct stat_ctx *s, const uint8_t *id)
{
	for (size_t i = 0; i < s->nmodels; i++)
		if (!memcmp(s->models[i].id, id, PF_MODEL_ID_SIZE))
			return &s->models[i];
	if (s->nmodels == s->models_cap) {
		size_t cap = s->models_cap ? 2 * s->models_cap : 8;
		struct model_use *v = reallocarray(s->models, cap, sizeof(*v));

		if (!v)
			return NULL;
		s->models = v;
		s->models_cap = cap;
	}
	memset(&s->models[s->nmodels], 0, sizeof(*s->models));
	memcpy(s->models[s->nmodels].id, id, PF_MODEL_ID_SIZE);
	return &s->models[s->nmodels++];
}

/* Counts the container's blocks per codec into n and per model into s. */
static int count_container(struct stat_ctx *s, pf_container *c,
			   struct counts *n)
{
	struct model_use *use[PCTL_MODEL_SLOTS] = { NULL };
	/* first: it may renumber the slots of the working index */
	int nids = pf_container_models(c, s->ids, PCTL_MODEL_SLOTS);
	uint64_t nblocks = pctl_container_blocks(c);
	pf_block_entry e;

	if (nids > PCTL_MODEL_SLOTS)
		nids = PCTL_MODEL_SLOTS;
	for (int i = 0; i < nids; i++) {
		use[i] = model_get(s, s->ids[i]);
		if (!use[i])
			return -ENOMEM;
		use[i]->files++;
	}
	n->files = 1;
	n->logical = pf_container_size(c);
	n->stored = pf_container_stored_bytes(c);
	for (uint64_t b = 0; b < nblocks; b++) {
		pf_container_block(c, b, &e);
		n->blocks[e.codec <= PF_CODEC_MAX_ID ? e.codec : CODEC_SLOTS - 1]++;
		if (e.model && e.model <= nids)
			use[e.model - 1]->blocks++;
	}
	return 0;
}

/* The data kind of a container from its name and first bytes. */
static int sniff_container(struct stat_ctx *s, pf_container *c,
			   const char *name, enum pctl_kind *kind)
{
	uint8_t head[KIND_HEAD];
	uint64_t size = pf_container_size(c);
	size_t n = size < KIND_HEAD ? (size_t)size : KIND_HEAD;

	PF_FORWARD(pctl_container_read(c, 0, head, n, s->block));
	*kind = pctl_kind_sniff(name, head, n);
	return 0;
}

/* The directory group of path: its first `depth` components, or "." for
 * a file in the root. */
static size_t dir_key(const char *path, unsigned depth, const char **key)
{
	const char *end = NULL;
	unsigned seen = 0;

	for (const char *p = path; *p; p++) {
		if (*p == '/') {
			end = p;
			if (++seen == depth)
				break;
		}
	}
	*key = end ? path : ".";
	return end ? (size_t)(end - path) : 1;
}

/* The type group of a file name: its extension, lower-cased. Dot files
 * without another dot and names ending in a dot have none. */
static size_t type_key(const char *name, char buf[NAME_MAX + 1],
		       const char **key)
{
	const char *dot = strrchr(name, '.');
	size_t len;

	if (!dot || dot == name || dot[1] == '\0') {
		*key = "(none)";
		return strlen(*key);
	}
	len = strnlen(dot + 1, NAME_MAX);
	for (size_t i = 0; i < len; i++) {
		char ch = dot[1 + i];

		buf[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
	}
	*key = buf;
	return len;
}

static int stat_add(struct stat_ctx *s, const char *path, const char *name,
		    enum pctl_kind kind, const struct counts *n)
{
	char buf[NAME_MAX + 1];
	struct group *g;
	const char *key;
	size_t len;

	len = dir_key(path, s->depth, &key);
	PF_FORWARD(map_get(&s->dirs, key, len, &g));
	counts_add(&g->n, n);
	len = type_key(name, buf, &key);
	PF_FORWARD(map_get(&s->types, key, len, &g));
	counts_add(&g->n, n);
	counts_add(&s->kinds[kind], n);
	counts_add(&s->total, n);
	return 0;
}

static void stat_error(void *arg, const char *path, const char *what, int err)
{
	struct stat_ctx *s = arg;

	s->errors++;
	fprintf(stderr, PCTL_PROG ": stat: ");
	pctl_print_name(stderr, path);
	fprintf(stderr, ": %s: %s\n", what, strerror(-err));
}

static int stat_file(void *arg, int dirfd, const char *name, const char *path,
		     const struct stat *st)
{
	struct stat_ctx *s = arg;
	struct counts n = { 0 };
	enum pctl_kind kind;
	pf_container *c;
	int rc;

	(void)st; /* the container's own size is what counts */
	rc = pctl_container_open(s->store, dirfd, name, path, &c);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		stat_error(s, path,
			   rc == -EIO ? "corrupt container header or index"
				      : "open",
			   rc);
		return 0;
	}
	rc = sniff_container(s, c, name, &kind);
	if (rc == 0)
		rc = count_container(s, c, &n);
	pf_container_close(c);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		stat_error(s, path, "corrupt first block", rc);
		return 0;
	}
	return stat_add(s, path, name, kind, &n);
}

/* ---- output -------------------------------------------------------------- */

static int group_by_name(const void *a, const void *b)
{
	return strcmp(((const struct group *)a)->name,
		      ((const struct group *)b)->name);
}

/* Biggest stored size first: where the space goes. */
static int group_by_stored(const void *a, const void *b)
{
	const struct group *x = a, *y = b;

	if (x->n.stored != y->n.stored)
		return x->n.stored < y->n.stored ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* Orders the groups for output. The hash slots are stale afterwards, so
 * the map takes no more map_get() calls. */
static void map_sort(struct group_map *m,
		     int (*cmp)(const void *, const void *))
{
	if (m->count) /* qsort(NULL, 0, ...) is undefined */
		qsort(m->v, m->count, sizeof(*m->v), cmp);
}

static void human_row(const struct counts *n, const char *name)
{
	char l[16], s[16], r[16] = "-";

	if (n->stored)
		snprintf(r, sizeof(r), "%.2fx",
			 (double)n->logical / (double)n->stored);
	printf("%8" PRIu64 " %9s %9s %9s %9" PRIu64 " %9" PRIu64 " %9" PRIu64
	       " %9" PRIu64 "  ", n->files, pctl_human_size(n->logical, l),
	       pctl_human_size(n->stored, s), r, n->blocks[PF_CODEC_RAW],
	       n->blocks[PF_CODEC_ZSTD], n->blocks[PF_CODEC_LEARNED],
	       n->blocks[PF_CODEC_ZERO]);
	pctl_print_name(stdout, name);
	putchar('\n');
}

static void human_table(const struct group_map *m, const char *title)
{
	printf("%8s %9s %9s %9s %9s %9s %9s %9s  %s\n", "FILES", "LOGICAL",
	       "STORED", "RATIO", "RAW", "ZSTD", "LEARNED", "ZERO", title);
	for (size_t i = 0; i < m->count; i++)
		human_row(&m->v[i].n, m->v[i].name);
}

static void print_human(const struct stat_ctx *s)
{
	char hex[2 * PF_MODEL_ID_SIZE + 1];

	human_table(&s->dirs, "DIRECTORY");
	putchar('\n');
	human_table(&s->types, "TYPE");
	putchar('\n');
	printf("%8s %9s %9s %9s %9s %9s %9s %9s  %s\n", "FILES", "LOGICAL",
	       "STORED", "RATIO", "RAW", "ZSTD", "LEARNED", "ZERO", "KIND");
	for (int k = 0; k < PCTL_KIND_COUNT; k++)
		if (s->kinds[k].files)
			human_row(&s->kinds[k], pctl_kind_name(k));
	putchar('\n');
	human_row(&s->total, "(total)");
	if (!s->nmodels)
		return;
	printf("\n%8s %9s  %s\n", "FILES", "BLOCKS", "MODEL");
	for (size_t i = 0; i < s->nmodels; i++) {
		pctl_id_hex(s->models[i].id, 2 * PF_MODEL_ID_SIZE, hex);
		printf("%8" PRIu64 " %9" PRIu64 "  %s\n", s->models[i].files,
		       s->models[i].blocks, hex);
	}
}

/*
 * JSON strings must be UTF-8, but names may hold any bytes. Valid UTF-8
 * passes through; every other byte 0xNN comes out as \udcNN, the lone
 * surrogate Python's "surrogateescape" uses, so no two names collide and
 * the bytes can be recovered (os.fsencode).
 */
/* The letter of a control byte's short JSON escape (\n), or 0. */
static char json_short_escape(unsigned char c)
{
	switch (c) {
	case '\b': return 'b';
	case '\f': return 'f';
	case '\n': return 'n';
	case '\r': return 'r';
	case '\t': return 't';
	default: return 0;
	}
}

static void json_string(const char *str)
{
	const unsigned char *p = (const unsigned char *)str;

	putchar('"');
	while (*p) {
		size_t n = pctl_utf8_len(p);

		if (!n)
			printf("\\udc%02x", *p++);
		else if (*p == '"' || *p == '\\')
			printf("\\%c", *p++);
		else if (json_short_escape(*p))
			printf("\\%c", json_short_escape(*p++));
		else if (*p < 0x20)
			printf("\\u%04x", *p++);
		else {
			fwrite(p, 1, n, stdout);
			p += n;
		}
	}
	putchar('"');
}

static void json_counts(const struct counts *n)
{
	printf("\"files\": %" PRIu64 ", \"logical_bytes\": %" PRIu64
	       ", \"stored_bytes\": %" PRIu64 ", \"ratio\": ",
	       n->files, n->logical, n->stored);
	if (n->stored)
		printf("%.4f", (double)n->logical / (double)n->stored);
	else
		fputs("null", stdout);
	printf(", \"blocks\": {\"zero\": %" PRIu64 ", \"raw\": %" PRIu64
	       ", \"zstd\": %" PRIu64 ", \"learned\": %" PRIu64
	       ", \"unknown\": %" PRIu64 "}",
	       n->blocks[PF_CODEC_ZERO], n->blocks[PF_CODEC_RAW],
	       n->blocks[PF_CODEC_ZSTD], n->blocks[PF_CODEC_LEARNED],
	       n->blocks[CODEC_SLOTS - 1]);
}

static void json_groups(const struct group_map *m, const char *list,
			const char *key)
{
	printf("  \"%s\": [", list);
	for (size_t i = 0; i < m->count; i++) {
		printf("%s\n    {\"%s\": ", i ? "," : "", key);
		json_string(m->v[i].name);
		fputs(", ", stdout);
		json_counts(&m->v[i].n);
		putchar('}');
	}
	printf("%s]", m->count ? "\n  " : "");
}

static void print_json(const struct stat_ctx *s, const char *store)
{
	fputs("{\n  \"store\": ", stdout);
	json_string(store);
	printf(",\n  \"depth\": %u,\n  \"errors\": %lu,\n  \"total\": {",
	       s->depth, s->errors);
	json_counts(&s->total);
	fputs("},\n", stdout);
	json_groups(&s->dirs, "directories", "directory");
	fputs(",\n", stdout);
	json_groups(&s->types, "types", "type");
	fputs(",\n  \"kinds\": [", stdout);
	for (int k = 0, first = 1; k < PCTL_KIND_COUNT; k++) {
		if (!s->kinds[k].files)
			continue;
		printf("%s\n    {\"kind\": \"%s\", ", first ? "" : ",",
		       pctl_kind_name(k));
		json_counts(&s->kinds[k]);
		putchar('}');
		first = 0;
	}
	fputs("\n  ],\n  \"models\": [", stdout);
	for (size_t i = 0; i < s->nmodels; i++) {
		char hex[2 * PF_MODEL_ID_SIZE + 1];

		pctl_id_hex(s->models[i].id, 2 * PF_MODEL_ID_SIZE, hex);
		printf("%s\n    {\"id\": \"%s\", \"files\": %" PRIu64
		       ", \"blocks\": %" PRIu64 "}", i ? "," : "", hex,
		       s->models[i].files, s->models[i].blocks);
	}
	fputs("\n  ]\n}\n", stdout);
}

/* ---- a running mount ----------------------------------------------------- */

#define STATS_XATTR "user.priorfs.stats"
#define STATS_VERSION 1
#define STATS_KEYS_MAX 64

/* The parsed value of STATS_XATTR: keys and values point into text. */
struct mount_stats {
	char *text;
	size_t n;
	const char *key[STATS_KEYS_MAX], *val[STATS_KEYS_MAX];
};

/* Reads STATS_XATTR of path into m. @return 0, -ENODATA/-ENOTSUP when path
 * is not the root of a priorfs mount, or another negative errno. */
static int mount_stats_read(const char *path, struct mount_stats *m)
{
	ssize_t len = getxattr(path, STATS_XATTR, NULL, 0);

	memset(m, 0, sizeof(*m));
	if (len < 0)
		return -errno;
	/* +64: the counters may have grown a digit since the size query. */
	m->text = malloc((size_t)len + 65);
	if (!m->text)
		return -ENOMEM;
	len = getxattr(path, STATS_XATTR, m->text, (size_t)len + 64);
	if (len < 0) {
		int rc = -errno;

		free(m->text);
		m->text = NULL;
		return rc;
	}
	m->text[len] = '\0';
	for (char *line = strtok(m->text, "\n"); line && m->n < STATS_KEYS_MAX;
	     line = strtok(NULL, "\n")) {
		char *eq = strchr(line, '=');

		if (!eq)
			continue;
		*eq = '\0';
		m->key[m->n] = line;
		m->val[m->n++] = eq + 1;
	}
	return 0;
}

/* The value of key as a number; 0 when absent (an older daemon). */
static uint64_t mount_stat(const struct mount_stats *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->key[i], key))
			return strtoull(m->val[i], NULL, 10);
	return 0;
}

/* The codec named by key "decoded_bytes.<codec>", or NULL. */
static const char *stats_codec(const char *key)
{
	static const char prefix[] = "decoded_bytes.";

	return strncmp(key, prefix, sizeof(prefix) - 1) ? NULL
							: key + sizeof(prefix) - 1;
}

/* Decoded MB/s (10^6 bytes) of one codec, or a negative value when it has
 * not decoded anything yet. */
static double codec_rate(const struct mount_stats *m, const char *codec,
			 uint64_t *bytes, double *secs)
{
	char key[64];

	snprintf(key, sizeof(key), "decoded_bytes.%s", codec);
	*bytes = mount_stat(m, key);
	snprintf(key, sizeof(key), "decode_ns.%s", codec);
	*secs = (double)mount_stat(m, key) / 1e9;
	return *secs > 0 ? (double)*bytes / 1e6 / *secs : -1;
}

static void mount_human(const struct mount_stats *m, const char *path)
{
	uint64_t hits = mount_stat(m, "hits"), misses = mount_stat(m, "misses");
	char a[16], b[16];

	fputs("mount ", stdout);
	pctl_print_name(stdout, path);
	printf(" (statistics version %" PRIu64 ")\n", mount_stat(m, "version"));
	printf("cache:      %s of %s in use\n",
	       pctl_human_size(mount_stat(m, "cache_bytes"), a),
	       pctl_human_size(mount_stat(m, "cache_size"), b));
	printf("lookups:    %" PRIu64 " hits, %" PRIu64 " misses", hits, misses);
	if (hits + misses)
		printf(", hit rate %.1f%%",
		       100.0 * (double)hits / (double)(hits + misses));
	printf("\ndecoded:    %s in %" PRIu64 " blocks\n",
	       pctl_human_size(mount_stat(m, "decoded_bytes"), a),
	       mount_stat(m, "decodes"));
	for (size_t i = 0; i < m->n; i++) {
		const char *codec = stats_codec(m->key[i]);
		uint64_t bytes;
		double secs, rate;

		if (!codec)
			continue;
		rate = codec_rate(m, codec, &bytes, &secs);
		printf("  %-8s  %9s in %8.3f s", codec,
		       pctl_human_size(bytes, a), secs);
		if (rate >= 0)
			printf(", %.1f MB/s", rate);
		putchar('\n');
	}
	printf("read-ahead: %" PRIu64 " queued, %" PRIu64 " running, %" PRIu64
	       " done, %" PRIu64 " dropped, queue depth %" PRIu64 "\n",
	       mount_stat(m, "readahead_queued"),
	       mount_stat(m, "readahead_running"),
	       mount_stat(m, "readahead_done"),
	       mount_stat(m, "readahead_dropped"), mount_stat(m, "queue_depth"));
	if (mount_stat(m, "recompress"))
		printf("background: %" PRIu64 " scans, %" PRIu64 " files coded (%s), %" PRIu64
		       " files and %" PRIu64 " blocks moved to the learned codec\n",
		       mount_stat(m, "recompress_scans"),
		       mount_stat(m, "recompress_tries"),
		       pctl_human_size(mount_stat(m, "recompress_coded"), a),
		       mount_stat(m, "recompress_files"),
		       mount_stat(m, "recompress_blocks"));
	else
		puts("background: recompression off");
	if (mount_stat(m, "train"))
		printf("train=auto: %" PRIu64 " runs, %" PRIu64 " models made the "
		       "default\n", mount_stat(m, "train_runs"),
		       mount_stat(m, "train_models"));
}

static void mount_json(const struct mount_stats *m, const char *path)
{
	uint64_t hits = mount_stat(m, "hits"), misses = mount_stat(m, "misses");
	static const char *const plain[] = {
		"version", "hits", "misses", "decodes", "decoded_bytes",
		"readahead_queued", "readahead_running", "readahead_done",
		"readahead_dropped", "queue_depth", "cache_bytes", "cache_size", "recompress",
		"recompress_scans", "recompress_tries", "recompress_files", "recompress_blocks",
		"recompress_coded",
		"train", "train_runs", "train_models",
	};

	fputs("{\n  \"mount\": ", stdout);
	json_string(path);
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		printf(",\n  \"%s\": %" PRIu64, plain[i],
		       mount_stat(m, plain[i]));
	fputs(",\n  \"hit_rate\": ", stdout);
	if (hits + misses)
		printf("%.4f", (double)hits / (double)(hits + misses));
	else
		fputs("null", stdout);
	fputs(",\n  \"codecs\": {", stdout);
	for (size_t i = 0, first = 1; i < m->n; i++) {
		const char *codec = stats_codec(m->key[i]);
		uint64_t bytes;
		double secs, rate;

		if (!codec)
			continue;
		rate = codec_rate(m, codec, &bytes, &secs);
		fputs(first ? "\n    " : ",\n    ", stdout);
		json_string(codec);
		printf(": {\"decoded_bytes\": %" PRIu64
		       ", \"decode_seconds\": %.6f, \"mb_per_s\": ",
		       bytes, secs);
		if (rate >= 0)
			printf("%.3f}", rate);
		else
			fputs("null}", stdout);
		first = 0;
	}
	fputs("\n  }\n}\n", stdout);
}

/* Prints the figures of the mount at path, whose statistics are in m. */
static int stat_mount(struct mount_stats *m, const char *path, bool json)
{
	int status = PCTL_EXIT_OK;

	if (mount_stat(m, "version") != STATS_VERSION) {
		pctl_err("stat: %s: mount statistics version %" PRIu64
			 ", this priorctl reads version %d", path,
			 mount_stat(m, "version"), STATS_VERSION);
		status = PCTL_EXIT_FAULT;
	} else if (json) {
		mount_json(m, path);
	} else {
		mount_human(m, path);
	}
	free(m->text);
	return status;
}

/* ---- command ------------------------------------------------------------- */

static int parse_depth(const char *arg, unsigned *depth)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v < 1 ||
	    v > UINT_MAX) {
		pctl_err("stat: --depth wants a whole number >= 1, not '%s'",
			 arg);
		return -EINVAL;
	}
	*depth = (unsigned)v;
	return 0;
}

#define STAT_RUN (-1) /* stat_parse(): options fine, go on */

/* @return STAT_RUN, or the exit status when --help or a bad option ends
 * the command here. */
static int stat_parse(int argc, char **argv, struct stat_ctx *s, bool *json)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "depth", required_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = pctl_getopt("stat", argc, argv, ":jd:vh", longopts)) !=
	       -1) {
		switch (opt) {
		case 'j':
			*json = true;
			break;
		case 'd':
			if (parse_depth(optarg, &s->depth) < 0)
				return pctl_usage(stat_usage, false);
			break;
		case 'v':
			pctl_set_verbose();
			break;
		default:
			return pctl_usage(stat_usage, opt == 'h');
		}
	}
	if (argc - optind != 1) {
		pctl_err("stat: expected one store, got %d arguments",
			 argc - optind);
		return pctl_usage(stat_usage, false);
	}
	return STAT_RUN;
}

/* Walks the store at path and prints its report. */
static int stat_store(struct stat_ctx *s, const char *path, bool json)
{
	int rc, status;

	s->ids = calloc(PCTL_MODEL_SLOTS, sizeof(*s->ids));
	s->block = malloc(PF_BLOCK_SIZE_MAX);
	if (!s->ids || !s->block) {
		pctl_err("stat: %s", strerror(ENOMEM));
		status = PCTL_EXIT_FAULT;
		goto out_scratch;
	}
	if (pctl_store_open("stat", path, &s->store) < 0) {
		status = PCTL_EXIT_USAGE;
		goto out_scratch;
	}
	rc = pctl_walk_store(s->store, stat_file, stat_error, s);
	if (rc < 0) {
		pctl_err("stat: %s: %s", path, strerror(-rc));
		status = PCTL_EXIT_FAULT;
		goto out_free;
	}
	map_sort(&s->dirs, group_by_name);
	map_sort(&s->types, group_by_stored);
	if (json)
		print_json(s, path);
	else
		print_human(s);
	status = s->errors ? PCTL_EXIT_FAULT : PCTL_EXIT_OK;
out_free:
	map_free(&s->dirs);
	map_free(&s->types);
	pf_store_close(s->store);
out_scratch:
	free(s->models);
	free(s->ids);
	free(s->block);
	return status;
}

int pctl_cmd_stat(int argc, char **argv)
{
	struct stat_ctx s = { .depth = 1 };
	struct mount_stats m;
	bool json = false;
	const char *path;
	int rc;

	rc = stat_parse(argc, argv, &s, &json);
	if (rc != STAT_RUN)
		return rc;
	path = argv[optind];
	rc = mount_stats_read(path, &m);
	if (rc == 0)
		return stat_mount(&m, path, json);
	return stat_store(&s, path, json);
}

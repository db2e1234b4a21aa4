/* SPDX-License-Identifier: MIT */
/*
 * cmd_models.c - "priorctl models list|show ID|gc STORE": the models in a
 * store's model store, which blocks use them, and removing unused ones.
 *
 * list and show only read. gc takes the writer lock (so no mount can write
 * a block that references a model while gc looks), reads the model table of
 * every container in a second, read-only view of the store, and removes a
 * model only when no container references it and it is not a default. If
 * any file cannot be read, gc removes nothing: an unreadable container
 * might reference any model.
 *
 * A block's model slot s (1..M) names entry s-1 of its container's model
 * table, as pf_container_models() returns it (format.md §3).
 */
#include "priorctl/priorctl.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/pf_common.h"

#define ID_SHORT 16   /* hex digits shown in lists */

static const char models_usage[] =
	"usage: priorctl models list STORE\n"
	"       priorctl models show ID STORE\n"
	"       priorctl models gc [--dry-run] STORE\n"
	"\n"
	"list: every model with its size and the data kind it is a default\n"
	"for (a kind may have a default of each level). show: one model (ID\n"
	"or a unique prefix of it): size, level (and the network's width at\n"
	"level max), and the files and blocks that use it. gc: removes\n"
	"models that no block uses and that are not defaults; needs the\n"
	"writer lock.\n"
	"\n"
	"  -n, --dry-run  gc: only say what would be removed\n"
	"  -v, --verbose  also show the store layer's log lines\n"
	"  -h, --help     show this help\n";

/* How much of the store uses one model. */
struct model_use {
	uint64_t files, blocks, logical;
};

struct scan_ctx {
	pf_store *store;
	const pf_model_info *models;
	struct model_use *use; /* one per model */
	size_t count;
	uint8_t (*ids)[PF_MODEL_ID_SIZE]; /* PCTL_MODEL_SLOTS scratch */
	uint64_t errors;
};

static int info_by_id(const void *a, const void *b)
{
	return memcmp(((const pf_model_info *)a)->id,
		      ((const pf_model_info *)b)->id, PF_MODEL_ID_SIZE);
}

static int list_models(pf_store *store, pf_model_info **v, size_t *n)
{
	int rc = pf_store_models_list(store, v, n);

	if (rc < 0)
		pctl_err("models: cannot list the model store: %s",
			 strerror(-rc));
	else if (*n)
		qsort(*v, *n, sizeof(**v), info_by_id);
	return rc;
}

/* ---- which blocks use which model ---------------------------------------- */

static void scan_error(void *arg, const char *path, const char *what, int err)
{
	struct scan_ctx *s = arg;

	s->errors++;
	pctl_err("models: %s: %s: %s", path, what, strerror(-err));
}

static long model_index(const struct scan_ctx *s, const uint8_t *id)
{
	for (size_t i = 0; i < s->count; i++)
		if (!memcmp(s->models[i].id, id, PF_MODEL_ID_SIZE))
			return (long)i;
	return -1;
}

/* Every model in the container's table counts as used by the file (the
 * table lists what the index references); blocks are counted per model. */
static void count_blocks(struct scan_ctx *s, pf_container *c, int slots)
{
	long map[PCTL_MODEL_SLOTS + 1]; /* slot -> model index, -1: none */
	uint64_t nblocks = pctl_container_blocks(c);
	pf_block_entry e;

	for (int i = 0; i < slots; i++) {
		map[i + 1] = model_index(s, s->ids[i]);
		if (map[i + 1] >= 0)
			s->use[map[i + 1]].files++;
	}
	for (uint64_t b = 0; b < nblocks; b++) {
		pf_container_block(c, b, &e);
		if (!e.model || e.model > slots || map[e.model] < 0)
			continue;
		s->use[map[e.model]].blocks++;
		s->use[map[e.model]].logical += pf_container_block_len(c, b);
	}
}

static int scan_file(void *arg, int dirfd, const char *name, const char *path,
		     const struct stat *st)
{
	struct scan_ctx *s = arg;
	pf_container *c;
	int rc, slots;

	(void)st;
	rc = pctl_container_open(s->store, dirfd, name, path, &c);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		scan_error(s, path, rc == -EIO ? "corrupt container" : "open",
			   rc);
		return 0;
	}
	slots = pf_container_models(c, s->ids, PCTL_MODEL_SLOTS);
	if (slots > PCTL_MODEL_SLOTS)
		slots = PCTL_MODEL_SLOTS;
	if (slots > 0)
		count_blocks(s, c, slots);
	pf_container_close(c);
	return 0;
}

/* Fills use[i] for models[i]; reads the store read-only. */
static int scan_store(const char *path, const pf_model_info *models,
		      size_t count, struct model_use *use, uint64_t *errors)
{
	struct scan_ctx s = { .models = models, .use = use, .count = count };
	int rc;

	s.ids = calloc(PCTL_MODEL_SLOTS, sizeof(*s.ids));
	if (!s.ids)
		return -ENOMEM;
	rc = pctl_store_open("models", path, &s.store);
	if (rc == 0) {
		rc = pctl_walk_store(s.store, scan_file, scan_error, &s);
		pf_store_close(s.store);
	}
	free(s.ids);
	*errors = s.errors;
	return rc;
}

/* ---- list and show ------------------------------------------------------- */

static int models_list(pf_store *store)
{
	pf_model_info *v = NULL;
	size_t n = 0;
	char id[ID_SHORT + 1], b[16];

	if (list_models(store, &v, &n) < 0)
		return PCTL_EXIT_FAULT;
	printf("%-*s %8s  %s\n", ID_SHORT, "ID", "BYTES", "DEFAULT");
	for (size_t i = 0; i < n; i++) {
		pctl_id_hex(v[i].id, ID_SHORT, id);
		printf("%s %8s  %s\n", id, pctl_human_size(v[i].bytes, b),
		       v[i].kind[0] ? v[i].kind : "-");
	}
	free(v);
	return PCTL_EXIT_OK;
}

/* The one model whose hex id starts with prefix. @return its index, or
 * -1 (message printed) when none or several match. */
static long find_prefix(const pf_model_info *v, size_t n, const char *prefix)
{
	char hex[2 * PF_MODEL_ID_SIZE + 1];
	size_t len = strlen(prefix);
	long found = -1;

	for (size_t i = 0; i < n && len && len <= 2 * PF_MODEL_ID_SIZE; i++) {
		pctl_id_hex(v[i].id, 2 * PF_MODEL_ID_SIZE, hex);
		if (strncasecmp(hex, prefix, len))
			continue;
		if (found >= 0) {
			pctl_err("models: '%s' matches several models; give "
				 "more digits", prefix);
			return -1;
		}
		found = (long)i;
	}
	if (found < 0)
		pctl_err("models: no model with id '%s'", prefix);
	return found;
}

/* Prints the level and make of model id; @return false when it does not load. */
static bool print_make(pf_store *store, const uint8_t *id)
{
	const pf_model *m;
	pf_model_shape sh;
	char b[16];

	if (pf_store_model_get(store, id, &m) < 0) {
		printf("level:    ? (does not load: corrupt or wrong hash)\n");
		return false;
	}
	pf_codec_model_shape(m, &sh);
	printf("level:    %s\nformat:   %u: tables of 2^%u slots, blocks code with up to 2^%u; "
	       "stride %u%s%s; ", pf_codec_level_name(pf_codec_model_level(m)),
	       sh.version, sh.table_bits, sh.code_bits, sh.stride,
	       sh.units ? ", 16-bit units" : "", sh.fastq ? ", FASTQ" : "");
	if (sh.slice_bytes)
		printf("slice %s\n", pctl_human_size(sh.slice_bytes, b));
	else
		printf("no slice\n");
	if (sh.net_width)
		printf("network:  width %u, embeddings %u wide%s%s%s%s%s%s\n", sh.net_width,
		       sh.net_rank ? sh.net_rank : sh.net_width,
		       sh.net_context ? ", context features" : "",
		       sh.net_tokens ? ", token features" : "",
		       sh.net_match ? ", match feature" : "",
		       sh.net_indirect ? ", indirect features" : "",
		       sh.net_recent ? ", recent tokens" : "",
		       sh.net_token_out ? ", token outputs" : "");
	return true;
}

static int models_show(pf_store *store, const char *path, const char *prefix)
{
	char hex[2 * PF_MODEL_ID_SIZE + 1], b[16];
	struct model_use use = { 0 };
	pf_model_info *v = NULL;
	bool loads;
	uint64_t errors = 0;
	size_t n = 0;
	long i;
	int status = PCTL_EXIT_FAULT;

	if (list_models(store, &v, &n) < 0 || (i = find_prefix(v, n, prefix)) < 0)
		goto out_free;
	pctl_id_hex(v[i].id, sizeof(hex) - 1, hex);
	printf("id:       %s\nbytes:    %" PRIu64 " (%s)\ndefault:  %s\n", hex, v[i].bytes,
	       pctl_human_size(v[i].bytes, b), v[i].kind[0] ? v[i].kind : "no");
	loads = print_make(store, v[i].id);
	if (scan_store(path, &v[i], 1, &use, &errors) < 0)
		goto out_free;
	printf("files:    %" PRIu64 "\nblocks:   %" PRIu64
	       "\nlogical:  %" PRIu64 " (%s)\n", use.files, use.blocks,
	       use.logical, pctl_human_size(use.logical, b));
	status = loads && !errors ? PCTL_EXIT_OK : PCTL_EXIT_FAULT;
out_free:
	free(v);
	return status;
}

/* ---- gc ------------------------------------------------------------------ */

static int gc_remove(pf_store *store, const pf_model_info *m, bool dry_run)
{
	char id[ID_SHORT + 1], b[16];
	int rc = dry_run ? 0 : pf_store_model_remove(store, m->id);

	pctl_id_hex(m->id, ID_SHORT, id);
	if (rc < 0)
		pctl_err("models: gc: cannot remove %s: %s", id, strerror(-rc));
	else
		printf("%s %s (%s)\n", dry_run ? "would remove" : "removed", id,
		       pctl_human_size(m->bytes, b));
	return rc;
}

static int gc_sweep(pf_store *store, const pf_model_info *v, size_t n,
		    const struct model_use *use, bool dry_run)
{
	size_t removed = 0, kept = 0;
	int status = PCTL_EXIT_OK;

	for (size_t i = 0; i < n; i++) {
		if (use[i].files || v[i].kind[0])
			kept++;
		else if (gc_remove(store, &v[i], dry_run) < 0)
			status = PCTL_EXIT_FAULT;
		else
			removed++;
	}
	printf("models gc: %zu %sremoved, %zu kept (in use or default)\n",
	       removed, dry_run ? "would be " : "", kept);
	return status;
}

static int models_gc(const char *path, bool dry_run)
{
	struct model_use *use = NULL;
	pf_model_info *v = NULL;
	pf_store_opts opts;
	pf_store *store;
	uint64_t errors = 0;
	size_t n = 0;
	int status = PCTL_EXIT_FAULT;

	pf_store_opts_default(&opts);
	if (pctl_store_open_writer("models gc", path, &opts, &store) < 0)
		return PCTL_EXIT_USAGE;
	if (list_models(store, &v, &n) < 0)
		goto out_close;
	use = calloc(n ? n : 1, sizeof(*use));
	if (!use || scan_store(path, v, n, use, &errors) < 0)
		goto out_close;
	if (errors) {
		pctl_err("models: gc: %" PRIu64 " file%s could not be read; "
			 "removed nothing", errors, errors == 1 ? "" : "s");
		goto out_close;
	}
	status = gc_sweep(store, v, n, use, dry_run);
out_close:
	free(use);
	free(v);
	pf_store_close(store);
	return status;
}

/* ---- command ------------------------------------------------------------- */

static int models_run(const char *action, int nargs, char **args,
		      bool dry_run)
{
	int want = !strcmp(action, "show") ? 2 : 1;
	pf_store *store;
	int status;

	if (strcmp(action, "list") && strcmp(action, "show") &&
	    strcmp(action, "gc")) {
		pctl_err("models: unknown action '%s' (list, show or gc)", action);
		return pctl_usage(models_usage, false);
	}
	if (nargs != want) {
		pctl_err("models: %s: expected %s, got %d arguments", action,
			 want == 2 ? "a model id and a store" : "one store", nargs);
		return pctl_usage(models_usage, false);
	}
	if (!strcmp(action, "gc"))
		return models_gc(args[0], dry_run);
	if (pctl_store_open("models", args[want - 1], &store) < 0)
		return PCTL_EXIT_USAGE;
	status = want == 2 ? models_show(store, args[1], args[0])
			   : models_list(store);
	pf_store_close(store);
	return status;
}

int pctl_cmd_models(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool dry_run = false;
	int opt;

	while ((opt = pctl_getopt("models", argc, argv, ":nvh", longopts)) !=
	       -1) {
		if (opt == 'n')
			dry_run = true;
		else if (opt == 'v')
			pctl_set_verbose();
		else
			return pctl_usage(models_usage, opt == 'h');
	}
	if (argc - optind < 1) {
		pctl_err("models: expected an action (list, show or gc) and a "
			 "store");
		return pctl_usage(models_usage, false);
	}
	return models_run(argv[optind], argc - optind - 1, argv + optind + 1,
			  dry_run);
}

/* SPDX-License-Identifier: MIT */
/*
 * priorctl.c - the priorctl entry point: global options, subcommand dispatch,
 * and the helpers every subcommand uses (messages, option parsing, opening a
 * store and its containers, walking a tree, running worker threads).
 *
 * The walk holds one directory fd per level, so a tree nested deeper than
 * the fd limit (ulimit -n, usually 1024) reports "open: Too many open files"
 * for the deepest directories and goes on.
 */
#include "config.h"

#include "priorctl/priorctl.h"

#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/pf_common.h"

struct pctl_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct pctl_cmd pctl_cmds[] = {
	{ "init", pctl_cmd_init, "make an empty directory a priorfs store" },
	{ "stat", pctl_cmd_stat, "logical vs stored size, by directory and type" },
	{ "fsck", pctl_cmd_fsck, "decode and checksum every block of a store" },
	{ "train", pctl_cmd_train, "train the learned codec's models on a sample" },
	{ "models", pctl_cmd_models, "list, show or garbage-collect models" },
	{ "recompress", pctl_cmd_recompress,
	  "re-encode a store's blocks with the current models" },
	{ "import", pctl_cmd_import,
	  "copy a tree into a store with the learned codec" },
	{ "export", pctl_cmd_export,
	  "copy a store's files out as a plain tree" },
	{ "scaling", pctl_cmd_scaling,
	  "bits/byte over model and sample sizes; fit, chart, advice" },
};

void pctl_err(const char *fmt, ...)
{
	va_list ap;

	flockfile(stderr); /* one whole line, even from worker threads */
	pctl_progress_clear_locked();
	fputs(PCTL_PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

int pctl_usage(const char *text, bool asked)
{
	fputs(text, asked ? stdout : stderr);
	return asked ? PCTL_EXIT_OK : PCTL_EXIT_USAGE;
}

void pctl_set_verbose(void)
{
	pf_log_set_level(PF_LOG_DEBUG);
}

int pctl_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
		const struct option *longopts)
{
	int opt;

	opterr = 0; /* our own messages carry the program name */
	opt = getopt_long(argc, argv, shortopts, longopts, NULL);
	if (opt != '?' && opt != ':')
		return opt;
	if (opt == ':') /* argv[optind - 1] is the option that wants a value */
		pctl_err("%s: missing value for option '%s'", cmd,
			 argv[optind - 1]);
	else if (optopt)
		pctl_err("%s: unknown option -%c", cmd, optopt);
	else
		pctl_err("%s: unknown option '%s'", cmd, argv[optind - 1]);
	return '?';
}

void pctl_id_hex(const uint8_t *id, size_t digits, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < digits; i++)
		out[i] = hex[id[i / 2] >> (i % 2 ? 0 : 4) & 15];
	out[digits] = '\0';
}

const char *pctl_human_size(uint64_t v, char buf[16])
{
	static const char units[] = "KMGTPE";
	double d = (double)v;
	int u = -1;

	if (v < 1024) {
		snprintf(buf, 16, "%" PRIu64, v);
		return buf;
	}
	while (d >= 1024 && u < 5) {
		d /= 1024;
		u++;
	}
	snprintf(buf, 16, d < 10 ? "%.1f%c" : "%.0f%c", d, units[u]);
	return buf;
}

int pctl_parse_size_opt(const char *cmd, const char *opt, const char *arg,
			uint64_t min, uint64_t max, uint64_t *out)
{
	char lo[16], hi[16];

	if (pf_parse_size(arg, out) == 0 && *out >= min && *out <= max)
		return 0;
	pctl_err("%s: %s wants a size from %s to %s (K/M/G suffixes), not '%s'",
		 cmd, opt, pctl_human_size(min, lo), pctl_human_size(max, hi),
		 arg);
	return -EINVAL;
}

int pctl_parse_level(const char *cmd, const char *arg,
		     enum pf_model_level *level)
{
	if (pf_codec_level_parse(arg, level) == 0)
		return 0;
	pctl_err("%s: --level wants fast, default or max, not '%s'", cmd, arg);
	return -EINVAL;
}

int pctl_parse_zstd_level(const char *cmd, const char *arg, int *level)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno == 0 && end != arg && *end == '\0' && v >= PF_ZSTD_LEVEL_MIN &&
	    v <= PF_ZSTD_LEVEL_MAX) {
		*level = (int)v;
		return 0;
	}
	pctl_err("%s: --zstd-level wants a level from %d to %d, not '%s'", cmd,
		 PF_ZSTD_LEVEL_MIN, PF_ZSTD_LEVEL_MAX, arg);
	return -EINVAL;
}

int pctl_parse_min_saving(const char *cmd, const char *arg, unsigned *min_saving)
{
	if (pf_codec_min_saving_parse(arg, min_saving) == 0)
		return 0;
	pctl_err("%s: --min-saving wants a percentage from 0 to 50 (up to two "
		 "decimals), not '%s'", cmd, arg);
	return -EINVAL;
}

int pctl_parse_context(const char *cmd, const char *arg, enum pctl_context *context)
{
	static const char *const names[] = { [PCTL_CONTEXT_AUTO] = "auto",
					     [PCTL_CONTEXT_YES] = "yes",
					     [PCTL_CONTEXT_NO] = "no" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(arg, names[i]) == 0) {
			*context = (enum pctl_context)i;
			return 0;
		}
	}
	pctl_err("%s: --context-features wants auto, yes or no, not '%s'", cmd, arg);
	return -EINVAL;
}

/* A whole number in [min, max] for option opt. */
static int parse_uint(const char *cmd, const char *opt, const char *arg,
		      unsigned min, unsigned max, unsigned *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max) {
		pctl_err("%s: %s wants a whole number from %u to %u, not '%s'",
			 cmd, opt, min, max, arg);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

int pctl_parse_jobs(const char *cmd, const char *arg, unsigned *jobs)
{
	return parse_uint(cmd, "--jobs", arg, 1, 1024, jobs);
}

int pctl_parse_table_bits(const char *cmd, const char *arg, unsigned *bits)
{
	return parse_uint(cmd, "--table-bits", arg, PCTL_TABLE_BITS_MIN,
			  PCTL_TABLE_BITS_MAX, bits);
}

int pctl_parse_net_width(const char *cmd, const char *arg, unsigned *width)
{
	PF_FORWARD(parse_uint(cmd, "--net-width", arg, PF_MODEL_NET_WIDTH_MIN,
			      PF_MODEL_NET_WIDTH_MAX, width));
	if (*width % PF_MODEL_NET_WIDTH_STEP) {
		pctl_err("%s: --net-width wants a multiple of %u, not '%s'", cmd,
			 PF_MODEL_NET_WIDTH_STEP, arg);
		return -EINVAL;
	}
	return 0;
}

unsigned pctl_default_jobs(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 1024 ? 1024 : (unsigned)n;
}

void pctl_print_name(FILE *out, const char *name)
{
	const unsigned char *p = (const unsigned char *)name;

	while (*p) {
		size_t n = pctl_utf8_len(p);

		if (!n || *p < 0x20 || *p == 0x7f) {
			fprintf(out, "\\x%02x", *p);
			n = 1;
		} else if (*p == '\\') {
			fputs("\\\\", out);
		} else {
			fwrite(p, 1, n, out);
		}
		p += n;
	}
}

/* ---- stores and containers ----------------------------------------------- */

/* A store whose in-place conversion (import --in-place) is unfinished
 * still has plain files: refuse it (-EBUSY, message printed). */
static int refuse_converting(const char *cmd, const char *path,
			     pf_store **store)
{
	if (faccessat(pf_store_root_fd(*store), PF_META_NAME "/inplace", F_OK,
		      AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	pctl_err("%s: %s is being converted by 'priorctl import --in-place', "
		 "which did not finish; run it again first", cmd, path);
	pf_store_close(*store);
	*store = NULL;
	return -EBUSY;
}

int pctl_store_open(const char *cmd, const char *path, pf_store **out)
{
	pf_store_opts opts;
	int rc;

	pf_store_opts_default(&opts);
	opts.read_only = true;
	opts.verify = true;
	rc = pf_store_open(path, &opts, out);
	if (rc == -EINVAL)
		pctl_err("%s: %s: not a priorfs store (no %s/%s)", cmd, path,
			 PF_META_NAME, PF_STORE_CONFIG);
	else if (rc < 0)
		pctl_err("%s: %s: %s", cmd, path, strerror(-rc));
	return rc < 0 ? rc : refuse_converting(cmd, path, out);
}

int pctl_container_open(pf_store *store, int dirfd, const char *name,
			const char *path, pf_container **out)
{
	struct stat st;
	int fd, err = 0;

	/* O_NONBLOCK: if the entry was swapped for a FIFO since the walk
	 * looked at it, open must not hang; fstat then rejects it. */
	fd = openat(dirfd, name,
		    O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		err = errno;
	else if (!S_ISREG(st.st_mode))
		err = EINVAL;
	if (err) {
		close(fd);
		return -err;
	}
	return pf_container_open(store, fd, path, out); /* owns fd now */
}

int pctl_store_open_writer(const char *cmd, const char *path,
			   const pf_store_opts *opts, pf_store **out)
{
	pf_store_opts o = *opts;
	int rc;

	o.read_only = false;
	rc = pf_store_open(path, &o, out);
	if (rc == -EINVAL)
		pctl_err("%s: %s: not a priorfs store (no %s/%s)", cmd, path,
			 PF_META_NAME, PF_STORE_CONFIG);
	else if (rc < 0)
		pctl_err("%s: %s: %s", cmd, path, strerror(-rc));
	if (rc < 0 || (rc = refuse_converting(cmd, path, out)) < 0)
		return rc;
	rc = pf_store_lock_writer(*out);
	if (rc == -EBUSY)
		pctl_err("%s: %s is in use: mounted read-write, or another "
			 "priorctl import/recompress/train/models gc runs "
			 "(%s/.priorfs/lock is held); unmount it (or wait) and "
			 "try again", cmd, path, path);
	else if (rc < 0)
		pctl_err("%s: %s: cannot take the writer lock: %s", cmd, path,
			 strerror(-rc));
	if (rc < 0) {
		pf_store_close(*out);
		*out = NULL;
	}
	return rc;
}

uint64_t pctl_container_blocks(pf_container *c)
{
	uint64_t size = pf_container_size(c);
	uint32_t bs = pf_container_block_size(c);

	return size / bs + (size % bs != 0);
}

uint64_t pctl_container_coded_bytes(pf_container *c)
{
	uint64_t n = pctl_container_blocks(c), sum = 0;
	pf_block_entry e;

	for (uint64_t b = 0; b < n; b++) {
		pf_container_block(c, b, &e);
		sum += e.stored_len;
	}
	return sum;
}

int pctl_container_read(pf_container *c, uint64_t off, void *buf, size_t len,
			void *block)
{
	uint32_t bs = pf_container_block_size(c);
	unsigned char *out = buf;

	while (len) {
		uint32_t in = (uint32_t)(off % bs), have;
		size_t n = bs - in < len ? bs - in : len;

		PF_FORWARD(pf_container_read_block(c, off / bs, block, bs, &have));
		if (in >= have) {
			memset(out, 0, n);
		} else {
			size_t got = have - in < n ? have - in : n;

			memcpy(out, (unsigned char *)block + in, got);
			memset(out + got, 0, n - got);
		}
		out += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* ---- worker threads ------------------------------------------------------ */

struct jobs {
	int (*fn)(void *arg, size_t i);
	void *arg;
	size_t count;
	atomic_size_t next;
	atomic_int err; /* first negative errno, 0 while all goes well */
};

static void *jobs_thread(void *arg)
{
	struct jobs *j = arg;
	size_t i;

	while (!atomic_load(&j->err) &&
	       (i = atomic_fetch_add(&j->next, 1)) < j->count) {
		int rc = j->fn(j->arg, i);
		int none = 0;

		if (rc < 0)
			atomic_compare_exchange_strong(&j->err, &none, rc);
	}
	return NULL;
}

int pctl_run_jobs(unsigned jobs, size_t count, int (*fn)(void *arg, size_t i),
		  void *arg)
{
	struct jobs j = { .fn = fn, .arg = arg, .count = count };
	pthread_t *tids;
	unsigned started = 0;

	if (jobs > count)
		jobs = count ? (unsigned)count : 1;
	tids = calloc(jobs, sizeof(*tids));
	if (!tids)
		return -ENOMEM;
	/* Fewer threads than asked is fine: the caller's thread works too. */
	while (started + 1 < jobs &&
	       pthread_create(&tids[started], NULL, jobs_thread, &j) == 0)
		started++;
	jobs_thread(&j);
	for (unsigned t = 0; t < started; t++)
		pthread_join(tids[t], NULL);
	free(tids);
	return atomic_load(&j.err);
}

/* ---- tree walk ----------------------------------------------------------- */

struct walk {
	const struct pctl_walk_fns *fns;
	bool skip_meta;
	void *arg;
	char *path; /* of the current entry, relative to the root; "" at it */
	size_t len; /* strlen(path) */
	size_t cap; /* bytes allocated at path */
};

/* Appends "/name" (or "name" at the root) to the walk path; *saved gets
 * the length to restore with path_pop(). */
static int path_push(struct walk *w, const char *name, size_t *saved)
{
	size_t n = strlen(name);
	size_t need = w->len + n + 2;

	if (need < n)
		return -EOVERFLOW;
	if (need > w->cap) {
		size_t cap = need > 2 * w->cap ? need : 2 * w->cap;
		char *p = realloc(w->path, cap);

		if (!p)
			return -ENOMEM;
		w->path = p;
		w->cap = cap;
	}
	*saved = w->len;
	if (w->len)
		w->path[w->len++] = '/';
	memcpy(w->path + w->len, name, n + 1);
	w->len += n;
	return 0;
}

static void path_pop(struct walk *w, size_t saved)
{
	w->len = saved;
	w->path[saved] = '\0';
}

static const char *walk_where(const struct walk *w)
{
	return w->len ? w->path : ".";
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_free(char **names, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

/* Reads every name in the directory (but "." and ".."), sorted, so the
 * output does not depend on readdir order. */
static int names_read(int dirfd, char ***out, size_t *count)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int fd, rc = 0;
	DIR *dir;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		rc = -errno;
		close(fd);
		return rc;
	}
	for (errno = 0; (de = readdir(dir)); errno = 0) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			char **p = reallocarray(names, cap ? 2 * cap : 32,
						sizeof(*names));

			if (!p)
				goto out_nomem;
			names = p;
			cap = cap ? 2 * cap : 32;
		}
		if (!(names[n] = strdup(de->d_name)))
			goto out_nomem;
		n++;
	}
	rc = -errno;
	closedir(dir);
	if (rc < 0) {
		names_free(names, n);
		return rc;
	}
	if (n) /* names is NULL for an empty directory, which qsort may not take */
		qsort(names, n, sizeof(*names), name_cmp);
	*out = names;
	*count = n;
	return 0;

out_nomem:
	closedir(dir);
	names_free(names, n);
	return -ENOMEM;
}

static int walk_dir(struct walk *w, int dirfd, bool root);

static int walk_subdir(struct walk *w, int dirfd, const char *name,
		       const struct stat *st)
{
	const struct pctl_walk_fns *f = w->fns;
	int fd, rc = 0;

	if (f->dir_enter)
		rc = f->dir_enter(w->arg, dirfd, name, w->path, st);
	if (rc)
		return rc < 0 ? rc : 0;
	fd = openat(dirfd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		f->err(w->arg, walk_where(w), "open", -errno);
		return 0;
	}
	rc = walk_dir(w, fd, false);
	close(fd);
	if (rc == 0 && f->dir_leave)
		rc = f->dir_leave(w->arg, dirfd, name, w->path, st);
	return rc;
}

static int walk_entry(struct walk *w, int dirfd, const char *name, bool root)
{
	struct stat st;
	size_t saved;
	int rc = 0;

	if (root && w->skip_meta && pf_store_is_meta_name(name))
		return 0;
	PF_FORWARD(path_push(w, name, &saved));
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		w->fns->err(w->arg, walk_where(w), "fstatat", -errno);
	else if (S_ISREG(st.st_mode))
		rc = w->fns->file(w->arg, dirfd, name, w->path, &st);
	else if (S_ISDIR(st.st_mode))
		rc = walk_subdir(w, dirfd, name, &st);
	else if (w->fns->other)
		rc = w->fns->other(w->arg, dirfd, name, w->path, &st);
	path_pop(w, saved);
	return rc;
}

static int walk_dir(struct walk *w, int dirfd, bool root)
{
	char **names = NULL;
	size_t count = 0;
	int rc;

	rc = names_read(dirfd, &names, &count);
	if (rc < 0) {
		w->fns->err(w->arg, walk_where(w), "readdir", rc);
		return rc == -ENOMEM ? rc : 0;
	}
	for (size_t i = 0; i < count && rc == 0; i++)
		rc = walk_entry(w, dirfd, names[i], root);
	names_free(names, count);
	return rc;
}

/* The root: its own dir_enter/dir_leave around its entries. */
static int walk_root(struct walk *w, int rootfd)
{
	const struct pctl_walk_fns *f = w->fns;
	struct stat st;
	int rc = 0;

	if ((f->dir_enter || f->dir_leave) && fstat(rootfd, &st) < 0) {
		f->err(w->arg, ".", "fstat", -errno);
		return 0;
	}
	if (f->dir_enter)
		rc = f->dir_enter(w->arg, rootfd, ".", w->path, &st);
	if (rc)
		return rc < 0 ? rc : 0;
	rc = walk_dir(w, rootfd, true);
	if (rc == 0 && f->dir_leave)
		rc = f->dir_leave(w->arg, rootfd, ".", w->path, &st);
	return rc;
}

int pctl_walk_tree(int rootfd, bool skip_meta, const struct pctl_walk_fns *fns,
		   void *arg)
{
	struct walk w = { .fns = fns, .skip_meta = skip_meta, .arg = arg };
	int rc;

	w.path = calloc(1, 64);
	if (!w.path)
		return -ENOMEM;
	w.cap = 64;
	rc = walk_root(&w, rootfd);
	free(w.path);
	return rc;
}

int pctl_walk_store(pf_store *store, pctl_file_fn file, pctl_walk_err_fn err,
		    void *arg)
{
	const struct pctl_walk_fns fns = { .file = file, .err = err };

	return pctl_walk_tree(pf_store_root_fd(store), true, &fns, arg);
}

/* ---- main ---------------------------------------------------------------- */

static int main_usage(bool asked)
{
	FILE *out = asked ? stdout : stderr;

	fputs("usage: " PCTL_PROG " [-v] COMMAND [ARGS...]\n"
	      "       " PCTL_PROG " COMMAND --help\n"
	      "       " PCTL_PROG " --help | --version\n\ncommands:\n",
	      out);
	for (size_t i = 0; i < sizeof(pctl_cmds) / sizeof(pctl_cmds[0]); i++)
		fprintf(out, "  %-10s %s\n", pctl_cmds[i].name,
			pctl_cmds[i].summary);
	fputs("\noptions:\n"
	      "  -v, --verbose  also show the store layer's log lines\n"
	      "  -h, --help     show this help\n"
	      "  -V, --version  show the version\n\n"
	      "exit status: 0 ok, 1 faults found or command failed,\n"
	      "2 bad usage, not a store, or store in use by another writer\n"
	      "see priorctl(1)\n",
	      out);
	return asked ? PCTL_EXIT_OK : PCTL_EXIT_USAGE;
}

static const struct pctl_cmd *cmd_find(const char *name)
{
	for (size_t i = 0; i < sizeof(pctl_cmds) / sizeof(pctl_cmds[0]); i++)
		if (!strcmp(pctl_cmds[i].name, name))
			return &pctl_cmds[i];
	return NULL;
}

/* "help [COMMAND]" runs COMMAND --help. */
static int cmd_help(int argc, char **argv)
{
	const struct pctl_cmd *cmd;
	char *sub[] = { argv[1], (char *)"--help", NULL };

	if (argc < 2)
		return main_usage(true);
	cmd = cmd_find(argv[1]);
	if (!cmd) {
		pctl_err("unknown command '%s'", argv[1]);
		return main_usage(false);
	}
	return cmd->run(2, sub);
}

/* Output going to a full disk or closed pipe must not exit 0. */
static int stdout_close(int status)
{
	if (fclose(stdout) != 0) {
		pctl_err("write error on standard output: %s", strerror(errno));
		return status == PCTL_EXIT_OK ? PCTL_EXIT_FAULT : status;
	}
	return status;
}

int main(int argc, char **argv)
{
	const struct pctl_cmd *cmd;
	int i;

	/* Level 0 drops every line: priorctl prints faults itself (-v). */
	pf_log_set_level((enum pf_log_level)0);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return stdout_close(main_usage(true));
		if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
			printf("%s %s\n", PCTL_PROG, PACKAGE_VERSION);
			return stdout_close(PCTL_EXIT_OK);
		}
		if (strcmp(argv[i], "-v") && strcmp(argv[i], "--verbose")) {
			pctl_err("unknown option '%s'", argv[i]);
			return main_usage(false);
		}
		pctl_set_verbose();
	}
	if (i == argc) {
		pctl_err("no command given");
		return main_usage(false);
	}
	if (!strcmp(argv[i], "help"))
		return stdout_close(cmd_help(argc - i, argv + i));
	cmd = cmd_find(argv[i]);
	if (!cmd) {
		pctl_err("unknown command '%s'", argv[i]);
		return main_usage(false);
	}
	return stdout_close(cmd->run(argc - i, argv + i));
}

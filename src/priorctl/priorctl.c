/* SPDX-License-Identifier: MIT */
/*
 * priorctl.c - the priorctl entry point: global options, subcommand dispatch,
 * and the helpers every subcommand uses (messages, opening a store and its
 * containers read-only, walking the backing tree).
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
};

void pctl_err(const char *fmt, ...)
{
	va_list ap;

	fputs(PCTL_PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
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

size_t pctl_utf8_len(const unsigned char *p)
{
	unsigned lo, hi;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (p[0] >= 0xe0 && p[0] <= 0xef) {
		lo = p[0] == 0xe0 ? 0xa0 : 0x80; /* no overlong forms */
		hi = p[0] == 0xed ? 0x9f : 0xbf; /* no UTF-16 surrogates */
		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		lo = p[0] == 0xf0 ? 0x90 : 0x80;
		hi = p[0] == 0xf4 ? 0x8f : 0xbf; /* nothing past U+10FFFF */
		if (p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80)
			return 0;
		return (p[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
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
	return rc;
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

uint64_t pctl_container_blocks(pf_container *c)
{
	uint64_t size = pf_container_size(c);
	uint32_t bs = pf_container_block_size(c);

	return size / bs + (size % bs != 0);
}

/* ---- tree walk ----------------------------------------------------------- */

struct walk {
	pf_store *store;
	pctl_file_fn file;
	pctl_walk_err_fn err;
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

static int walk_subdir(struct walk *w, int dirfd, const char *name)
{
	int fd, rc;

	fd = openat(dirfd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		w->err(w->arg, walk_where(w), "open", -errno);
		return 0;
	}
	rc = walk_dir(w, fd, false);
	close(fd);
	return rc;
}

static int walk_entry(struct walk *w, int dirfd, const char *name, bool root)
{
	struct stat st;
	size_t saved;
	int rc = 0;

	if (root && pf_store_is_meta_name(name))
		return 0;
	PF_FORWARD(path_push(w, name, &saved));
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		w->err(w->arg, walk_where(w), "fstatat", -errno);
	else if (S_ISREG(st.st_mode))
		rc = w->file(w->arg, dirfd, name, w->path, &st);
	else if (S_ISDIR(st.st_mode))
		rc = walk_subdir(w, dirfd, name);
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
		w->err(w->arg, walk_where(w), "readdir", rc);
		return rc == -ENOMEM ? rc : 0;
	}
	for (size_t i = 0; i < count && rc == 0; i++)
		rc = walk_entry(w, dirfd, names[i], root);
	names_free(names, count);
	return rc;
}

int pctl_walk_store(pf_store *store, pctl_file_fn file, pctl_walk_err_fn err,
		    void *arg)
{
	struct walk w = { .store = store, .file = file, .err = err, .arg = arg };
	int rc;

	w.path = calloc(1, 64);
	if (!w.path)
		return -ENOMEM;
	w.cap = 64;
	rc = walk_dir(&w, pf_store_root_fd(store), true);
	free(w.path);
	return rc;
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
		fprintf(out, "  %-6s %s\n", pctl_cmds[i].name,
			pctl_cmds[i].summary);
	fputs("\noptions:\n"
	      "  -v, --verbose  also show the store layer's log lines\n"
	      "  -h, --help     show this help\n"
	      "  -V, --version  show the version\n\n"
	      "exit status: 0 ok, 1 faults found or command failed, "
	      "2 bad usage or not a store\nsee priorctl(1)\n",
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

/* SPDX-License-Identifier: MIT */
/*
 * posix_conf.c - one fixed sequence of POSIX calls in a directory, printed
 * one line per check, so that t_posix.sh can diff a run on a plain
 * directory (what ext4 does) against a run on the mount.
 *
 * Usage: posix_conf DIR   (DIR must exist; the run works in DIR/pc)
 *
 * Every line holds the call, its result and errno name, and where it
 * matters the stat fields that do not depend on the filesystem instance:
 * type, mode, link count, size of files and symlinks, owner. Times are
 * printed only as relations ("mtime later" than a snapshot taken
 * before the call) or as values the test set itself. Inode numbers,
 * devices, block counts and directory sizes never appear. Exit status is 0
 * unless the run itself could not start: differences are the caller's to
 * judge.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Longer than one tick of the coarse clock file times come from (a jiffy
 * on ext4 and tmpfs), so a call after it cannot share the snapshot's time. */
#define TICK_NS 25000000L

static unsigned nline;

static void out(const char *fmt, ...)
{
	va_list ap;

	printf("%03u ", ++nline);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "E?";
}

/* Prints the call's text and result; reads errno first, before anything
 * can change it. Use through CALL(). */
static long report(const char *call, long rc)
{
	int e = errno;

	if (rc < 0)
		out("%s = -1 %s", call, ename(e));
	else
		out("%s = %s", call, rc == 0 ? "0" : ">0");
	errno = e;
	return rc;
}

#define CALL(expr) report(#expr, (long)(expr))

/* Like CALL for calls whose non-negative result matters (byte counts). */
static long report_n(const char *call, long rc)
{
	int e = errno;

	if (rc < 0)
		out("%s = -1 %s", call, ename(e));
	else
		out("%s = %ld", call, rc);
	return rc;
}

#define CALLN(expr) report_n(#expr, (long)(expr))

static const char *type_name(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return "reg";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "lnk";
	case S_IFIFO: return "fifo";
	case S_IFCHR: return "chr";
	case S_IFBLK: return "blk";
	case S_IFSOCK: return "sock";
	default: return "?";
	}
}

static void print_stat(const char *what, const struct stat *st)
{
	char size[32] = "";

	/* Directory sizes are the backing filesystem's business. */
	if (!S_ISDIR(st->st_mode))
		snprintf(size, sizeof(size), " size=%lld", (long long)st->st_size);
	out("%s: %s %04o nlink=%lu%s uid=%u gid=%u", what,
	    type_name(st->st_mode), (unsigned)(st->st_mode & 07777),
	    (unsigned long)st->st_nlink, size, (unsigned)st->st_uid,
	    (unsigned)st->st_gid);
}

/* lstat of path, printed. */
static void show(const char *path)
{
	struct stat st;
	char what[300];

	snprintf(what, sizeof(what), "lstat %s", path);
	if (lstat(path, &st) == -1)
		out("%s = -1 %s", what, ename(errno));
	else
		print_stat(what, &st);
}

static void showfd(const char *label, int fd)
{
	struct stat st;
	char what[300];

	snprintf(what, sizeof(what), "fstat %s", label);
	if (fstat(fd, &st) == -1)
		out("%s = -1 %s", what, ename(errno));
	else
		print_stat(what, &st);
}

/* Prints size and contents of a file (escaped, first 80 bytes). */
static void content(const char *path)
{
	char buf[80], esc[4 * sizeof(buf) + 1], *p = esc;
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd == -1) {
		out("content %s: open = -1 %s", path, ename(errno));
		return;
	}
	n = read(fd, buf, sizeof(buf));
	for (ssize_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c >= 32 && c < 127)
			*p++ = (char)c;
		else
			p += sprintf(p, "\\%02x", c);
	}
	*p = '\0';
	out("content %s: read=%zd \"%s\"", path, n, esc);
	close(fd);
}

/* ---- times --------------------------------------------------------------- */

typedef struct snap {
	const char *path;
	struct timespec m, c;
} snap;

/* Records the times of path, then waits a tick so that the next change
 * gets a later time. */
static snap take(const char *path)
{
	struct timespec tick = { 0, TICK_NS };
	struct stat st = { 0 };
	snap s = { path, { 0, 0 }, { 0, 0 } };

	if (lstat(path, &st) == -1)
		out("snapshot %s: lstat = -1 %s", path, ename(errno));
	s.m = st.st_mtim;
	s.c = st.st_ctim;
	nanosleep(&tick, NULL);
	return s;
}

static const char *rel(struct timespec a, struct timespec b)
{
	if (a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec)
		return "same";
	return a.tv_sec < b.tv_sec ||
	       (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec) ? "later" : "EARLIER";
}

/* Prints how path's times moved since s, after `what`. */
static void moved(const char *what, snap s)
{
	struct stat st;

	if (lstat(s.path, &st) == -1) {
		out("times %s after %s: lstat = -1 %s", s.path, what, ename(errno));
		return;
	}
	out("times %s after %s: mtime %s, ctime %s", s.path, what,
	    rel(s.m, st.st_mtim), rel(s.c, st.st_ctim));
}

static void show_mtime(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == -1)
		out("mtime %s: lstat = -1 %s", path, ename(errno));
	else
		out("mtime %s = %lld.%09ld", path, (long long)st.st_mtim.tv_sec,
		    st.st_mtim.tv_nsec);
}

/* ---- the checks ------------------------------------------------------------ */

static void check_open_flags(void)
{
	int fd, fd2;
	char buf[16];

	out("== open flags");
	fd = CALL(open("f", O_CREAT | O_EXCL | O_WRONLY, 0644));
	CALLN(write(fd, "hello", 5));
	CALL(close(fd));
	show("f");
	CALL(open("f", O_CREAT | O_EXCL | O_WRONLY, 0644));
	CALL(open("nonexistent", O_RDONLY));
	fd = CALL(open("f", O_CREAT | O_WRONLY, 0600)); /* exists: no truncate, mode kept */
	CALL(close(fd));
	show("f");
	content("f");

	fd = CALL(open("f", O_WRONLY | O_APPEND));
	CALL(lseek(fd, 0, SEEK_SET));
	CALLN(write(fd, "-app", 4));
	CALLN(pwrite(fd, "-pw", 3, 0)); /* Linux: O_APPEND wins over the offset */
	fd2 = CALL(open("f", O_WRONLY | O_APPEND));
	CALLN(write(fd2, "-two", 4));
	CALLN(write(fd, "-one", 4));
	CALL(close(fd2));
	CALL(close(fd));
	content("f");

	fd = CALL(open("f", O_RDONLY));
	CALLN(write(fd, "x", 1));
	CALL(ftruncate(fd, 1));
	CALL(close(fd));
	fd = CALL(open("f", O_WRONLY));
	CALLN(read(fd, buf, sizeof(buf)));
	CALL(close(fd));

	fd = CALL(open("f", O_WRONLY | O_TRUNC));
	showfd("f after O_TRUNC", fd);
	CALLN(write(fd, "abc", 3));
	CALL(close(fd));
	content("f");
	/* Linux truncates on O_RDONLY|O_TRUNC too (POSIX leaves it open). */
	fd = CALL(open("f", O_RDONLY | O_TRUNC));
	CALLN(read(fd, buf, sizeof(buf)));
	CALL(close(fd));
	show("f");

	fd = CALL(open("t", O_CREAT | O_TRUNC | O_RDWR, 0640));
	CALLN(pwrite(fd, "end", 3, 100000)); /* the gap reads as zeros */
	CALLN(pread(fd, buf, 4, 50000));
	out("gap bytes: %02x %02x %02x %02x", buf[0], buf[1], buf[2], buf[3]);
	showfd("t", fd);
	CALL(close(fd));
}

static void check_open_errors(void)
{
	out("== open errors");
	CALL(mkdir("d", 0755));
	CALL(symlink("f", "lf"));
	CALL(symlink("nowhere", "dangling"));
	CALL(open("d", O_WRONLY));
	CALL(open("d", O_RDWR));
	CALL(open("d", O_CREAT | O_WRONLY, 0644));
	CALL(open("d", O_CREAT | O_EXCL | O_WRONLY, 0644));
	CALL(open("f", O_RDONLY | O_DIRECTORY));
	CALL(open("f/x", O_RDONLY));
	CALL(open("f/x", O_CREAT | O_WRONLY, 0644));
	CALL(open("lf", O_RDONLY | O_NOFOLLOW));
	CALL(open("dangling", O_CREAT | O_EXCL | O_WRONLY, 0644));
	CALL(open("dangling", O_RDONLY));
	CALL(open("nodir/x", O_CREAT | O_WRONLY, 0644));
	show("lf");
	show("dangling");
	show("d");
}

static void check_rename(void)
{
	int fd;

	out("== rename");
	CALL(close(open("r1", O_CREAT | O_WRONLY, 0644)));
	fd = CALL(open("r2", O_CREAT | O_WRONLY, 0600));
	CALLN(write(fd, "r2data", 6));
	CALL(close(fd));
	fd = CALL(open("r1", O_RDONLY)); /* stays readable when replaced */
	CALL(rename("r2", "r1"));
	show("r1");
	show("r2");
	content("r1");
	showfd("replaced r1", fd);
	CALL(close(fd));
	CALL(rename("r1", "r1"));
	CALL(link("r1", "r1link"));
	CALL(rename("r1", "r1link")); /* same inode: a no-op, both names stay */
	show("r1");
	show("r1link");
	CALL(rename("nonexistent", "x"));
	CALL(rename("r1", "nodir/x"));
	CALL(rename("r1", "f/x"));

	CALL(mkdir("da", 0755));
	CALL(mkdir("db", 0700));
	CALL(mkdir("dc", 0755));
	CALL(close(open("dc/file", O_CREAT | O_WRONLY, 0644)));
	CALL(rename("da", "db")); /* over an empty dir */
	show("da");
	show("db");
	CALL(rename("db", "dc")); /* over a non-empty dir */
	CALL(rename("r1", "dc")); /* file over dir */
	CALL(rename("dc", "r1")); /* dir over file */
	CALL(mkdir("dc/sub", 0755));
	CALL(rename("dc", "dc/sub/inside"));
	CALL(rename("dc", "dc/inside"));
	CALL(rename("dc/sub", "dc/sub/x"));
	CALL(rename("dc/file", "dc/file/x"));
	show("dc");

	CALL(renameat2(AT_FDCWD, "r1", AT_FDCWD, "r1link", RENAME_NOREPLACE));
	CALL(renameat2(AT_FDCWD, "r1", AT_FDCWD, "db", RENAME_NOREPLACE));
	CALL(renameat2(AT_FDCWD, "r1", AT_FDCWD, "fresh", RENAME_NOREPLACE));
	CALL(renameat2(AT_FDCWD, "fresh", AT_FDCWD, "dc", RENAME_EXCHANGE));
	show("fresh");
	show("dc");
	show("dc/sub");
	CALL(renameat2(AT_FDCWD, "fresh", AT_FDCWD, "dc", RENAME_EXCHANGE));
	CALL(renameat2(AT_FDCWD, "dc", AT_FDCWD, "nonexistent", RENAME_EXCHANGE));
	CALL(renameat2(AT_FDCWD, "dc", AT_FDCWD, "dc/sub", RENAME_EXCHANGE));
}

static void check_links(void)
{
	int fd;
	char buf[8];

	out("== link counts");
	fd = CALL(open("l1", O_CREAT | O_RDWR, 0644));
	CALLN(write(fd, "linked", 6));
	showfd("l1", fd);
	CALL(link("l1", "l2"));
	CALL(link("l1", "l3"));
	showfd("l1 with 3 names", fd);
	show("l2");
	CALL(link("l1", "l2"));
	CALL(link("nonexistent", "l4"));
	CALL(link("d", "dlink"));
	CALL(link("l1", "nodir/l4"));
	CALL(unlink("l2"));
	show("l1");
	CALL(unlink("l1"));
	CALL(unlink("l3"));
	showfd("l1 unlinked, open", fd);
	CALLN(pread(fd, buf, 6, 0));
	CALL(close(fd));
	CALL(link("lf", "lflink")); /* links the symlink, not its target */
	show("lflink");
	show("f");
}

/* Directory link counts follow subdirectories; and the errno of each
 * namespace call on the wrong kind of entry. */
static void check_dirs(void)
{
	char buf[8];
	int fd;

	out("== directories and other nodes");
	CALL(mkdir("p", 0755));
	show("p");
	CALL(mkdir("p/s1", 0755));
	CALL(mkdir("p/s2", 0755));
	CALL(close(open("p/file", O_CREAT | O_WRONLY, 0644)));
	show("p");
	CALL(mkdir("q", 0755));
	CALL(rename("p/s1", "q/s1"));
	show("p");
	show("q");
	CALL(rmdir("p/s2"));
	show("p");
	CALL(rmdir("p"));
	CALL(rmdir("p/file"));
	CALL(unlink("q"));
	CALL(rmdir("q/s1/."));
	CALL(rmdir("nonexistent"));
	CALL(mkdir("q", 0755));
	CALL(mkdir("nodir/x", 0755));
	CALL(mkdir("f/x", 0755));
	CALL(symlink("x", "f"));
	CALL(mknod("fifo", S_IFIFO | 0640, 0));
	show("fifo");
	CALL(mknod("fifo", S_IFIFO | 0640, 0));
	CALL(mknod("regnode", S_IFREG | 0604, 0));
	show("regnode");
	fd = CALL(open("regnode", O_RDWR));
	CALLN(write(fd, "node", 4));
	CALL(close(fd));
	content("regnode");
	CALLN(readlink("f", buf, sizeof(buf)));
	CALLN(readlink("lf", buf, sizeof(buf)));
	CALL(unlink("d/nonexistent"));
	CALL(unlink("f/x"));
}

/* A write, a truncate or a rename moves some times and not others. */
static void check_times_data(void)
{
	struct timespec past[2] = { { 1000000000, 250000000 }, { 1000000000, 500000000 } };
	char buf[8];
	snap s;
	int fd;

	out("== times: data");
	fd = CALL(open("tm", O_CREAT | O_RDWR, 0644));
	CALLN(write(fd, "0123456789", 10));
	CALL(futimens(fd, past));
	show_mtime("tm");
	s = take("tm");
	CALLN(pread(fd, buf, 4, 0));
	moved("read", s);
	s = take("tm");
	CALLN(pwrite(fd, "ab", 2, 3));
	moved("write", s);
	s = take("tm");
	CALL(ftruncate(fd, 4));
	moved("ftruncate smaller", s);
	s = take("tm");
	CALL(ftruncate(fd, 4));
	moved("ftruncate same size", s);
	s = take("tm");
	CALL(truncate("tm", 9000));
	moved("truncate larger", s);
	s = take("tm");
	CALL(close(fd));
	moved("close", s);

	/* Times set after a write hold past the close that commits it. */
	fd = CALL(open("tm", O_WRONLY));
	CALLN(write(fd, "x", 1));
	CALL(futimens(fd, past));
	CALL(close(fd));
	show_mtime("tm");
	s = take("tm");
	fd = CALL(open("tm", O_WRONLY | O_TRUNC));
	CALL(close(fd));
	moved("open O_TRUNC", s);
	s = take("tm");
	fd = CALL(open("tm", O_WRONLY));
	CALL(close(fd));
	moved("open for writing and close", s);
}

/* Metadata calls move ctime only; directory times follow their entries. */
static void check_times_meta(void)
{
	struct timespec past[2] = { { 1000000000, 250000000 }, { 1000000000, 500000000 } };
	struct timespec only_atime[2] = { { 2000000000, 0 }, { 0, UTIME_OMIT } };
	struct timespec now[2] = { { 0, UTIME_OMIT }, { 0, UTIME_NOW } };
	snap s;

	out("== times: metadata");
	CALL(utimensat(AT_FDCWD, "tm", past, 0));
	s = take("tm");
	CALL(chmod("tm", 0600));
	moved("chmod", s);
	s = take("tm");
	CALL(chown("tm", 0, 0));
	moved("chown", s);
	s = take("tm");
	CALL(link("tm", "tm2"));
	moved("link", s);
	s = take("tm");
	CALL(rename("tm2", "tm3"));
	moved("rename of another name", s);
	s = take("tm");
	CALL(rename("tm", "tm4"));
	s.path = "tm4";
	moved("rename", s);
	s = take("tm4");
	CALL(utimensat(AT_FDCWD, "tm4", only_atime, 0));
	moved("utimensat atime only", s);
	s = take("tm4");
	CALL(utimensat(AT_FDCWD, "tm4", now, 0));
	moved("utimensat mtime now", s);

	CALL(mkdir("td", 0755));
	CALL(utimensat(AT_FDCWD, "td", past, 0));
	s = take("td");
	CALL(close(open("td/a", O_CREAT | O_WRONLY, 0644)));
	moved("create inside", s);
	s = take("td");
	CALL(rename("td/a", "td/b"));
	moved("rename inside", s);
	s = take("td");
	CALL(access("td/b", R_OK));
	CALL(close(open("td/b", O_RDONLY)));
	moved("lookup and open inside", s);
	s = take("td");
	CALL(unlink("td/b"));
	moved("unlink inside", s);
	s = take("td");
	CALL(mkdir("td/sub", 0755));
	moved("mkdir inside", s);
}

static void check_perms(void)
{
	out("== chmod and chown");
	CALL(close(open("pm", O_CREAT | O_WRONLY, 0777)));
	show("pm"); /* umask 022 */
	CALL(chmod("pm", 04755));
	show("pm");
	CALL(chown("pm", 1234, 5678));
	show("pm"); /* chown clears set-id bits */
	CALL(chmod("pm", 02750));
	show("pm");
	CALL(chown("pm", -1, 42));
	show("pm");
	CALL(chown("pm", 77, -1));
	show("pm");
	CALL(lchown("lf", 55, 66));
	show("lf");
	show("f");
	CALL(chmod("nonexistent", 0644));
	CALL(chown("nonexistent", 0, 0));
	CALL(mkdir("sg", 02775));
	CALL(chown("sg", 0, 4321));
	CALL(chmod("sg", 02775));
	CALL(close(open("sg/in", O_CREAT | O_WRONLY, 0644)));
	CALL(mkdir("sg/sub", 0755));
	show("sg");
	show("sg/in"); /* group from the set-gid parent */
	show("sg/sub"); /* and the set-gid bit too */
	CALL(mkdir("m", 0));
	show("m");
	CALL(chmod("m", 01777));
	show("m");
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void try_opendir(const char *path)
{
	DIR *dp = opendir(path);

	if (dp)
		out("opendir %s = ok", path);
	else
		out("opendir %s = -1 %s", path, ename(errno));
	if (dp)
		closedir(dp);
}

static void check_listing(void)
{
	char names[64][NAME_MAX + 16];
	struct dirent *de;
	int n = 0;
	DIR *dp;

	out("== readdir");
	dp = opendir(".");
	if (!dp) {
		out("opendir . = -1 %s", ename(errno));
		return;
	}
	while ((de = readdir(dp)) && n < 64)
		snprintf(names[n++], sizeof(names[0]), "%s:%s", de->d_name,
			 de->d_type == DT_DIR ? "dir" : de->d_type == DT_REG ? "reg" :
			 de->d_type == DT_LNK ? "lnk" : de->d_type == DT_FIFO ? "fifo" :
			 de->d_type == DT_UNKNOWN ? "unknown" : "other");
	closedir(dp);
	qsort(names, (size_t)n, sizeof(names[0]), cmp_name);
	for (int i = 0; i < n; i++)
		out("entry %s", names[i]);
	try_opendir("f");
	try_opendir("nonexistent");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	umask(022);
	if (chdir(argv[1]) == -1 || mkdir("pc", 0755) == -1 || chdir("pc") == -1) {
		fprintf(stderr, "posix_conf: cannot set up %s/pc: %s\n", argv[1],
			strerror(errno));
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	check_open_flags();
	check_open_errors();
	check_rename();
	check_links();
	check_dirs();
	check_times_data();
	check_times_meta();
	check_perms();
	check_listing();
	return 0;
}

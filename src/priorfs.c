/* SPDX-License-Identifier: MIT */
/*
 * priorfs.c - the daemon: parses options, opens the store, mounts it and
 * serves FUSE requests until unmounted.
 *
 * Usage: priorfs [options] STORE MOUNTPOINT
 *
 * The daemon forks into the background itself instead of calling
 * fuse_daemonize() after the mount: the cache's worker threads would not
 * survive a later fork, and the parent must still learn whether the store
 * opened and the mount worked to exit with the right status.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/pf_common.h"
#include "fs/fs.h"
#include "store/store.h"

static void usage(FILE *out)
{
	fputs("usage: priorfs [options] STORE MOUNTPOINT\n"
	      "       mount -t priorfs STORE MOUNTPOINT [-o options]\n", out);
}

/* The name is fixed: argv[0] is libtool's .libs path in a build tree, and
 * mount.fuse3 runs us by the type name anyway. */
static void help(void)
{
	usage(stdout);
	fputs("\nMounts the priorfs store STORE (made with priorctl init) at\n"
	      "MOUNTPOINT. See priorfs(8).\n\n", stdout);
	fflush(stdout);
	fuse_cmdline_help();
	fuse_lowlevel_help();
	printf("\n");
	pf_mount_opts_help(stdout);
}

/* Ours, then libfuse's: fuse_lowlevel_version() also runs fusermount3
 * --version, which writes straight to fd 1, so flush first. */
static void version(void)
{
	printf("priorfs %s\nlibfuse %s\n", PACKAGE_VERSION, fuse_pkgversion());
	fflush(stdout);
	fuse_lowlevel_version();
}

/* fuse_opt callback: takes the first non-option argument as BACKING and
 * leaves everything else (MOUNTPOINT included) for fuse_parse_cmdline. */
static int backing_proc(void *data, const char *arg, int key,
			struct fuse_args *outargs)
{
	char **backing = data;

	(void)outargs;
	if (key != FUSE_OPT_KEY_NONOPT || *backing)
		return 1;
	*backing = strdup(arg);
	return *backing ? 0 : -1;
}

/*
 * Forks. The parent waits until the child reports (daemon_ready) or dies,
 * and exits with its status; only the child returns, with the pipe's write
 * end. Errors before the report still reach the terminal.
 */
static int daemon_start(void)
{
	int pipefd[2], status;
	char ok;
	pid_t pid;

	if (pipe(pipefd) == -1)
		return -errno;
	pid = fork();
	if (pid == -1)
		return -errno;
	if (pid > 0) {
		close(pipefd[1]);
		if (read(pipefd[0], &ok, 1) == 1)
			_exit(0);
		/* The child exited before reporting: pass its status on. */
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status))
			_exit(WEXITSTATUS(status));
		_exit(1);
	}
	close(pipefd[0]);
	setsid();
	return pipefd[1];
}

/* Detaches the child from the terminal and releases the parent. */
static void daemon_ready(int fd)
{
	int null = open("/dev/null", O_RDWR);
	char ok = 0;

	if (chdir("/") == -1)
		pf_log(PF_LOG_WARNING, "chdir /: %m");
	if (null != -1) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	pf_log_to_syslog(true);
	if (write(fd, &ok, 1) != 1)
		pf_log(PF_LOG_WARNING, "telling the parent the mount is up: %m");
	close(fd);
}

static int serve(struct fuse_session *se, const struct fuse_cmdline_opts *cl)
{
	struct fuse_loop_config *cfg;
	int rc;

	if (cl->singlethread)
		return fuse_session_loop(se);
	cfg = fuse_loop_cfg_create();
	if (!cfg) {
		pf_log(PF_LOG_ERR, "request loop: out of memory");
		return -1;
	}
	fuse_loop_cfg_set_clone_fd(cfg, (unsigned)cl->clone_fd);
	/* an option not given parses as UINT_MAX, which the setters refuse
	 * with a warning: keep the config's defaults (no idle limit, 10) */
	if (cl->max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(cfg, cl->max_idle_threads);
	if (cl->max_threads != UINT_MAX)
		fuse_loop_cfg_set_max_threads(cfg, cl->max_threads);
	rc = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return rc;
}

/* Mounts the opened store and serves it; @return the exit status. */
static int run_mount(pf_store *store, pf_mount_opts *mo, struct fuse_args *args,
		     const struct fuse_cmdline_opts *cl, int ready_fd)
{
	struct fuse_session *se;
	pf_cache *cache;
	pf_fs *fs;
	int rc, status = 1;

	rc = pf_cache_create(store, &mo->cache, &cache);
	if (rc < 0) {
		fprintf(stderr, "priorfs: cannot create the block cache: %s\n",
			strerror(-rc));
		return 1;
	}
	rc = pf_fs_create(cache, mo, &fs);
	if (rc < 0) {
		fprintf(stderr, "priorfs: cannot set up the filesystem: %s\n",
			strerror(-rc));
		goto out_cache;
	}
	se = fuse_session_new(args, &pf_fs_ops, sizeof(pf_fs_ops), fs);
	if (!se)
		goto out_fs;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, cl->mountpoint) != 0)
		goto out_signals;
	if (ready_fd >= 0)
		daemon_ready(ready_fd);
	status = serve(se, cl) == 0 ? 0 : 1;
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_fs:
	pf_fs_destroy(fs);
out_cache:
	pf_cache_destroy(cache);
	return status;
}

/* Adds the options every priorfs mount wants: the kernel checks
 * permissions (the daemon is root), and the mount table names the store. */
static int add_mount_args(struct fuse_args *args, const char *backing)
{
	char *o = NULL, *fsname;
	int rc = -1;

	if (asprintf(&fsname, "fsname=%s", backing) == -1)
		return -1;
	/* Commas and backslashes in the path are escaped for fuse_opt. */
	if (fuse_opt_add_opt(&o, "default_permissions,subtype=priorfs") == 0 &&
	    fuse_opt_add_opt_escaped(&o, fsname) == 0 &&
	    fuse_opt_add_arg(args, "-o") == 0)
		rc = fuse_opt_add_arg(args, o);
	free(fsname);
	free(o);
	return rc;
}

static int start(const char *backing, pf_mount_opts *mo, struct fuse_args *args,
		 const struct fuse_cmdline_opts *cl)
{
	pf_store *store;
	int ready_fd = -1, status, rc;

	if (add_mount_args(args, backing) != 0)
		return 1;
	if (cl->debug)
		pf_log_set_level(PF_LOG_DEBUG);
	if (!cl->foreground) {
		ready_fd = daemon_start();
		if (ready_fd < 0) {
			fprintf(stderr, "priorfs: cannot fork: %s\n",
				strerror(-ready_fd));
			return 1;
		}
	}
	rc = pf_store_open(backing, &mo->store, &store);
	if (rc < 0) {
		fprintf(stderr, "priorfs: cannot open store %s: %s\n", backing,
			strerror(-rc));
		return 1;
	}
	/* Until "priorctl import --in-place" finishes, some regular files are
	 * still plain and would read as corrupt containers. */
	if (faccessat(pf_store_root_fd(store), PF_META_NAME "/inplace", F_OK,
		      AT_SYMLINK_NOFOLLOW) == 0) {
		fprintf(stderr, "priorfs: store %s is being converted by "
			"'priorctl import --in-place', which did not finish; "
			"run it again to finish, then mount\n", backing);
		pf_store_close(store);
		return 1;
	}
	/* One writer per store: a second read-write mount, an import or a
	 * recompress would each commit over the other's containers. */
	rc = mo->store.read_only ? 0 : pf_store_lock_writer(store);
	if (rc < 0) {
		fprintf(stderr, "priorfs: store %s is in use by another writer "
			"(a read-write mount, priorctl import or recompress holds "
			"%s/.priorfs/lock): %s\n", backing, backing, strerror(-rc));
		pf_store_close(store);
		return 1;
	}
	status = run_mount(store, mo, args, cl, ready_fd);
	pf_store_close(store);
	return status;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cl = { 0 };
	pf_mount_opts mo;
	char *backing = NULL;
	char err[256];
	int status = 1;

	/* The kernel already applied the caller's umask to every mode. */
	umask(0);
	if (fuse_opt_parse(&args, &backing, NULL, backing_proc) == -1 ||
	    fuse_parse_cmdline(&args, &cl) != 0)
		goto out;
	if (cl.show_help) {
		help();
		status = 0;
	} else if (cl.show_version) {
		version();
		status = 0;
	} else if (!backing || !cl.mountpoint) {
		usage(stderr);
		fputs("       priorfs --help\n", stderr);
	} else if (pf_mount_opts_parse(&args, &mo, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
	} else {
		status = start(backing, &mo, &args, &cl);
	}
out:
	free(cl.mountpoint);
	free(backing);
	fuse_opt_free_args(&args);
	return status;
}

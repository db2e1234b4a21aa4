/* SPDX-License-Identifier: MIT */
/*
 * cmd_init.c - "priorctl init DIR": makes an empty or missing directory a
 * priorfs store.
 *
 * Refuses a directory that already holds files, so that it can never turn
 * someone's data into a store whose plain files would then read as corrupt
 * containers, and refuses an existing store rather than resetting it.
 */
#include "priorctl/priorctl.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

static const char init_usage[] =
	"usage: priorctl init DIR\n"
	"\n"
	"Makes DIR a priorfs store, creating it if it is missing. DIR must be\n"
	"empty. Mount the store afterwards with: priorfs DIR MOUNTPOINT\n"
	"\n"
	"  -h, --help  show this help\n";

static int init_report(const char *dir, int rc)
{
	switch (rc) {
	case 0:
		printf("initialized priorfs store in %s\n"
		       "mount it with: priorfs %s MOUNTPOINT\n", dir, dir);
		return PCTL_EXIT_OK;
	case -EEXIST:
		pctl_err("init: %s is already a priorfs store; left as it is",
			 dir);
		break;
	case -ENOTEMPTY:
		pctl_err("init: %s is not empty; a new store needs an empty or "
			 "missing directory", dir);
		break;
	default:
		pctl_err("init: %s: %s", dir, strerror(-rc));
	}
	return PCTL_EXIT_FAULT;
}

int pctl_cmd_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt = pctl_getopt("init", argc, argv, ":h", longopts);

	if (opt != -1) /* init has one option: --help */
		return pctl_usage(init_usage, opt == 'h');
	if (argc - optind != 1) {
		pctl_err("init: expected one directory, got %d arguments",
			 argc - optind);
		return pctl_usage(init_usage, false);
	}
	return init_report(argv[optind], pf_store_init(argv[optind]));
}

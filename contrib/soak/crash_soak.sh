#!/bin/bash
# SPDX-License-Identifier: MIT
# crash_soak.sh - the crash test of make check (tests/integration/t_crash.sh), run for many iterations.
#
# usage: contrib/soak/crash_soak.sh [-n ITERATIONS] [-w WRITERS] [-s SEED] [-k KEEP]
#   -n  crash iterations (default 100), each: concurrent writers, then kill -9
#       or umount -l of the busy mount, fsck, remount, check every file; and in
#       some of them priorctl recompress killed at a random moment
#   -w  writer processes per iteration (default 4)
#   -s  base seed (default random); iteration IT prints "seed SEED.IT"
#   -k  keep the files of the last KEEP iterations (default 5), so the store
#       and the per-iteration checks stay bounded
# Run from a build dir (or set top_builddir); needs root and /dev/fuse.
# A failure prints the seed of its iteration; rerun the whole sequence with
# -s SEED (crash timing is not reproducible, the operations drawn are).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-${PF_BUILDDIR:-$(pwd)}}
export top_srcdir top_builddir

ITERS=100 WRITERS=4 KEEP=5 SEED=
while getopts "n:w:s:k:" o; do
	case $o in
	n) ITERS=$OPTARG ;;
	w) WRITERS=$OPTARG ;;
	s) SEED=$OPTARG ;;
	k) KEEP=$OPTARG ;;
	*) sed -n '4,12p' "$0" >&2; exit 2 ;;
	esac
done
[ -n "$SEED" ] || SEED=$(od -An -tu4 -N4 /dev/urandom | tr -d ' ')
start=$(date +%s)
PF_CRASH_ITERS=$ITERS PF_CRASH_WRITERS=$WRITERS PF_CRASH_SEED=$SEED PF_CRASH_KEEP=$KEEP \
	bash "$top_srcdir/tests/integration/t_crash.sh"
rc=$?
echo "crash soak: $ITERS iterations, seed $SEED, exit $rc, $(($(date +%s) - start)) s"
exit $rc

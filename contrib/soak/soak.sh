#!/bin/bash
# SPDX-License-Identifier: MIT
# soak.sh - long fsx runs over every codec and block size, with parallel workers and remounts.
#
# usage: contrib/soak/soak.sh [-n OPS] [-p PARALLEL] [-r ROUNDS] [-c CODECS] [-b SIZES]
#   -n  fsx operations per run (default 1000000)
#   -p  fsx processes at once on one mount, each in its own dir (default 2)
#   -r  rounds over the whole matrix (default 1; 0 = until it fails)
#   -c  codecs (default "auto zstd raw");  -b  block sizes (default "64K 1M")
# Run from a build dir (or set top_builddir); needs root and /dev/fuse.
# Every seed is printed, so a failure replays with
#   fsx -s SEED -n OPS ... MNT/DIR REF/DIR   (see the fsx line before it).
# Each run ends with a remount, an fsx -k pass over the files left behind,
# a diff -r against the reference and priorctl fsck.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top_srcdir/tests/integration/lib.sh"

OPS=1000000 PAR=2 ROUNDS=1 CODECS="auto zstd raw" SIZES="64K 1M"
while getopts "n:p:r:c:b:" o; do
	case $o in
	n) OPS=$OPTARG ;;
	p) PAR=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	c) CODECS=$OPTARG ;;
	b) SIZES=$OPTARG ;;
	*) sed -n '4,9p' "$0" >&2; exit 2 ;;
	esac
done
pf_setup
if [ ! -x "$FSX" ]; then
	FSX=$PF_WORK/fsx
	cc -O2 -o "$FSX" "$top_srcdir/tests/integration/fsx.c" || fail "cannot build fsx"
fi

seed() { od -An -tu4 -N4 /dev/urandom | tr -d ' '; }

# soak_one CODEC BS: one fresh store, PAR parallel fsx runs, remount, -k runs.
soak_one() {
	local codec=$1 bs=$2 store=$PF_WORK/store.$1.$2 mnt=$PF_WORK/mnt ref=$PF_WORK/ref.$1.$2
	local opts=block_size=$bs,codec=$codec pids=() p s bytes
	bytes=$(numfmt --from=iec "$bs")  # files span ~6 blocks; I/O up to one block
	pf_init_store "$store"
	pf_mount "$store" "$mnt" "$opts"
	for pass in 1 2; do
		pids=()
		for p in $(seq 1 "$PAR"); do
			mkdir -p "$mnt/d$p" "$ref/d$p"
			s=$(seed)
			echo "  [$codec $bs pass $pass] fsx -s $s -n $OPS -l $((bytes * 6)) -o $bytes $([ $pass = 2 ] && echo -k) d$p"
			"$FSX" -s "$s" -n "$OPS" -l $((bytes * 6)) -o "$bytes" -c 5000 $([ $pass = 2 ] && echo -k) \
				"$mnt/d$p" "$ref/d$p" >"$PF_WORK/fsx.$p.out" 2>&1 &
			pids+=($!)
		done
		for p in $(seq 1 "$PAR"); do
			wait "${pids[$((p - 1))]}" || {
				cat "$PF_WORK/fsx.$p.out"
				fail "fsx in d$p ($codec, $bs, pass $pass)"
			}
		done
		pf_remount "$store" "$mnt" "$opts"
		diff -r "$ref" "$mnt" || fail "tree differs after remount ($codec, $bs, pass $pass)"
	done
	pf_umount "$mnt"
	if [ -x "$PRIORCTL" ]; then
		"$PRIORCTL" fsck "$store" || fail "fsck ($codec, $bs)"
	fi
	rm -rf "$store" "$ref"
}

round=0
while [ "$ROUNDS" = 0 ] || [ "$round" -lt "$ROUNDS" ]; do
	round=$((round + 1))
	for codec in $CODECS; do
		for bs in $SIZES; do
			check "round $round: codec=$codec block_size=$bs, $PAR x $OPS ops, twice"
			start=$SECONDS
			soak_one "$codec" "$bs"
			echo "  ok in $((SECONDS - start)) s"
		done
	done
done

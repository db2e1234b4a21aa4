#!/bin/bash
# SPDX-License-Identifier: MIT
# soak.sh - long fsx runs over every codec and block size, with concurrent processes and remounts between segments.
#
# usage: contrib/soak/soak.sh [-n OPS] [-p OWN] [-q SHARED] [-g SEGMENTS] [-r ROUNDS] [-c CODECS] [-b SIZES]
#   -n  fsx operations per configuration, all processes and segments together (default 1000000)
#   -p  processes in a directory of their own, with directory swaps (default 1)
#   -q  processes sharing one directory, each renaming/linking its own names (default 2)
#   -g  segments: every process stops, the store is unmounted, fsck'd, and remounted,
#       then each continues with fsx -k on what it left (default 10)
#   -r  rounds over the whole matrix (default 1; 0 = until it fails)
#   -c  codecs (default "raw zstd learned"): raw, zstd -> codec=raw/zstd; learned -> a store
#       with a model from priorctl train, codec=learned; auto -> that store, codec=auto,write_codec=learned
#   -b  block sizes (default "64K 1M")
# Run from a build dir (or set top_builddir); needs root and /dev/fuse. Each configuration
# ends with a remount, a diff -r against the reference and priorctl fsck.
# Every fsx command is logged with its seed; on a failure the log of the whole configuration
# (mount options, each segment's commands, remounts) is printed and copied to
# $SOAK_LOGDIR (default /tmp) as soak-fail-*.log: replaying it in order reproduces the run.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top_srcdir/tests/integration/lib.sh"

OPS=1000000 OWN=1 SHARED=2 SEGS=10 ROUNDS=1 CODECS="raw zstd learned" SIZES="64K 1M"
while getopts "n:p:q:g:r:c:b:" o; do
	case $o in
	n) OPS=$OPTARG ;;
	p) OWN=$OPTARG ;;
	q) SHARED=$OPTARG ;;
	g) SEGS=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	c) CODECS=$OPTARG ;;
	b) SIZES=$OPTARG ;;
	*) sed -n '5,14p' "$0" >&2; exit 2 ;;
	esac
done
NPROC=$((OWN + SHARED))
[ "$NPROC" -ge 1 ] && [ "$SEGS" -ge 1 ] || { echo "soak: need a process and a segment" >&2; exit 2; }
pf_setup
if [ ! -x "$FSX" ]; then
	FSX=$PF_WORK/fsx
	cc -O2 -o "$FSX" "$top_srcdir/tests/integration/fsx.c" || fail "cannot build fsx"
fi
[ -x "$PRIORCTL" ] || fail "no priorctl at $PRIORCTL (needed for fsck and models)"

seed() { od -An -tu4 -N4 /dev/urandom | tr -d ' '; }

# gen_text FILE SEED: ~2.7 MB of prose-like text from a Zipf-distributed
# made-up vocabulary, enough for priorctl train to keep a text model.
gen_text() {
	python3 - "$@" <<'EOF' || fail "gen_text $*"
import itertools, random, sys
out, rng = sys.argv[1], random.Random(int(sys.argv[2]))
syl = "ka lo mi ne ru sa te vi do pa ri en al or is un th st ch qu".split()
vocab = ["".join(rng.choice(syl) for _ in range(rng.choice((1, 2, 2, 3, 3, 4))))
         for _ in range(3000)]
cum = list(itertools.accumulate(1.0 / (i + 1) for i in range(len(vocab))))
words = rng.choices(vocab, cum_weights=cum, k=450000)
with open(out, "w") as f:
    for i in range(0, len(words), 12):
        f.write(" ".join(words[i:i + 12]).capitalize() + ".\n")
EOF
}

# make_store CODEC STORE: a fresh store; learned and auto get a text model.
make_store() {
	pf_init_store "$2"
	case $1 in
	learned | auto)
		mkdir -p "$PF_WORK/train"
		gen_text "$PF_WORK/train/text.txt" 7
		"$PRIORCTL" train --from "$PF_WORK/train" --level fast --sample 2M "$2" >"$PF_WORK/train.out" 2>&1 ||
			fail "priorctl train: $(cat "$PF_WORK/train.out")"
		grep -q '^default models:' "$PF_WORK/train.out" || fail "no model kept: $(cat "$PF_WORK/train.out")"
		;;
	esac
}

mount_opts() {
	case $1 in
	raw | zstd) echo "block_size=$2,codec=$1" ;;
	learned) echo "block_size=$2,codec=learned" ;;
	auto) echo "block_size=$2,codec=auto,write_codec=learned" ;;
	*) fail "unknown codec $1" ;;
	esac
}

# soak_fail MSG: prints the replay log, keeps a copy, fails.
soak_fail() {
	local keep=${SOAK_LOGDIR:-/tmp}/soak-fail-$(date +%Y%m%d-%H%M%S).log
	cp "$REPLAY" "$keep"
	echo "---- replay log ($keep) ----" >&2
	cat "$REPLAY" >&2
	fail "$1"
}

# fsx_dir P: processes 1..OWN have a dir of their own, the others share one.
fsx_dir() {
	if [ "$1" -le "$OWN" ]; then echo "own$1"; else echo shared; fi
}

# fsx_cmd P SEG PER: the fsx command line of process P in segment SEG.
fsx_cmd() {
	local p=$1 seg=$2 per=$3 dir args
	dir=$(fsx_dir "$p")
	if [ "$p" -le "$OWN" ]; then args="-N 8"; else args="-N 6 -p p$p"; fi
	[ "$seg" -gt 1 ] && args="$args -k"
	echo "$FSX -s $(seed) -n $per $args -D 3 -l $((BYTES * 6)) -o $BYTES -c 5000 $MNT/$dir $REF/$dir"
}

# soak_one CODEC BS: one fresh store, SEGS segments of NPROC concurrent fsx
# runs with an unmount, fsck and mount between segments.
soak_one() {
	local codec=$1 bs=$2 opts seg p cmd pids per failed
	STORE=$PF_WORK/store MNT=$PF_WORK/mnt REF=$PF_WORK/ref REPLAY=$PF_WORK/replay.log
	BYTES=$(numfmt --from=iec "$bs") # files span ~6 blocks; I/O up to one block
	opts=$(mount_opts "$codec" "$bs")
	per=$(((OPS + NPROC * SEGS - 1) / (NPROC * SEGS)))
	rm -rf "$STORE" "$REF" "$PF_WORK/train"
	make_store "$codec" "$STORE"
	{
		echo "# soak codec=$codec block_size=$bs: $NPROC processes x $SEGS segments x $per ops"
		echo "# store: priorctl init $STORE$([ -d "$PF_WORK/train" ] && echo "; priorctl train --from DIR --level fast --sample 2M $STORE (DIR: soak.sh gen_text)")"
		echo "mkdir -p$(for p in $(seq 1 "$NPROC"); do printf ' %s' "$REF/$(fsx_dir "$p")"; done); priorfs -f $STORE $MNT -o $opts &"
	} >"$REPLAY"
	pf_mount "$STORE" "$MNT" "$opts"
	for p in $(seq 1 "$NPROC"); do
		mkdir -p "$MNT/$(fsx_dir "$p")" "$REF/$(fsx_dir "$p")"
	done
	for seg in $(seq 1 "$SEGS"); do
		echo "# segment $seg (run these concurrently)" >>"$REPLAY"
		pids=()
		for p in $(seq 1 "$NPROC"); do
			cmd=$(fsx_cmd "$p" "$seg" "$per")
			echo "$cmd" >>"$REPLAY"
			$cmd >"$PF_WORK/fsx.$p.out" 2>&1 &
			pids+=($!)
		done
		failed=0
		for p in $(seq 1 "$NPROC"); do
			wait "${pids[$((p - 1))]}" && continue
			failed=1
			cat "$PF_WORK/fsx.$p.out" >&2
		done
		[ "$failed" = 0 ] || soak_fail "fsx mismatch ($codec, $bs, segment $seg)"
		echo "fusermount3 -u $MNT; priorctl fsck $STORE; priorfs -f $STORE $MNT -o $opts &" >>"$REPLAY"
		pf_umount "$MNT"
		"$PRIORCTL" fsck "$STORE" >"$PF_WORK/fsck.out" 2>&1 ||
			soak_fail "fsck after segment $seg ($codec, $bs): $(tail -5 "$PF_WORK/fsck.out")"
		pf_mount "$STORE" "$MNT" "$opts"
		echo "  segment $seg/$SEGS: $NPROC x $per ops, remount, fsck ok ($((SECONDS - START)) s)"
	done
	diff -r "$REF" "$MNT" >&2 || soak_fail "tree differs after the last remount ($codec, $bs)"
	if [ "$codec" = learned ] || [ "$codec" = auto ]; then
		pf_umount "$MNT"
		"$PRIORCTL" stat --json "$STORE" |
			python3 -c 'import json, sys; b = json.load(sys.stdin)["total"]["blocks"]; print("  blocks:", b); sys.exit(b["learned"] == 0)' ||
			fail "no learned blocks with codec=$codec"
	else
		pf_umount "$MNT"
	fi
	TOTAL=$((TOTAL + NPROC * SEGS * per))
	rm -rf "$STORE" "$REF"
}

TOTAL=0
round=0
while [ "$ROUNDS" = 0 ] || [ "$round" -lt "$ROUNDS" ]; do
	round=$((round + 1))
	for codec in $CODECS; do
		for bs in $SIZES; do
			check "round $round: codec=$codec block_size=$bs, $OPS ops in $NPROC processes, $SEGS segments"
			START=$SECONDS DONE=$TOTAL
			soak_one "$codec" "$bs"
			echo "  ok: $((TOTAL - DONE)) ops, 0 mismatches, in $((SECONDS - START)) s (total $TOTAL ops)"
		done
	done
done

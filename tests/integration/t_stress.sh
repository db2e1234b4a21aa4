#!/bin/bash
# SPDX-License-Identifier: MIT
# t_stress.sh - many threads read the same and different files while others write; memory stays within the cache bound.
#
# 1. stress (tests/integration/stress.c): readers on one shared file and on
#    their own files, sequential and random, while writers rewrite their own
#    files and several threads rewrite regions of one file with fsync; every
#    byte read is checked against what was committed. A small cache (8M,
#    64K blocks) keeps blocks being evicted while they are wanted.
# 2. The cache bound: 16 readers on 16 different files (cache_size=16M,
#    block_size=1M, threads=2): the daemon's peak RSS (VmHWM) must stay under
#    its RSS after mounting + cache_size + (threads + readers) x
#    block_size + a 1M read copy per reader + slack (see below), printed.
# Under a ThreadSanitizer build of the daemon (configure --enable-tsan) any
# "WARNING: ThreadSanitizer" in its log fails the test, and part 2 is skipped
# (TSan's shadow memory is no measure of the cache). To run it so:
#   mkdir -p /tmp/build-tsan && cd /tmp/build-tsan
#   $SRCDIR/configure -q --enable-tsan
#   make -j2 src/priorfs src/priorctl/priorctl tests/integration/stress
#   top_builddir=$PWD PF_STRESS_SECONDS=30 bash $SRCDIR/tests/integration/t_stress.sh
# PF_STRESS_SECONDS sets the length of each stress run (default 8).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup

STRESS=${STRESS:-$top_builddir/tests/integration/stress}
[ -x "$STRESS" ] || fail "no stress program at $STRESS"
[ -x "$PRIORCTL" ] || fail "no priorctl at $PRIORCTL (needed for fsck)"
SECS=${PF_STRESS_SECONDS:-8}
MNT=$PF_WORK/mnt

# no_tsan_reports: the daemon's log has no ThreadSanitizer report.
no_tsan_reports() {
	! grep -q "WARNING: ThreadSanitizer" "$PF_LOG" ||
		fail "ThreadSanitizer: $(grep -c 'WARNING: ThreadSanitizer' "$PF_LOG") reports in $PF_LOG: $(grep -A12 -m1 'WARNING: ThreadSanitizer' "$PF_LOG")"
}

# status_kb PID FIELD: a /proc/PID/status figure in kB.
status_kb() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

check "stress: 12 readers, 2 writers, 2 threads rewriting a shared file with fsync, ${SECS}s"
STORE=$PF_WORK/store1
pf_init_store "$STORE"
OPTS=block_size=64K,cache_size=8M,threads=4,dirty_limit=2M
pf_mount "$STORE" "$MNT" "$OPTS"
TSAN=0
grep -q libtsan "/proc/$(pf_daemon_pid "$MNT")/maps" && TSAN=1
[ "$TSAN" = 1 ] && echo "  the daemon is a ThreadSanitizer build"
"$STRESS" fill -f 4 -s 2 -z 3072 "$MNT" || fail "stress fill"
pf_remount "$STORE" "$MNT" "$OPTS" # cold cache
"$STRESS" run -t "$SECS" -r 12 -w 2 -s 2 -f 4 -z 3072 "$MNT" || fail "stress run"
no_tsan_reports
pf_umount "$MNT"
no_tsan_reports
"$PRIORCTL" fsck "$STORE" >"$PF_WORK/fsck.out" 2>&1 || fail "fsck after stress: $(cat "$PF_WORK/fsck.out")"

check "after a remount the files hold the last generations written (readers only)"
pf_mount "$STORE" "$MNT" "$OPTS"
"$STRESS" run -o -t 2 -r 8 -s 2 -f 4 -z 3072 "$MNT" || fail "stress read-back"
pf_umount "$MNT"
no_tsan_reports

[ "$TSAN" = 1 ] && exit 0

# The cache bound. Decoded clean blocks are kept up to cache_size (the
# table counts every block it holds, pinned or not, and evicts unpinned ones
# beyond it); beyond cache_size a block stays only while pinned: by a decode
# worker filling it, or by a FUSE thread decoding or sending it - one block
# per thread, since a read across blocks is copied out one block at a time.
# Besides, each reader may hold the copy of a read across blocks (at most
# 1M). Add slack for the rest: the compressed block being decoded, zstd
# contexts, FUSE request buffers and malloc arenas. A cache that did not
# evict would hold the whole 96M read.
check "cache bound: 16 readers on 16 files, cache_size=16M, block_size=1M, threads=2"
STORE=$PF_WORK/store2 BS_MB=1 CACHE_MB=16 THREADS=2 READERS=16 SLACK_MB=8
pf_init_store "$STORE"
OPTS=block_size=${BS_MB}M,cache_size=${CACHE_MB}M,threads=$THREADS
pf_mount "$STORE" "$MNT" "$OPTS"
"$STRESS" fill -f $READERS -s 0 -z 6144 "$MNT" || fail "stress fill"
pf_umount "$MNT"
pf_drop_caches
pf_mount "$STORE" "$MNT" "$OPTS"
pid=$(pf_daemon_pid "$MNT")
base=$(status_kb "$pid" VmRSS)
"$STRESS" run -t "$SECS" -r $READERS -w 0 -s 0 -f $READERS -z 6144 "$MNT" || fail "stress run"
hwm=$(status_kb "$pid" VmHWM)
bound=$((base + (CACHE_MB + (THREADS + READERS) * BS_MB + READERS + SLACK_MB) * 1024))
echo "  daemon RSS after mount ${base} kB, peak (VmHWM) ${hwm} kB, bound ${bound} kB" \
	"= base + ${CACHE_MB}M cache + ($THREADS threads + $READERS readers) x ${BS_MB}M + $READERS x 1M copies + ${SLACK_MB}M;" \
	"above base: $(((hwm - base) / 1024))M"
[ "$hwm" -le "$bound" ] || fail "daemon peak RSS ${hwm} kB exceeds ${bound} kB"
pf_umount "$MNT"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# threads.sh - cold sequential read of a store through the mount: serial
# decoding (single-threaded FUSE loop, no read-ahead) against threads=1 and
# threads=2 (median of RUNS runs each): how decoding spreads over cores when
# it, not FUSE, is the bottleneck. FUSE threads decode the blocks they need
# themselves while workers decode ahead, so threads=1 already uses 2 cores.
#
# usage: contrib/bench/threads.sh BUILD_DIR STORE [RUNS]
#   STORE: e.g. made by `priorctl import SRC STORE` (learned blocks), or any
#   store. Files are read with cat in name order after drop_caches.
set -euo pipefail
build=$(cd "$1" && pwd); store=$(cd "$2" && pwd); runs=${3:-3}
mnt=$(mktemp -d /tmp/pf-thr.XXXXXX)
trap 'fusermount3 -u "$mnt" 2>/dev/null || true; rmdir "$mnt"' EXIT
"$build/src/priorfs" "$store" "$mnt" -o ro
bytes=$(find "$mnt" -type f -printf '%s\n' | awk '{s+=$1} END {print s}') # logical
fusermount3 -u "$mnt"

one_run() { # priorfs-args... -> MB/s
	sync; echo 3 > /proc/sys/vm/drop_caches
	"$build/src/priorfs" "$@" "$store" "$mnt"
	local t0 t1; t0=$(date +%s.%N)
	find "$mnt" -type f -print0 | sort -z | xargs -0 cat > /dev/null
	t1=$(date +%s.%N)
	fusermount3 -u "$mnt"
	echo "$bytes / 1000000 / ($t1 - $t0)" | bc -l
}
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

row() { # label priorfs-args...
	local label=$1; shift
	printf '| %s | %.2f |\n' "$label" "$(for _ in $(seq "$runs"); do one_run "$@"; done | median)"
}
echo "| mount | cold seq read MB/s (median of $runs) |"
echo "|---|---|"
row "serial: -s -o threads=1,readahead=0" -s -o ro,threads=1,readahead=0
row "threads=1 (readahead=8M)" -o ro,threads=1,readahead=8M
row "threads=2 (readahead=8M)" -o ro,threads=2,readahead=8M

#!/bin/bash
# SPDX-License-Identifier: MIT
# readcpu.sh - the daemon's CPU time for a cold read of a whole store, with
# several builds taking turns (to compare two versions of the read path on a
# noisy machine: pair the rows of one round).
#
# Usage: contrib/bench/readcpu.sh STORE ROUNDS BUILD...
# Each round mounts STORE read-only with every BUILD in turn (`priorfs -o
# ro,threads=1`), drops the page cache, reads every file with cat and prints
# "round build cpu_s wall_s mb_per_cpu_s": CPU is the daemon's user + system
# time during the read, from /proc; MB are the files' logical bytes.
# Needs root (drop_caches, mount).
set -euo pipefail

[ $# -ge 3 ] || { echo "usage: $0 STORE ROUNDS BUILD..." >&2; exit 2; }
store=$1 rounds=$2
shift 2
mnt=$(mktemp -d /tmp/readcpu.XXXXXX)
trap 'mountpoint -q "$mnt" && umount "$mnt"; rmdir "$mnt"' EXIT
hz=$(getconf CLK_TCK)

daemon_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

for r in $(seq 1 "$rounds"); do
	for b in "$@"; do
		sync
		echo 3 > /proc/sys/vm/drop_caches
		"$b/src/priorfs" -f -o ro,threads=1 "$store" "$mnt" > /dev/null 2>&1 &
		pid=$!
		for _ in $(seq 100); do mountpoint -q "$mnt" && break; sleep 0.1; done
		bytes=$(find "$mnt" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
		c0=$(daemon_ticks "$pid")
		t0=$(date +%s.%N)
		find "$mnt" -type f -exec cat {} + > /dev/null
		t1=$(date +%s.%N)
		c1=$(daemon_ticks "$pid")
		umount "$mnt"
		wait "$pid" || true
		awk -v r="$r" -v b="$b" -v c="$((c1 - c0))" -v hz="$hz" -v w="$(echo "$t1 - $t0" | bc)" \
			-v n="$bytes" 'BEGIN {printf "%d %s %.2f %.2f %.3f\n", r, b, c / hz, w, n / 1e6 / (c / hz)}'
	done
done

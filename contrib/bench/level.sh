#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# level.sh - the model levels side by side: per category, stored bytes
# (model bytes counted), encode speed and cold-read speed with 1 and 2
# decode threads for level default, level fast (FAST=1) and level max at
# each network width.
#
# usage: contrib/bench/level.sh BUILD_DIR CORPUS_DIR [MAX_MB_PER_FILE] [CATEGORIES...]
#   WIDTHS="32 64 128" (environment) sets level max's network widths
#   (default "64"; WIDTHS="" runs no level max). FAST=1 adds level fast.
#   Each category is a subdirectory of CORPUS_DIR; its files
#   are cut to MAX_MB_PER_FILE (default 8). Runs as root (drop_caches, FUSE
#   mounts); needs bc and fuse3.
#
# Columns: stored is container bytes plus model bytes after `priorctl train
#   --from --sample` (10% of the category, 1 MiB at least) and `priorctl
#   import --no-train` at that level; "vs default" is stored over level
#   default's stored on the same files in the same run. encode MB/s/core:
#   bytes over the import's CPU time. read MB/s: `cat` of the mount
#   (ro,threads=N) after drop_caches, wall time; decode MB/s/core: bytes over
#   the daemon's CPU time during the 1-thread read.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd); corpus=$(cd "$2" && pwd); cap=${3:-8}; shift 3 || shift $#
cats=("$@"); [ ${#cats[@]} -gt 0 ] || mapfile -t cats < <(ls "$corpus")
widths=${WIDTHS-64}
ctl=$build/src/priorctl/priorctl
work=$(mktemp -d /tmp/pf-level.XXXXXX); mnt=$work/mnt; mkdir -p "$mnt"
trap 'fusermount3 -u "$mnt" 2>/dev/null || true; rm -rf "$work"' EXIT
export TIMEFORMAT='%R %U %S'

mb() { printf '%.2f' "$(echo "$1 / 1000000" | bc -l)"; }
speed() { printf '%.2f' "$(echo "$1 / 1000000 / $2" | bc -l)"; } # bytes seconds
sum_sizes() { awk '{s += $1} END {print s + 0}'; }

cut_category() { # cat -> $work/src-$cat, files cut to $cap MiB
	local f src=$work/src-$1
	mkdir -p "$src"
	for f in "$corpus/$1"/*; do
		head -c "$((cap << 20))" "$f" > "$src/$(basename "$f")"
	done
}

daemon_cpu() { # pid -> CPU seconds (all threads)
	sed 's/.*) //' "/proc/$1/stat" | awk -v hz="$(getconf CLK_TCK)" '{print ($12 + $13) / hz}'
}

read_mount() { # store threads -> rd_wall rd_cpu (s) of cat over the mount
	local pid t0 t1 c0 c1
	sync; echo 3 > /proc/sys/vm/drop_caches
	"$build/src/priorfs" -f -o "ro,threads=$2" "$1" "$mnt" > /dev/null & pid=$!
	until mountpoint -q "$mnt"; do kill -0 "$pid"; sleep 0.1; done
	c0=$(daemon_cpu "$pid"); t0=$(date +%s.%N)
	cat "$mnt"/* > /dev/null
	t1=$(date +%s.%N); c1=$(daemon_cpu "$pid")
	fusermount3 -u "$mnt"; wait "$pid"
	rd_wall=$(echo "$t1 - $t0" | bc); rd_cpu=$(echo "$c1 - $c0" | bc)
}

# run cat src sample bytes level [width]: one row; sets stored
run() {
	local store=$work/store t extra=() models data w1 c1 w2
	rm -rf "$store"
	"$ctl" init "$store" > /dev/null
	[ -n "${6:-}" ] && extra=(--net-width "$6")
	"$ctl" train --from "$2" --sample "$3" --level "$5" "${extra[@]}" "$store" > "$work/train.out" 2>&1 ||
		{ cat "$work/train.out" >&2; exit 1; }
	t=$({ time "$ctl" import --no-train --level "$5" --jobs 2 "$2" "$store" > /dev/null 2>&1; } 2>&1)
	models=$(find "$store/.priorfs/models" -type f -regextype egrep -regex '.*/[0-9a-f]{64}' \
		-printf '%s\n' | sum_sizes)
	data=$(find "$store" -path "$store/.priorfs" -prune -o -type f -printf '%s\n' | sum_sizes)
	stored=$((data + models))
	read_mount "$store" 1; w1=$rd_wall c1=$rd_cpu
	read_mount "$store" 2; w2=$rd_wall
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$5" "${6:--}" \
		"$(mb "$stored")" "$(mb "$models")" "$(printf '%.4f' "$(echo "$stored / ${base:-$stored}" | bc -l)")" \
		"$(speed "$4" "$(echo "$t" | awk '{print $2 + $3}')")" "$(speed "$4" "$w1")" \
		"$(speed "$4" "$w2")" "$(speed "$4" "$c1")"
}

echo "| category | level | width | stored MB | models MB | vs default | encode MB/s/core | read MB/s, 1 thread | read MB/s, 2 threads | decode MB/s/core |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for cat in "${cats[@]}"; do
	cut_category "$cat"
	src=$work/src-$cat
	bytes=$(du -cb "$src" | tail -1 | cut -f1)
	sample=$((bytes / 10 > 1048576 ? bytes / 10 : 1048576))
	base=
	run "$cat" "$src" "$sample" "$bytes" default
	base=$stored
	[ "${FAST:-0}" = 1 ] && run "$cat" "$src" "$sample" "$bytes" fast
	for w in $widths; do run "$cat" "$src" "$sample" "$bytes" max "$w"; done
	rm -rf "$src"
done

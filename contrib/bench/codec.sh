#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# codec.sh - stored size per data category: priorfs (priorctl import: models
# trained on a sample of the category, model bytes counted) against zstd -19
# and xz -9e on each whole file, plus import and read speeds.
#
# usage: contrib/bench/codec.sh BUILD_DIR CORPUS_DIR [MAX_MB_PER_FILE] [CATEGORIES...]
#   Each category is a subdirectory of CORPUS_DIR; every file in it is cut to
#   MAX_MB_PER_FILE (default 8) so a run stays within minutes on 2 cores.
set -euo pipefail
build=$(cd "$1" && pwd); corpus=$(cd "$2" && pwd); cap=${3:-8}; shift 3 || shift $#
cats=("$@"); [ ${#cats[@]} -gt 0 ] || mapfile -t cats < <(ls "$corpus")
ctl=$build/src/priorctl/priorctl
work=$(mktemp -d /tmp/pf-codec.XXXXXX); mnt=$work/mnt; mkdir -p "$mnt"
trap 'fusermount3 -u "$mnt" 2>/dev/null || true; rm -rf "$work"' EXIT

mb() { echo "scale=2; $1 / 1000000" | bc; }
echo "| category | bytes | priorfs (data + models) | models | zstd -19 | xz -9e | priorfs / xz | priorfs / zstd | import MB/s | cold read MB/s |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for cat in "${cats[@]}"; do
	src=$work/src-$cat; store=$work/store-$cat; mkdir -p "$src"
	for f in "$corpus/$cat"/*; do [ -f "$f" ] && head -c "$((cap << 20))" "$f" > "$src/$(basename "$f")"; done
	bytes=$(du -cb "$src" | tail -1 | cut -f1)
	zs=0; xs=0
	for f in "$src"/*; do
		zs=$((zs + $(zstd -19 -T1 -c "$f" | wc -c)))
		xs=$((xs + $(xz -9e -T1 -c "$f" | wc -c)))
	done
	t0=$(date +%s.%N)
	"$ctl" import --jobs 2 "$src" "$store" >/dev/null 2>&1
	t1=$(date +%s.%N)
	data=$(find "$store" -path "$store/.priorfs" -prune -o -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
	models=$(find "$store/.priorfs/models" -type f -regextype egrep -regex '.*/[0-9a-f]{64}' -printf '%s\n' | awk '{s+=$1} END {print s+0}')
	total=$((data + models))
	sync; echo 3 > /proc/sys/vm/drop_caches
	"$build/src/priorfs" "$store" "$mnt" -o ro,threads=2
	t2=$(date +%s.%N); cat "$mnt"/* > /dev/null; t3=$(date +%s.%N)
	fusermount3 -u "$mnt"
	printf '| %s | %s | %s | %s | %s | %s | %.3f | %.3f | %.2f | %.2f |\n' "$cat" "$(mb "$bytes")" \
		"$(mb "$total")" "$(mb "$models")" "$(mb "$zs")" "$(mb "$xs")" \
		"$(echo "$total / $xs" | bc -l)" "$(echo "$total / $zs" | bc -l)" \
		"$(echo "$bytes / 1000000 / ($t1 - $t0)" | bc -l)" "$(echo "$bytes / 1000000 / ($t3 - $t2)" | bc -l)"
	rm -rf "$src" "$store"
done

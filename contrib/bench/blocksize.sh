#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# blocksize.sh - how block_size trades stored size against random-read cost.
#
# For each block size: copy a sample of the corpus into a fresh store through
# the mount (codec=auto, zstd level 3 unless ZSTD_LEVEL is set), then, with
# cold caches, time random 4 KiB reads with fio (each cold read decodes a
# whole block). Prints a markdown table.
#
# usage: contrib/bench/blocksize.sh BUILD_DIR CORPUS_DIR [SIZES]
#   BUILD_DIR   holds src/priorfs and src/priorctl/priorctl
#   CORPUS_DIR  ../shared/corpus/fetch-corpus output, or any directory
#   SIZES       default "64K 128K 256K 1M 4M"
set -euo pipefail
build=$(cd "$1" && pwd); corpus=$(cd "$2" && pwd); sizes=${3:-"64K 128K 256K 1M 4M"}
level=${ZSTD_LEVEL:-3}
work=$(mktemp -d /tmp/pf-bs.XXXXXX)
mnt=$work/mnt; mkdir -p "$mnt"
cleanup() { fusermount3 -u "$mnt" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

mount_store() { # store [opts]
	"$build/src/priorfs" "$1" "$mnt" -o "block_size=$bs,zstd_level=$level${2:+,$2}"
	for _ in $(seq 50); do mountpoint -q "$mnt" && return 0; sleep 0.1; done
	echo "mount failed" >&2; exit 1
}

# The largest file of each category, so every kind of data is in the sample.
mapfile -t sample < <(for d in "$corpus"/*/; do
	find "$d" -maxdepth 1 -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2-
done)
logical=$(du -cb --apparent-size "${sample[@]}" | tail -1 | cut -f1)
big=$(ls -S "${sample[@]}" | head -1)

echo "| block_size | stored MB | ratio | cold random 4K read IOPS (fio, cache_size=1M, 10 s) | seq read MB/s (cold) |"
echo "|---|---|---|---|---|"
for bs in $sizes; do
	store=$work/store-$bs
	"$build/src/priorctl/priorctl" init "$store" >/dev/null
	mount_store "$store"
	cp "${sample[@]}" "$mnt/"
	fusermount3 -u "$mnt"
	stored=$(find "$store" -path "$store/.priorfs" -prune -o -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
	sync; echo 3 > /proc/sys/vm/drop_caches
	mount_store "$store" "cache_size=1M"
	iops=$(fio --name=r --filename="$mnt/$(basename "$big")" --rw=randread --bs=4k \
		--runtime=10 --time_based --ioengine=psync --direct=1 --output-format=terse 2>/dev/null \
		| awk -F';' '{print $8}')
	fusermount3 -u "$mnt"
	sync; echo 3 > /proc/sys/vm/drop_caches
	mount_store "$store"
	t0=$(date +%s.%N); cat "$mnt"/* > /dev/null; t1=$(date +%s.%N)
	fusermount3 -u "$mnt"
	printf '| %s | %.1f | %.3f | %s | %.0f |\n' "$bs" "$(echo "$stored/1000000" | bc -l)" \
		"$(echo "$logical/$stored" | bc -l)" "$iops" "$(echo "$logical/1000000/($t1-$t0)" | bc -l)"
	rm -rf "$store"
done

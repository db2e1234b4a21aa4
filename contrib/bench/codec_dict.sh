#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# codec_dict.sh - stored size of a directory as zstd -19 blocks with a
# dictionary trained on a sample taken the way priorctl takes its model's.
#
# usage: contrib/bench/codec_dict.sh DIR SAMPLE_BYTES [BLOCK_BYTES]
#   Prints "TOTAL DICT": TOTAL = every file of DIR cut into independent
#   BLOCK_BYTES (default 256 KiB) blocks, each compressed with zstd -19 and
#   the dictionary, plus the dictionary once; DICT = the dictionary's bytes.
#   The sample follows src/priorctl/ctl_sample.c: pieces of up to 256 KiB,
#   one per file and round until SAMPLE_BYTES, spread over each file at an
#   aligned stride, every tenth piece held out. Files go in name order (not
#   by a hash of the path) and one sample is taken for the whole directory
#   (priorctl takes one per data kind), so the bytes are alike, not equal.
#   ZSTD_MAXDICT sets the dictionary size (default zstd's 112640).
set -euo pipefail
dir=$1; cap=$2; block=${3:-262144}
piece=262144
tmp=$(mktemp -d /tmp/pf-dict.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

plan() { # -> lines "path pieces last_len size": priorctl's plan_kind
	find "$dir" -maxdepth 1 -type f -printf '%s %p\n' | sort -k2 |
	awk -v cap="$cap" -v P="$piece" '
	{ size[NR] = $1; path[NR] = substr($0, index($0, " ") + 1); alive[NR] = 1 }
	END {
		left = cap
		for (r = 0; left > 0; r++) {
			live = 0
			for (i = 1; i <= NR && left > 0; i++) {
				if (!alive[i]) continue
				take = size[i] - r * P; if (take > P) take = P
				if (take > left) { take = left; last[i] = take }
				pieces[i]++; left -= take
				if (size[i] > (r + 1) * P) live++; else alive[i] = 0
			}
			if (!live) break
		}
		for (i = 1; i <= NR; i++)
			if (pieces[i]) print pieces[i], last[i] + 0, size[i], path[i]
	}'
}

cut_sample() { # plan lines -> $tmp/sample/piece.N, held-out pieces skipped
	local total=$1 n=0 k last size path j stride off len
	mkdir "$tmp/sample"
	while read -r k last size path; do
		stride=$piece
		[ $((k * piece)) -lt "$size" ] && stride=$((size / k / piece * piece))
		for ((j = 0; j < k; j++, n++)); do
			if [ "$total" -ge 10 ]; then [ $((n % 10)) -eq 9 ] && continue
			elif [ "$total" -ge 2 ] && [ $((n + 1)) -eq "$total" ]; then continue; fi
			off=$((j * stride)); len=$((size - off < piece ? size - off : piece))
			[ $((j + 1)) -eq "$k" ] && [ "$last" -gt 0 ] && len=$last
			dd if="$path" of="$tmp/sample/piece.$n" bs=64K iflag=skip_bytes,count_bytes \
				skip="$off" count="$len" status=none
		done
	done
}

train() { # -> $tmp/dict
	local bytes chunk
	# zstd --train reads at most 128 KiB of each sample and wants a dozen or
	# so: a small sample is cut finer
	bytes=$(cat "$tmp"/sample/piece.* | wc -c)
	chunk=$((bytes / 16 < 131072 ? bytes / 16 : 131072))
	zstd -q --train -B"$chunk" --maxdict="${ZSTD_MAXDICT:-112640}" \
		"$tmp"/sample/piece.* -o "$tmp/dict" 2> "$tmp/train.log" ||
		{ cat "$tmp/train.log" >&2; return 1; }
}

blocks_size() { # -> bytes of all files as independent zstd -19 + dict blocks
	local f sum=0
	mkdir "$tmp/blk"
	for f in "$dir"/*; do
		[ -f "$f" ] || continue
		split -b "$block" -a 6 "$f" "$tmp/blk/b."
		sum=$((sum + $(zstd -q -19 -T1 -D "$tmp/dict" -c "$tmp"/blk/b.* | wc -c)))
		rm -f "$tmp"/blk/b.*
	done
	echo "$sum"
}

plan > "$tmp/plan"
cut_sample "$(awk '{s += $1} END {print s + 0}' "$tmp/plan")" < "$tmp/plan"
train
dict=$(stat -c %s "$tmp/dict")
echo "$(($(blocks_size) + dict)) $dict"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# codec.sh - stored size per data category: priorfs (models trained on at
# most 10% of the category, model bytes counted) against zstd -19, xz -9e,
# zpaq -m4 and bzip3 on each whole file and zstd -19 with a dictionary on
# independent 256 KiB blocks; encode and decode speed per core; memory per
# decode thread beyond the shared model.
#
# usage: contrib/bench/codec.sh BUILD_DIR CORPUS_DIR [MAX_MB_PER_FILE] [CATEGORIES...]
#   Each category is a subdirectory of CORPUS_DIR; every file in it is cut to
#   MAX_MB_PER_FILE (default 8) so a run stays within minutes on 2 cores.
#   Runs as root (drop_caches, FUSE mounts). Needs the Debian packages zstd,
#   xz-utils, zpaq, bzip3, bc, gcc and fuse3. MIN_SAVING=P passes
#   --min-saving P to priorctl train and import (default: theirs, 12.5);
#   LEVEL=L passes --level L (fast, default or max; default: default).
#
# Columns:
#   sample: the --sample cap given to priorctl, 10% of the category (1 MiB
#     at least: priorctl trains on no less); priorctl holds out a tenth of it,
#     and a category it sniffs as several kinds gets one sample per kind.
#   priorfs: `priorctl train --from` then `priorctl import --no-train`, the
#     default block size; container bytes plus model bytes.
#   zstd -19 +dict: codec_dict.sh, a dictionary trained on a sample of the
#     same size taken the same way; dictionary bytes counted once.
#   zstd -19, xz -9e, zpaq -m4, bzip3: each whole (cut) file, one thread;
#     bzip3's block is the whole file.
#   import MB/s: wall time of train and import (--jobs 2). encode MB/s/core:
#     bytes over the import's CPU time (training excluded). cold read MB/s:
#     `cat` of the mount (ro,threads=2) after drop_caches; decode MB/s/core:
#     bytes over the daemon's CPU time during that read.
# A second table gives the memory: model_bench --mem maps each model file
# as the store does and decodes blocks of the category's largest file on 1
# and then 2 threads at once; per thread = (VmHWM - VmRSS before the threads)
# / threads, the largest over the store's models. Daemon peak RSS is VmHWM of
# priorfs after the cold read (includes its block cache, default 256M).
# Each category's exact byte counts (priorfs, zstd -19, xz -9e) go to
# stderr, for ratios closer than the tables' rounding.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); srcdir=$(cd "$here/../.." && pwd)
build=$(cd "$1" && pwd); corpus=$(cd "$2" && pwd); cap=${3:-8}; shift 3 || shift $#
cats=("$@"); [ ${#cats[@]} -gt 0 ] || mapfile -t cats < <(ls "$corpus")
ctl=$build/src/priorctl/priorctl
ctl_opts=() # for train and import
[ -z "${MIN_SAVING:-}" ] || ctl_opts+=(--min-saving "$MIN_SAVING")
[ -z "${LEVEL:-}" ] || ctl_opts+=(--level "$LEVEL")
work=$(mktemp -d /tmp/pf-codec.XXXXXX); mnt=$work/mnt; mkdir -p "$mnt"
trap 'fusermount3 -u "$mnt" 2>/dev/null || true; rm -rf "$work"' EXIT
export TIMEFORMAT='%R %U %S' # for time in priorfs_import

need_tools() { # exits naming the Debian package of each missing tool
	local t missing=0
	for t in zstd:zstd xz:xz-utils zpaq:zpaq bzip3:bzip3 bc:bc gcc:gcc fusermount3:fuse3; do
		command -v "${t%%:*}" > /dev/null && continue
		echo "codec.sh: ${t%%:*} not found: apt-get install ${t#*:}" >&2
		missing=1
	done
	return $missing
}

build_model_bench() { # -> $work/model_bench, linked to the build's libprior
	gcc -O2 -std=gnu11 -D_GNU_SOURCE -I"$srcdir/src" -I"$srcdir/include" \
		"$here/model_bench.c" -o "$work/model_bench" -L"$build/lib/.libs" \
		-Wl,-rpath,"$build/lib/.libs" -lprior -lzstd -lpthread
}

mb() { printf '%.2f' "$(echo "$1 / 1000000" | bc -l)"; }
mib() { printf '%.2f' "$(echo "$1 / 1024" | bc -l)"; } # KiB -> MiB
div() { printf '%.3f' "$(echo "$1 / $2" | bc -l)"; }
speed() { printf '%.2f' "$(echo "$1 / 1000000 / ($2)" | bc -l)"; } # bytes secs
sum_sizes() { awk '{s += $1} END {print s + 0}'; }

cut_category() { # cat -> $work/src-cat, files cut to cap MiB
	local f src=$work/src-$1
	mkdir -p "$src"
	for f in "$corpus/$1"/*; do
		[ -f "$f" ] && head -c "$((cap << 20))" "$f" > "$src/$(basename "$f")"
	done
}

zpaq_size() { # file -> bytes of a fresh zpaq -m4 archive of it alone
	rm -f "$work/z.zpaq"
	(cd "$(dirname "$1")" && zpaq a "$work/z.zpaq" "$(basename "$1")" -m4 -threads 1 > /dev/null 2>&1)
	stat -c %s "$work/z.zpaq"
}

bzip3_size() { # file -> bytes, one block for the whole file
	bzip3 -e -c -j 1 -b "$(($(stat -c %s "$1") / 1048576 + 1))" < "$1" | wc -c
}

whole_files() { # src -> zs xs zp b3: zstd, xz, zpaq, bzip3 byte totals
	local f
	zs=0 xs=0 zp=0 b3=0
	for f in "$1"/*; do
		zs=$((zs + $(zstd -19 -T1 -c "$f" | wc -c)))
		xs=$((xs + $(xz -9e -T1 -c "$f" | wc -c)))
		zp=$((zp + $(zpaq_size "$f")))
		b3=$((b3 + $(bzip3_size "$f")))
	done
}

priorfs_import() { # src store sample -> imp_wall enc_cpu (s): train, then encode
	local t tr
	"$ctl" init "$2" > /dev/null
	tr=$({ time "$ctl" train --from "$1" --sample "$3" "${ctl_opts[@]}" "$2" > /dev/null 2>&1; } 2>&1)
	t=$({ time "$ctl" import --no-train --jobs 2 "${ctl_opts[@]}" "$1" "$2" > /dev/null 2>&1; } 2>&1)
	imp_wall=$(echo "${tr%% *} + ${t%% *}" | bc)
	enc_cpu=$(echo "$t" | awk '{print $2 + $3}')
}

model_files() { # store -> paths of its model files
	find "$1/.priorfs/models" -type f -regextype egrep -regex '.*/[0-9a-f]{64}'
}

stored_size() { # store -> data models (bytes)
	data=$(find "$1" -path "$1/.priorfs" -prune -o -type f -printf '%s\n' | sum_sizes)
	models=$(model_files "$1" | xargs -r stat -c %s | sum_sizes)
}

daemon_cpu() { # pid -> CPU seconds (all threads)
	sed 's/.*) //' "/proc/$1/stat" | awk -v hz="$(getconf CLK_TCK)" '{print ($12 + $13) / hz}'
}

cold_read() { # store -> rd_wall rd_cpu (s) peak (KiB) of cat over the mount
	local pid t0 t1 c0 c1
	sync; echo 3 > /proc/sys/vm/drop_caches
	"$build/src/priorfs" -f -o ro,threads=2 "$1" "$mnt" > /dev/null & pid=$!
	until mountpoint -q "$mnt"; do kill -0 "$pid"; sleep 0.1; done
	c0=$(daemon_cpu "$pid"); t0=$(date +%s.%N)
	cat "$mnt"/* > /dev/null
	t1=$(date +%s.%N); c1=$(daemon_cpu "$pid")
	peak=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
	fusermount3 -u "$mnt"; wait "$pid"
	rd_wall=$(echo "$t1 - $t0" | bc); rd_cpu=$(echo "$c1 - $c0" | bc)
}

mem_field() { # key model_bench-output -> value
	tr '\t' '\n' <<< "$2" | awk -F= -v k="$1" '$1 == k {print $2}'
}

decode_mem() { # store src -> mbytes mrss per1 per2 (KiB): the model costing most per thread
	local m big one two
	big=$(find "$2" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2-)
	mbytes=- mrss=- per1=- per2=-
	for m in $(model_files "$1"); do
		one=$(OPENBLAS_NUM_THREADS=1 "$work/model_bench" --mem "$m" "$big" 1 4)
		two=$(OPENBLAS_NUM_THREADS=1 "$work/model_bench" --mem "$m" "$big" 2 4)
		[ "$per2" != - ] && [ "$(mem_field per_thread_kib "$two")" -le "$per2" ] && continue
		mbytes=$(mem_field model_bytes "$one"); mrss=$(mem_field model_rss_kib "$one")
		per1=$(mem_field per_thread_kib "$one"); per2=$(mem_field per_thread_kib "$two")
	done
}

main_row() { # cat bytes sample total models zs xs zd zp b3 imp_wall enc_cpu rd_wall rd_cpu
	printf '%s: priorfs %s bytes, zstd -19 %s, xz -9e %s\n' "$1" "$4" "$6" "$7" >&2
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |' "$1" "$(mb "$2")" "$(mb "$3")" \
		"$(mb "$4")" "$(mb "$5")" "$(mb "$6")" "$(mb "$7")" "$(mb "$8")" "$(mb "$9")" "$(mb "${10}")"
	printf ' %s | %s | %s | %s | %s |' "$(div "$4" "$7")" "$(div "$4" "$6")" \
		"$(div "$8" "$7")" "$(div "$9" "$7")" "$(div "${10}" "$7")"
	printf ' %s | %s | %s | %s |\n' "$(speed "$2" "${11}")" "$(speed "$2" "${12}")" \
		"$(speed "$2" "${13}")" "$(speed "$2" "${14}")"
}

mem_row() { # cat model_bytes model_rss per1 per2 daemon_peak (KiB but model_bytes)
	if [ "$2" = - ]; then
		printf '| %s | no model (all blocks zstd or raw) | | | | | %s |\n' "$1" "$(mib "$6")"
		return
	fi
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$(mb "$2")" "$(mib "$3")" \
		"$(mib "$4")" "$(mib "$5")" "$([ "$5" -le 65536 ] && echo yes || echo NO)" "$(mib "$6")"
}

category() { # cat -> one main row; appends its memory row to mem_rows
	local src=$work/src-$1 store=$work/store-$1 bytes sample zd
	cut_category "$1"
	bytes=$(du -cb "$src" | tail -1 | cut -f1)
	sample=$((bytes / 10 > 1048576 ? bytes / 10 : 1048576))
	whole_files "$src"
	zd=$("$here/codec_dict.sh" "$src" "$sample"); zd=${zd%% *}
	priorfs_import "$src" "$store" "$sample"
	stored_size "$store"
	cold_read "$store"
	decode_mem "$store" "$src"
	main_row "$1" "$bytes" "$sample" "$((data + models))" "$models" "$zs" "$xs" "$zd" "$zp" "$b3" \
		"$imp_wall" "$enc_cpu" "$rd_wall" "$rd_cpu"
	mem_rows+=("$(mem_row "$1" "$mbytes" "$mrss" "$per1" "$per2" "$peak")")
	rm -rf "$src" "$store"
}

need_tools
build_model_bench
mem_rows=()
echo "| category | MB | sample MB | priorfs (data + models) | models | zstd -19 | xz -9e | zstd -19 +dict, 256K blocks | zpaq -m4 | bzip3 | priorfs / xz | priorfs / zstd | zstd+dict / xz | zpaq / xz | bzip3 / xz | import MB/s | encode MB/s/core | cold read MB/s | decode MB/s/core |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for cat in "${cats[@]}"; do category "$cat"; done
echo
echo "| category | model MB | model in RAM MiB | decode thread MiB (1 thread) | per decode thread MiB (2 threads) | <= 64 MiB | priorfs peak RSS MiB (cold read) |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${mem_rows[@]}"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# recompress.sh - background recompression (-o recompress=1) at work: stored
# bytes over time while it moves freshly written text to the learned codec,
# the final size against an explicit `priorctl recompress`, and what it costs
# foreground readers (fio 4K random-read latency on another file, with the
# thread working and with recompress=0).
#
# usage: contrib/bench/recompress.sh BUILD_DIR TEXT_DIR [MB|all [auto]]
#   TEXT_DIR: plain text files (e.g. the corpus's 1-prose); its first 8 MB
#   train the model (priorctl import), the next MB (default 32) are written
#   through the mount and left to the background thread.
#   all: copy TEXT_DIR's whole tree as it is instead (e.g. the shared corpus);
#   with a model up front, the tree's first 8 MB also train it.
#   auto: no model up front; the mount trains one itself (-o train=auto,
#   train_after=8M), compared with `priorctl train && priorctl recompress`.
# LATENCY_ONLY=1 in the environment runs the read-latency part alone.
set -euo pipefail
build=$(cd "$1" && pwd); text=$(cd "$2" && pwd); mb=${3:-32}; mode=${4:-model}
ctl=$build/src/priorctl/priorctl
work=$(mktemp -d /tmp/pf-rcb.XXXXXX)
mnt=$work/mnt
trap 'fusermount3 -u "$mnt" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/train" "$work/new" "$mnt"
find "$text" -type f -print0 | sort -z | xargs -0 cat > "$work/all"
head -c $((8 << 20)) "$work/all" > "$work/train/train.txt"
if [ "$mb" = all ]; then
	cp -r "$text/." "$work/new/"
else
	dd if="$work/all" of="$work/new.txt" bs=1M skip=8 count="$mb" status=none
	split -b 4M -d "$work/new.txt" "$work/new/part"
fi
rm -f "$work/all" "$work/new.txt"
dd if=/dev/urandom bs=1M count=48 status=none | base64 > "$work/probe.txt" # fio target

# stored STORE: disk bytes of the new data's containers (free gaps that
# commits punched out do not count; the probe file and models are apart).
stored() { du -s --block-size=1 "$1/new" | cut -f1; }

# unmount STORE: unmounts and waits until the daemon has let go of the
# store's writer lock (it commits and exits after the unmount returns).
unmount() {
	fusermount3 -u "$mnt"
	for _ in $(seq 600); do
		flock -n "$1/.priorfs/lock" true && return 0
		sleep 0.1
	done
	echo "the daemon of $1 did not exit" >&2
	return 1
}

# setup STORE: a store with a text model, the probe file and the new data
# written through a mount with the options given (zstd blocks).
setup() {
	if [ "$mode" = auto ]; then
		"$ctl" init "$1" > /dev/null
	else
		"$ctl" import --level default "$work/train" "$1" > /dev/null
	fi
	"$build/src/priorfs" "$1" "$mnt" -o "recompress=0"
	cp "$work/probe.txt" "$mnt/"
	cp -r "$work/new" "$mnt/"
	unmount "$1"
}

# fio_lat OPTS: p50/p99 4K random-read latency (us) on the probe file, 20 s.
fio_lat() {
	"$build/src/priorfs" "$store" "$mnt" -o "$1"
	sync; echo 3 > /proc/sys/vm/drop_caches
	fio --name=lat --filename="$mnt/probe.txt" --rw=randread --bs=4k \
		--ioengine=psync --runtime=20 --time_based --direct=1 \
		--output-format=json --randseed=42 > "$work/fio.json"
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1]))["jobs"][0]["read"]; p=j["clat_ns"]["percentile"]; print("%.0f %.0f %.0f" % (p["50.000000"]/1e3, p["99.000000"]/1e3, j["iops"]))' "$work/fio.json"
}

bg=recompress=1,recompress_after=1,recompress_rate=0
[ "$mode" = auto ] && bg=$bg,train=auto,train_after=8M
stat_of() { sed -n "s/^$1=//p" "$work/stats"; } # KEY: from the last stats read

# size_run: stored bytes over time while the thread works, then the same
# data through an explicit recompress.
size_run() {
	setup "$store"
	echo "new data: $(du -sm "$work/new" | cut -f1) MB written through the mount as zstd; its stored bytes (disk use) over time:"
	before=$(stored "$store")
	"$build/src/priorfs" "$store" "$mnt" -o "$bg"
	t0=$(date +%s)
	echo "| seconds | stored bytes |"
	echo "|---|---|"
	echo "| 0 | $before |"
	# Done when a whole scan has passed with no file converted since the last
	# conversion seen (files that stay zstd or raw never count as converted),
	# and, with train=auto, a model has been kept.
	files=-1; settled=0
	while sleep 15; do
		getfattr --only-values -n user.priorfs.stats "$mnt" > "$work/stats" 2>/dev/null
		echo "| $(($(date +%s) - t0)) | $(stored "$store") |"
		if [ "$(stat_of recompress_files)" != "$files" ]; then
			files=$(stat_of recompress_files); settled=$(($(stat_of recompress_scans) + 2))
		fi
		[ "$mode" = auto ] && [ "$(stat_of train_models)" -eq 0 ] && settled=$(($(stat_of recompress_scans) + 2))
		[ "$(stat_of recompress_scans)" -ge "$settled" ] && break
		[ $(($(date +%s) - t0)) -lt 7200 ] || { echo "| gave up after 7200 s |"; break; }
	done
	unmount "$store"
	after=$(stored "$store")

	explicit=$work/explicit
	setup "$explicit"
	[ "$mode" = auto ] && "$ctl" train "$explicit" > /dev/null
	"$ctl" recompress "$explicit" > /dev/null
	echo
	echo "| what | stored bytes |"
	echo "|---|---|"
	echo "| after writing (zstd) | $before |"
	echo "| after background recompression | $after |"
	echo "| after explicit $([ "$mode" = auto ] && echo "priorctl train && ")priorctl recompress | $(stored "$explicit") |"
}

store=$work/store
if [ -z "${LATENCY_ONLY:-}" ]; then
	size_run
	echo
fi
echo "foreground 4K random reads of another file while the thread works (fio, 20 s, O_DIRECT):"
echo "| mount | p50 us | p99 us | IOPS |"
echo "|---|---|---|---|"
rm -rf "$store"
setup "$store"
read -r p50 p99 iops < <(fio_lat recompress=0); unmount "$store"
echo "| recompress=0 | $p50 | $p99 | $iops |"
read -r p50 p99 iops < <(fio_lat "$bg"); unmount "$store"
echo "| $bg, thread busy | $p50 | $p99 | $iops |"

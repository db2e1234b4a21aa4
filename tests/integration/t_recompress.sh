#!/bin/bash
# SPDX-License-Identifier: MIT
# t_recompress.sh - background recompression (-o recompress=1): cold files written through the mount move from zstd to the learned codec with their bytes and times unchanged; open files wait; a writer during recompression wins; kill -9 mid-way leaves an fsck-clean store; stats show the work; train=auto trains the model itself.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup
[ -x "$PRIORCTL" ] || fail "no priorctl at $PRIORCTL"
command -v getfattr >/dev/null || fail "getfattr (package attr) is needed and missing"

SRC=$PF_WORK/src STORE=$PF_WORK/store MNT=$PF_WORK/mnt REF=$PF_WORK/ref
mkdir -p "$SRC" "$REF"

# codec_count FILE CODEC: blocks of FILE (on the mount) stored with CODEC.
codec_count() {
	getfattr --only-values -n user.priorfs.codec "$1" 2>/dev/null |
		tr ' ' '\n' | sed -n "s/^$2://p"
}

# stat_key KEY: a counter of user.priorfs.stats of the mount.
stat_key() {
	getfattr --only-values -n user.priorfs.stats "$MNT" | sed -n "s/^$1=//p"
}

# wait_started FILE: until FILE has a learned block (20 s at most).
wait_started() {
	local i
	for ((i = 0; i < 80; i++)); do
		[ "$(codec_count "$1" learned)" -gt 0 ] && return 0
		sleep 0.25
	done
	fail "recompression of $1 never started"
}

# wait_learned FILE SECONDS: until FILE has no zstd block left.
wait_learned() {
	local i
	for ((i = 0; i < $2 * 4; i++)); do
		[ "$(codec_count "$1" zstd)" = 0 ] && [ "$(codec_count "$1" learned)" -gt 0 ] && return 0
		sleep 0.25
	done
	fail "$1 still has zstd blocks after $2 s: $(getfattr --only-values -n user.priorfs.codec "$1")"
}

check "a store with a text model"
pf_gen zipf 3000000 1 "$SRC/train.txt"
pf_ctl 0 import --level fast "$SRC" "$STORE"
pf_ctl 0 models list "$STORE"
has "$OUT" ' text$'

check "files written through the mount land as zstd, then become learned in the background"
OPTS=recompress=1,recompress_after=2,attr_timeout=0
pf_mount "$STORE" "$MNT" "$OPTS"
[ "$(stat_key recompress)" = 1 ] || fail "the mount does not report recompress=1"
mkdir -p "$MNT/d/e" "$REF/d/e"
pf_gen zipf 1500000 2 "$REF/a.txt"
pf_gen zipf 700000 3 "$REF/d/e/b.txt"
pf_gen random 300K 4 "$REF/noise.bin"
for f in a.txt d/e/b.txt noise.bin; do
	cp "$REF/$f" "$MNT/$f" || fail "cp $f"
	touch -d "2020-01-02 03:04:05.123456789" "$MNT/$f" "$REF/$f" || fail "touch $f"
done
[ "$(codec_count "$MNT/a.txt" learned)" = 0 ] || fail "a.txt was written learned"
[ "$(codec_count "$MNT/a.txt" zstd)" -gt 0 ] || fail "a.txt has no zstd blocks"
wait_learned "$MNT/a.txt" 60
wait_learned "$MNT/d/e/b.txt" 60
for f in a.txt d/e/b.txt noise.bin; do
	cmp "$REF/$f" "$MNT/$f" || fail "$f changed"
	[ "$(stat -c %y "$MNT/$f")" = "$(stat -c %y "$REF/$f")" ] ||
		fail "$f mtime $(stat -c %y "$MNT/$f"), want $(stat -c %y "$REF/$f")"
done
[ "$(codec_count "$MNT/noise.bin" raw)" -gt 0 ] || fail "noise.bin is no longer raw"
[ "$(stat_key recompress_files)" -ge 2 ] || fail "stats: $(stat_key recompress_files) files"
[ "$(stat_key recompress_tries)" -ge 3 ] || fail "stats: $(stat_key recompress_tries) tries"
[ "$(stat_key recompress_blocks)" -ge 9 ] || fail "stats: $(stat_key recompress_blocks) blocks"

check "a file held open stays as it is until it is closed and cold"
pf_gen zipf 600000 5 "$REF/held.txt"
cp "$REF/held.txt" "$MNT/held.txt" || fail "cp held.txt"
exec 7<"$MNT/held.txt"
sleep 6
[ "$(codec_count "$MNT/held.txt" learned)" = 0 ] || fail "an open file was recompressed"
exec 7<&-
wait_learned "$MNT/held.txt" 60
cmp "$REF/held.txt" "$MNT/held.txt" || fail "held.txt changed"
pf_umount "$MNT"
pf_ctl 0 fsck "$STORE"

# wait_scans N: until the thread has finished N scans (30 s at most).
wait_scans() {
	local i
	for ((i = 0; i < 120; i++)); do
		[ "$(stat_key recompress_scans)" -ge "$1" ] && return 0
		sleep 0.25
	done
	fail "only $(stat_key recompress_scans) scans after 30 s"
}

# recorded FILE: whether the thread's record in the store names FILE's backing inode.
recorded() {
	grep -q "^$(printf '%016x' "$(stat -c %i "$STORE/$1")") " "$STORE/.priorfs/recompress-background"
}

check "the thread remembers across a remount the files it left raw: it codes them once"
recorded noise.bin || fail "no record of noise.bin, which stays raw"
! recorded a.txt || fail "a.txt, all learned now, is in the record"
pf_mount "$STORE" "$MNT" recompress=1,recompress_after=1,attr_timeout=0
wait_scans 3
[ "$(stat_key recompress_tries)" = 0 ] || fail "a remount coded $(stat_key recompress_tries) files again"
[ "$(codec_count "$MNT/noise.bin" raw)" -gt 0 ] || fail "noise.bin is no longer raw"
pf_gen random 300K 9 "$REF/noise2.bin"
cp "$REF/noise2.bin" "$MNT/noise2.bin" || fail "cp noise2.bin"
for ((i = 0; i < 120; i++)); do
	recorded noise2.bin && break
	sleep 0.25
done
recorded noise2.bin || fail "no record of noise2.bin after 30 s"
wait_scans "$(($(stat_key recompress_scans) + 2))"
[ "$(stat_key recompress_tries)" = 1 ] || fail "a new raw file: $(stat_key recompress_tries) tries"
pf_umount "$MNT"

check "a file changed in one block codes that block only (the rate counts coding)"
pf_mount "$STORE" "$MNT" recompress=1,recompress_after=1,recompress_rate=128K,attr_timeout=0
wait_scans 2
coded=$(stat_key recompress_coded)
[ "$coded" = 0 ] || fail "a remount coded $coded bytes"
python3 - "$REF/held.txt" "$REF/a.txt" "$MNT/a.txt" <<'EOF' || fail "rewrite a block of a.txt"
import sys
new = open(sys.argv[1], "rb").read()[9000:10000]
for path in sys.argv[2:]:
    with open(path, "r+b") as f:
        f.seek(300000)
        f.write(new)
EOF
[ "$(codec_count "$MNT/a.txt" zstd)" = 1 ] || fail "a.txt: $(getfattr --only-values -n user.priorfs.codec "$MNT/a.txt")"
wait_learned "$MNT/a.txt" 60
cmp "$REF/a.txt" "$MNT/a.txt" || fail "a.txt differs"
[ "$(stat_key recompress_coded)" = 262144 ] ||
	fail "coded $(stat_key recompress_coded) bytes for one changed block of 256K"
pf_umount "$MNT"

check "a writer during a slow recompression wins; the result is its data"
OPTS=recompress=1,recompress_after=1,recompress_rate=128K,attr_timeout=0
pf_mount "$STORE" "$MNT" "$OPTS"
pf_gen zipf 1300000 6 "$REF/slow.txt"
cp "$REF/slow.txt" "$MNT/slow.txt" || fail "cp slow.txt"
wait_started "$MNT/slow.txt"
# Overwrite a block near the end (not yet recompressed) and one at the start,
# with more of the same kind of text, which the model codes best too.
python3 - "$REF/held.txt" "$REF/slow.txt" "$MNT/slow.txt" <<'EOF' || fail "rewrite slow.txt"
import sys
new = open(sys.argv[1], "rb").read()[5000:7000]
for path in sys.argv[2:]:
    with open(path, "r+b") as f:
        for off in (1000, 1200000):
            f.seek(off)
            f.write(new)
EOF
cmp "$REF/slow.txt" "$MNT/slow.txt" || fail "slow.txt differs right after the rewrite"
wait_learned "$MNT/slow.txt" 120
cmp "$REF/slow.txt" "$MNT/slow.txt" || fail "slow.txt differs after recompression"
pf_remount "$STORE" "$MNT" attr_timeout=0
cmp "$REF/slow.txt" "$MNT/slow.txt" || fail "slow.txt differs after a remount"
pf_umount "$MNT"
pf_ctl 0 fsck "$STORE"

check "kill -9 during recompression: fsck clean, every file as committed"
pf_mount "$STORE" "$MNT" "$OPTS"
pf_gen zipf 1300000 7 "$REF/killed.txt"
cp "$REF/killed.txt" "$MNT/killed.txt" || fail "cp killed.txt"
wait_started "$MNT/killed.txt"
pf_kill_daemon "$MNT"
pf_drop_mount "$MNT"
pf_ctl 0 fsck "$STORE"
pf_mount "$STORE" "$MNT" ro
for f in a.txt d/e/b.txt noise.bin held.txt slow.txt killed.txt; do
	cmp "$REF/$f" "$MNT/$f" || fail "$f differs after kill -9"
done
[ "$(stat_key recompress)" = 0 ] || fail "a read-only mount recompresses"
pf_umount "$MNT"

check "train=auto: a store without models trains one from the mount's cold data and recompresses with it"
STORE2=$PF_WORK/store2
pf_init_store "$STORE2"
pf_mount "$STORE2" "$MNT" train=auto,train_after=2M,recompress_after=1,attr_timeout=0
[ "$(stat_key train)" = 1 ] || fail "the mount does not report train=1"
for i in 1 2 3; do # odd sizes: the sample takes whole 8-byte units
	pf_gen zipf $((899999 + 2 * i)) $((20 + i)) "$REF/auto$i.txt"
	cp "$REF/auto$i.txt" "$MNT/auto$i.txt" || fail "cp auto$i.txt"
done
# Training runs at low priority: on a loaded machine (or under ASan) it
# takes minutes.
for ((i = 0; i < 600; i++)); do
	[ "$(stat_key train_models)" = 1 ] && break
	sleep 0.5
done
[ "$(stat_key train_models)" = 1 ] ||
	fail "no model after 300 s: $(stat_key train_runs) training runs; $(grep train= "$PF_LOG" | tail -n 2)"
has "$PF_LOG" "train=auto: model of [0-9]+ bytes .*made the default"
SAMPLED=$(sed -n 's/.*train=auto: model of [0-9]* bytes from \([0-9]*\) bytes.*made the default.*/\1/p' "$PF_LOG" | tail -n 1)
[ -n "$SAMPLED" ] && [ $((SAMPLED % 8)) = 0 ] || fail "the sample ($SAMPLED bytes) is not whole 8-byte units"
for i in 1 2 3; do
	wait_learned "$MNT/auto$i.txt" 120
	cmp "$REF/auto$i.txt" "$MNT/auto$i.txt" || fail "auto$i.txt changed"
done
pf_umount "$MNT"
pf_ctl 0 models list "$STORE2"
has "$OUT" ' mount$'
pf_ctl 0 fsck "$STORE2"

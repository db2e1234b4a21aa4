#!/bin/bash
# SPDX-License-Identifier: MIT
# t_inplace.sh - priorctl import --in-place: a plain tree (text, binary, empty, sparse, hard links, symlinks, xattrs, modes, times) converted in place mounts equal to its copy; a conversion killed with -9 leaves a store the mount refuses, and a rerun finishes it; it succeeds on a tmpfs with room for the data plus the largest file only.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup
[ -x "$PRIORCTL" ] || fail "no priorctl at $PRIORCTL"
command -v getfattr >/dev/null && command -v setfattr >/dev/null || fail "no getfattr/setfattr: apt-get install attr"

ORIG=$PF_WORK/orig DIR=$PF_WORK/dir MNT=$PF_WORK/mnt
OUT=$PF_WORK/out ERR=$PF_WORK/err
mkdir -p "$ORIG" "$MNT"


check "a plain tree: text, binary, empty, sparse, hard links, symlinks, xattrs, modes, times"
pf_gen_tree "$ORIG" 61
truncate -s 5M "$ORIG/sparse"
printf 'in the middle' | dd of="$ORIG/sparse" bs=1 seek=3000000 conv=notrunc status=none
printf 'PRFS\001\022\000\000looks like a container header' >"$ORIG/a/fake_magic"
ln "$ORIG/a/small.txt" "$ORIG/x y/hard1"
ln "$ORIG/a/small.txt" "$ORIG/hard2"
chmod 0750 "$ORIG/a/b"
chmod 4711 "$ORIG/a/b/block_plus_one.txt"
chown 1234:5678 "$ORIG/a/small.txt"
setfattr -n user.colour -v blue "$ORIG/a/small.txt"
setfattr -n user.dir -v yes "$ORIG/a"
touch -d "2005-06-07 08:09:10" "$ORIG/a/b/c" "$ORIG/empty_dir" "$ORIG/a" "$ORIG"
cp -a "$ORIG" "$DIR"

check "convert it in place (zstd): the mounted store equals the copy"
pf_ctl 0 import --in-place --no-train "$DIR"
has "$OUT" '^import --in-place: 14 names .* 12 files converted, .* 0 already converted, 0 failed\), 2 hard links, finished$'
[ ! -e "$DIR/.priorfs/inplace" ] || fail "journal left after a finished conversion"
[ "$(head -c 4 "$DIR/a/b/large.txt")" = PRFS ] || fail "large.txt is not a container"
[ "$(stat -c %i "$DIR/hard2")" = "$(stat -c %i "$DIR/a/small.txt")" ] || fail "hard link lost"
pf_mount "$DIR" "$MNT" ro
pf_same_tree "$ORIG" "$MNT"
pf_umount "$MNT"
pf_ctl 2 import --in-place --no-train "$DIR"
has "$ERR" 'already a priorfs store'
pf_ctl 0 fsck "$DIR"

check "with training"
rm -rf "$DIR" && cp -a "$ORIG" "$DIR"
pf_ctl 0 import --in-place --level fast --table-bits 12 "$DIR"
has "$OUT" '12 files converted, .* finished$'
pf_mount "$DIR" "$MNT" ro
pf_same_tree "$ORIG" "$MNT"
pf_umount "$MNT"

check "killed with -9 in the middle: the mount is refused, a rerun finishes it"
BIG=$PF_WORK/big
mkdir -p "$BIG/d"
for i in $(seq 30); do pf_gen random 2M "$i" "$BIG/d/f$i.bin"; done
ln "$BIG/d/f1.bin" "$BIG/link1"
ln "$BIG/d/f30.bin" "$BIG/link30"
setfattr -n user.k -v v "$BIG/d/f7.bin"
touch -d "2003-01-01" "$BIG/d" "$BIG"
rm -rf "$DIR" && cp -a "$BIG" "$DIR"
"$PRIORCTL" import --in-place --no-train "$DIR" >/dev/null 2>&1 &
PID=$!
for _ in $(seq 2000); do # until a few files are converted
	[ "$({ tr -cd "\\0" <"$DIR/.priorfs/inplace"; } 2>/dev/null | wc -c)" -ge 5 ] && break
	sleep 0.005
done
kill -9 "$PID" 2>/dev/null || fail "conversion ended before it could be killed"
wait "$PID" 2>/dev/null
[ -e "$DIR/.priorfs/inplace" ] || fail "no journal after the kill"
"$PRIORFS" -f "$DIR" "$MNT" >"$OUT" 2>"$ERR" && fail "mounted an unfinished conversion"
has "$ERR" "being converted by 'priorctl import --in-place', which did not finish"
pf_ctl 2 stat "$DIR"
has "$ERR" 'did not finish; run it again first'
pf_ctl 0 import --in-place --no-train "$DIR"
has "$OUT" ' 0 failed\), [0-9]+ hard links, finished$'
conv=$(sed -nE 's/.* ([0-9]+) files converted.*/\1/p' "$OUT")
done_=$(sed -nE 's/.* ([0-9]+) already converted.*/\1/p' "$OUT")
[ "$done_" -ge 1 ] && [ $((conv + done_)) -eq 30 ] || fail "rerun: $conv converted + $done_ already, want 30"
pf_mount "$DIR" "$MNT" ro
pf_same_tree "$BIG" "$MNT"
pf_umount "$MNT"

check "on a tmpfs with room for the data plus the largest file only"
TMPFS=$PF_WORK/tmpfs
mkdir -p "$TMPFS"
used=$(du -s -B1 "$BIG" | cut -f1)
mount -t tmpfs -o size=$((used + 2 * 1048576 + 1048576)) tmpfs "$TMPFS" || fail "cannot mount a tmpfs"
cp -a "$BIG" "$TMPFS/dir" || { umount "$TMPFS"; fail "copy to tmpfs"; }
"$PRIORCTL" import --in-place --no-train "$TMPFS/dir" >"$OUT" 2>"$ERR"
rc=$?
[ "$rc" -eq 0 ] || { umount "$TMPFS"; fail "in place on a tight tmpfs exited $rc: $(head -c 500 "$ERR")"; }
pf_mount "$TMPFS/dir" "$MNT" ro
pf_same_tree "$BIG" "$MNT"
pf_umount "$MNT"
umount "$TMPFS"

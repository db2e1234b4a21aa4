#!/bin/bash
# SPDX-License-Identifier: MIT
# t_basic.sh - a copied tree reads back identical, at odd offsets too, and compresses.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup

SRC=$PF_WORK/src STORE=$PF_WORK/store MNT=$PF_WORK/mnt
pf_gen_tree "$SRC" 1
pf_init_store "$STORE"
pf_mount "$STORE" "$MNT" block_size=64K

check "cp -a of a tree (nested dirs, empty/small/large files, symlinks)"
cp -a "$SRC/." "$MNT/" || fail "cp -a into the mount"
diff -r --no-dereference "$SRC" "$MNT" || fail "diff -r after cp -a"

check "symlinks keep their targets"
for l in link_rel a/link_abs a/b/dangling a/b/c/up; do
	[ "$(readlink "$MNT/$l")" = "$(readlink "$SRC/$l")" ] || fail "readlink $l"
done

check "cp -a kept modes and mtimes"
for f in a/small.txt a/b/large.txt a/exact_block.bin; do
	[ "$(stat -c '%a %Y' "$MNT/$f")" = "$(stat -c '%a %Y' "$SRC/$f")" ] ||
		fail "mode/mtime of $f: $(stat -c '%a %Y' "$MNT/$f") != $(stat -c '%a %Y' "$SRC/$f")"
done

check "st_size is the logical size for every file"
(cd "$SRC" && find . -type f) | while read -r f; do
	[ "$(pf_size "$MNT/$f")" = "$(pf_size "$SRC/$f")" ] || fail "st_size of $f"
done || exit 1

check "cmp after dropping the page cache"
pf_drop_caches
for f in a/b/large.txt a/b/c/large.bin "x y/mixed" "x y/zeros"; do
	cmp "$SRC/$f" "$MNT/$f" || fail "cmp $f"
done

check "random reads at odd offsets and lengths"
pf_compare_random "$SRC/a/b/large.txt" "$MNT/a/b/large.txt" 300 7
pf_compare_random "$SRC/x y/mixed" "$MNT/x y/mixed" 300 8
pf_compare_random "$SRC/a/b/block_plus_one.txt" "$MNT/a/b/block_plus_one.txt" 100 9

check "dd reads of single blocks at odd skip counts"
for skip in 0 1 7 13 45; do
	cmp <(dd if="$SRC/a/b/large.txt" bs=65537 skip=$skip count=1 2>/dev/null) \
		<(dd if="$MNT/a/b/large.txt" bs=65537 skip=$skip count=1 2>/dev/null) ||
		fail "dd bs=65537 skip=$skip"
done

check "compressible data: du (stored) well below du --apparent-size"
stored=$(du -s -B1 "$MNT/a/b/large.txt" | cut -f1)
apparent=$(du -s -B1 --apparent-size "$MNT/a/b/large.txt" | cut -f1)
echo "  large.txt: stored $stored, apparent $apparent"
[ "$stored" -gt 0 ] || fail "du of a 3M text file is 0"
[ $((stored * 2)) -lt "$apparent" ] || fail "text stored in $stored of $apparent bytes"
stored=$(du -s -B1 "$MNT/x y/zeros" | cut -f1)
[ "$stored" -lt 65536 ] || fail "700K of zeros takes $stored bytes"

check "the backing tree mirrors the mount"
for f in a/b/large.txt "x y/zeros" empty; do
	[ -f "$STORE/$f" ] || fail "no container $STORE/$f"
done
[ -L "$STORE/link_rel" ] || fail "symlink is not a symlink in the store"
[ "$(pf_size "$STORE/a/b/large.txt")" -lt "$(pf_size "$SRC/a/b/large.txt")" ] ||
	fail "backing container of text is not smaller than the text"

check "diff -r again after unmount and mount"
pf_remount "$STORE" "$MNT"
diff -r --no-dereference "$SRC" "$MNT" || fail "diff -r after remount"
pf_umount "$MNT"

# peak_threads MNT: the most threads the daemon of MNT had while 24 writers
# ran (after its count when idle, printed first).
peak_threads() {
	local pid=${PF_PIDS[$1]} idle peak n i writers=()
	idle=$(ls "/proc/$pid/task" | wc -l)
	peak=$idle
	for i in $(seq 1 24); do
		cp "$SRC/a/b/large.txt" "$1/w$i" &
		writers+=($!)
	done
	while kill -0 "${writers[@]}" 2>/dev/null; do
		n=$(ls "/proc/$pid/task" | wc -l)
		[ "$n" -gt "$peak" ] && peak=$n
	done
	wait "${writers[@]}" || fail "a concurrent writer failed"
	echo "$idle $peak"
}

check "-o max_threads bounds the request threads (24 concurrent writers)"
pf_mount "$STORE" "$MNT" max_threads=1
read -r idle peak < <(peak_threads "$MNT")
echo "  max_threads=1: $idle threads idle, $peak at most"
[ "$peak" -le "$idle" ] || fail "max_threads=1: $peak threads under load, $idle idle"
pf_umount "$MNT"
pf_mount "$STORE" "$MNT"
read -r idle peak < <(peak_threads "$MNT")
echo "  default (max_threads=10): $idle threads idle, $peak at most"
[ "$peak" -gt "$idle" ] || fail "the default limit started no request thread under load"
cmp "$SRC/a/b/large.txt" "$MNT/w24" || fail "a concurrent writer's file"
pf_umount "$MNT"
! grep -q "max threads" "$PF_LOG" || fail "libfuse warned about the thread limit: $(grep "max threads" "$PF_LOG")"

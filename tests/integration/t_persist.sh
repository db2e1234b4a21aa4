#!/bin/bash
# SPDX-License-Identifier: MIT
# t_persist.sh - files survive unmount/mount, also under other block size and codec options.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup

SRC=$PF_WORK/src STORE=$PF_WORK/store MNT=$PF_WORK/mnt
pf_gen_tree "$SRC/v1" 21
pf_init_store "$STORE"

check "write a tree with block_size=64K, unmount, mount, compare"
pf_mount "$STORE" "$MNT" block_size=64K,codec=zstd,zstd_level=5
cp -a "$SRC/v1" "$MNT/" || fail "cp v1"
pf_remount "$STORE" "$MNT"
diff -r --no-dereference "$SRC/v1" "$MNT/v1" || fail "v1 after remount"

check "a 64K-block container stays 64K-block (header shift 16)"
shift=$(od -An -tu1 -j5 -N1 "$STORE/v1/a/b/large.txt" | tr -d ' ')
[ "$shift" = 16 ] || fail "block shift of a 64K container is '$shift'"

check "remount with block_size=1M,codec=raw,sync,verify=0,threads=1: old files still read, new ones use 1M"
pf_remount "$STORE" "$MNT" block_size=1M,codec=raw,sync,verify=0,threads=1
diff -r --no-dereference "$SRC/v1" "$MNT/v1" || fail "v1 under block_size=1M"
pf_gen_tree "$SRC/v2" 22
cp -a "$SRC/v2" "$MNT/" || fail "cp v2"
shift=$(od -An -tu1 -j5 -N1 "$STORE/v2/a/b/large.txt" | tr -d ' ')
[ "$shift" = 20 ] || fail "block shift of a new file under block_size=1M is '$shift'"
[ "$(pf_size "$STORE/v2/a/b/large.txt")" -ge "$(pf_size "$SRC/v2/a/b/large.txt")" ] ||
	fail "codec=raw stored text smaller than itself"

check "modify old (64K) files under the 1M mount: they keep their block size"
pf_gen text 333333 23 "$SRC/patch"
dd if="$SRC/patch" of="$MNT/v1/a/b/large.txt" bs=1000 seek=777 conv=notrunc 2>/dev/null || fail "dd patch"
dd if="$SRC/patch" of="$SRC/v1/a/b/large.txt" bs=1000 seek=777 conv=notrunc 2>/dev/null
cat "$SRC/patch" >>"$MNT/v1/x y/mixed" && cat "$SRC/patch" >>"$SRC/v1/x y/mixed" || fail "append"
shift=$(od -An -tu1 -j5 -N1 "$STORE/v1/a/b/large.txt" | tr -d ' ')
[ "$shift" = 16 ] || fail "rewritten old container changed block shift to '$shift'"

check "remount with defaults (codec=auto): both generations compare"
pf_remount "$STORE" "$MNT"
diff -r --no-dereference "$SRC/v1" "$MNT/v1" || fail "v1 after the third mount"
diff -r --no-dereference "$SRC/v2" "$MNT/v2" || fail "v2 after the third mount"
pf_compare_random "$SRC/v1/a/b/large.txt" "$MNT/v1/a/b/large.txt" 200 24

check "rm -r through the mount empties the store (only .priorfs remains)"
rm -rf "$MNT/v1" "$MNT/v2" || fail "rm -rf"
[ -z "$(ls -A "$MNT")" ] || fail "mount not empty: $(ls -A "$MNT")"
[ "$(ls -A "$STORE")" = .priorfs ] || fail "store keeps: $(ls -A "$STORE")"
pf_umount "$MNT"

check "bad option values refuse to mount, naming the option"
for bad in block_size=3K block_size=8M codec=lzma zstd_level=99 threads=0 verify=2 \
	min_saving=51 min_saving=1.234 min_saving=x; do
	mkdir -p "$MNT"
	timeout 5 "$PRIORFS" -f "$STORE" "$MNT" -o "$bad" >"$PF_WORK/bad.out" 2>&1
	rc=$?  # 124: still serving after 5 s, so it mounted
	fusermount3 -u "$MNT" 2>/dev/null
	[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "priorfs accepted -o $bad (status $rc)"
	grep -q "${bad%%=*}" "$PF_WORK/bad.out" || fail "-o $bad: message does not name it: $(cat "$PF_WORK/bad.out")"
done

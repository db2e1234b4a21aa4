#!/bin/bash
# SPDX-License-Identifier: MIT
# t_export.sh - priorctl export: a tree imported into a store comes back out identical (data, holes, links, fifo, modes, owners, times, xattrs), while mounted too; an interrupted export leaves no partial file and resumes; a flipped bit fails one file naming the block; bad destinations exit 2.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup
[ -x "$PRIORCTL" ] || fail "no priorctl at $PRIORCTL"
command -v getfattr >/dev/null && command -v setfattr >/dev/null || fail "no getfattr/setfattr: apt-get install attr"

SRC=$PF_WORK/src STORE=$PF_WORK/store DST=$PF_WORK/dst MNT=$PF_WORK/mnt
OUT=$PF_WORK/out ERR=$PF_WORK/err
mkdir -p "$SRC" "$MNT"

# listing DIR: one line per entry below DIR (sorted, hostile names escaped):
# type+mode, uid, gid, size (not for directories), mtime ns, nlink, and the
# target of a symlink.
listing() {
	python3 - "$1" <<'EOF' || fail "listing $1"
import os, stat, sys
root = sys.argv[1]
out = []
for d, dirs, files in os.walk(root):
    for n in dirs + files:
        p = os.path.join(d, n)
        s = os.lstat(p)
        size = "-" if stat.S_ISDIR(s.st_mode) else s.st_size
        link = os.readlink(p) if stat.S_ISLNK(s.st_mode) else ""
        out.append("%r %o %d %d %s %d %d %r" % (os.path.relpath(p, root), s.st_mode,
                   s.st_uid, s.st_gid, size, s.st_mtime_ns, s.st_nlink, link))
s = os.lstat(root)
out.append(". %o %d %d %d" % (s.st_mode, s.st_uid, s.st_gid, s.st_mtime_ns))
print("\n".join(sorted(out)))
EOF
}

# same_tree A B: same bytes, same entries with the same attributes and xattrs.
same_tree() {
	# diff reports every pair of fifos; the listing compares those
	diff -r --no-dereference "$1" "$2" 2>&1 | grep -v ' is a fifo while file .* is a fifo$' >"$PF_WORK/diff"
	[ ! -s "$PF_WORK/diff" ] || fail "diff -r $1 $2: $(head -c 800 "$PF_WORK/diff")"
	listing "$1" >"$PF_WORK/list.a"
	listing "$2" >"$PF_WORK/list.b"
	diff "$PF_WORK/list.a" "$PF_WORK/list.b" >"$PF_WORK/diff" ||
		fail "attributes differ ($1 <, $2 >): $(head -c 1500 "$PF_WORK/diff")"
	(cd "$1" && getfattr -R -h -d -m '^user\.' . 2>/dev/null) >"$PF_WORK/xa.a"
	(cd "$2" && getfattr -R -h -d -m '^user\.' . 2>/dev/null) >"$PF_WORK/xa.b"
	[ -s "$PF_WORK/xa.a" ] || fail "no xattrs in $1"
	diff "$PF_WORK/xa.a" "$PF_WORK/xa.b" >"$PF_WORK/diff" ||
		fail "xattrs differ: $(head -c 800 "$PF_WORK/diff")"
}

# flip CONTAINER BLOCK: XORs one byte in the middle of the stored bytes of
# the block, found through the committed slot and index (docs/format.md
# §2.2, §3).
flip() {
	python3 - "$@" <<'EOF' || fail "could not flip a byte in $1"
import struct, sys
path, b = sys.argv[1], int(sys.argv[2])
buf = bytearray(open(path, "rb").read())
assert buf[:4] == b"PRFS", "no container magic"
slots = [struct.unpack_from("<QQQIIQQ", buf, off) for off in (16, 64)]
seq, size, ioff, ilen, count, _, _ = max(slots, key=lambda s: s[0])
ent = ioff + 8 + 32 * struct.unpack_from("<H", buf, ioff)[0]
off, slen, codec = struct.unpack_from("<QIB", buf, ent + 24 * b)
assert codec != 0, "block %d is a hole" % b
buf[off + slen // 2] ^= 0x10
open(path, "r+b").write(buf)
EOF
}

check "build a source tree: dirs, empty, sparse, text, binary, big, links, fifo, modes, times, xattrs"
pf_gen_tree "$SRC" 31
pf_gen random 3M 32 "$SRC/a/b/multi.bin"
truncate -s 5M "$SRC/sparse"
printf 'in the middle' | dd of="$SRC/sparse" bs=1 seek=3000000 conv=notrunc status=none
ln "$SRC/a/small.txt" "$SRC/x y/hard1"
ln "$SRC/a/small.txt" "$SRC/hard2"
mkfifo -m 0640 "$SRC/a/fifo"
HOSTILE=$'odd\nname \\ \001'$'\xff'
printf 'hostile\n' >"$SRC/$HOSTILE"
chmod 4711 "$SRC/a/b/block_plus_one.txt"
chmod 0444 "$SRC/one_byte"
chmod 0750 "$SRC/a/b"
chown 1234:5678 "$SRC/a/small.txt" "$SRC/link_rel"
chown -h 1234:5678 "$SRC/link_rel"
setfattr -n user.colour -v blue "$SRC/a/small.txt"
setfattr -n user.bin -v 0x00ff00 "$SRC/x y/mixed"
setfattr -n user.dir -v yes "$SRC/a"
touch -h -d "2002-03-04 05:06:07.123456789" "$SRC/link_rel"
touch -d "2011-12-13 14:15:16.5" "$SRC/sparse" "$SRC/a/fifo"
# directories last: making entries changes their mtimes
touch -d "2005-06-07 08:09:10" "$SRC/a/b/c" "$SRC/empty_dir" "$SRC/a" "$SRC"

check "import it (zstd), export it: the trees are the same"
pf_ctl 0 import --no-train --jobs 2 "$SRC" "$STORE"
pf_ctl 0 export --jobs 2 "$STORE" "$DST"
has "$OUT" '^export: 13 files .* 13 written, 0 already there, 0 failed\), 2 hard links, 6 directories, 4 symlinks, 1 special files$'
[ ! -s "$ERR" ] || fail "export wrote to stderr: $(head -c 500 "$ERR")"
# atimes come from the store, which export leaves as they were (O_NOATIME);
# checked before anything reads the copies
for f in a/small.txt a/b/multi.bin sparse; do
	[ "$(stat -c %X "$STORE/$f")" = "$(stat -c %X "$DST/$f")" ] || fail "atime of $f"
done
same_tree "$SRC" "$DST"
[ "$(stat -c %i "$DST/hard2")" = "$(stat -c %i "$DST/a/small.txt")" ] &&
	[ "$(stat -c %i "$DST/x y/hard1")" = "$(stat -c %i "$DST/a/small.txt")" ] ||
	fail "hard links not kept"
[ -p "$DST/a/fifo" ] || fail "fifo not exported"
[ "$(pf_du "$DST/sparse")" -lt 1048576 ] ||
	fail "sparse file takes $(pf_du "$DST/sparse") bytes"
[ "$(pf_du "$DST/x y/zeros")" -lt 65536 ] || fail "all-zero file not sparse"

check "import codes the blocks zstd wins at --zstd-level: 19 by default, smaller than 3"
# stored_bytes STORE: the bytes the containers take on disk, metadata left out.
stored_bytes() {
	find "$1" -path "$1/.priorfs" -prune -o -type f -printf '%b\n' | awk '{ s += $1 * 512 } END { print s }'
}
pf_ctl 2 import --no-train --zstd-level 20 "$SRC" "$PF_WORK/z3"
has "$ERR" 'zstd-level wants a level from 1 to 19'
pf_ctl 0 import --no-train --zstd-level 3 "$SRC" "$PF_WORK/z3"
pf_ctl 0 fsck "$PF_WORK/z3"
[ "$(stored_bytes "$STORE")" -lt "$(stored_bytes "$PF_WORK/z3")" ] ||
	fail "level 19: $(stored_bytes "$STORE") bytes, level 3: $(stored_bytes "$PF_WORK/z3")"
at3=$(stored_bytes "$PF_WORK/z3")
pf_ctl 0 recompress --codec zstd --force "$PF_WORK/z3"
[ "$(stored_bytes "$PF_WORK/z3")" -lt "$at3" ] ||
	fail "recompress at 19: $(stored_bytes "$PF_WORK/z3") bytes, at 3: $at3"

check "export while the store is mounted (no writer lock needed)"
pf_mount "$STORE" "$MNT"
pf_ctl 0 export "$STORE" "$PF_WORK/dst_mounted"
pf_umount "$MNT"
same_tree "$SRC" "$PF_WORK/dst_mounted"
rm -rf "$PF_WORK/dst_mounted"

check "bad destinations: non-empty, inside the store, the store itself, its parent (exit 2)"
pf_ctl 2 export "$STORE" "$DST"
has "$ERR" '^priorctl: export: .*/dst: is not empty \(use --resume'
pf_ctl 2 export "$STORE" "$STORE/newdir"
has "$ERR" 'overlaps the store'
[ ! -e "$STORE/newdir" ] || fail "export made a directory inside the store"
pf_ctl 2 export "$STORE" "$STORE/a/"
pf_ctl 2 export "$STORE" "$STORE"
pf_ctl 2 export --resume "$STORE" "$PF_WORK"
has "$ERR" 'overlaps the store'
pf_ctl 2 export "$PF_WORK/src" "$PF_WORK/d2"
has "$ERR" 'not a priorfs store'
pf_ctl 2 export --jobs 0 "$STORE" "$PF_WORK/d2"
pf_ctl 2 export "$STORE"
has "$ERR" '^priorctl: export: expected a store and a destination'

check "--resume on a finished export skips every file"
pf_ctl 0 export --resume "$STORE" "$DST"
has "$OUT" '^export: 13 files .* 0 written, 13 already there, 0 failed'
same_tree "$SRC" "$DST"
rm -rf "$DST"

check "an export killed in the middle of a big file leaves no partial file; --resume finishes it"
BIG=$PF_WORK/big
mkdir -p "$BIG/d"
pf_gen text 200K 41 "$BIG/a_first.txt"
pf_gen random 96M 42 "$BIG/d/huge.bin"
pf_gen text 300K 43 "$BIG/z_last.txt"
pf_ctl 0 import --no-train "$BIG" "$PF_WORK/bigstore"
"$PRIORCTL" export --jobs 1 "$PF_WORK/bigstore" "$DST" >/dev/null 2>&1 &
PID=$!
for _ in $(seq 1000); do # until it holds an unnamed file in DST/d open
	find "/proc/$PID/fd" -lname "$DST/d/*(deleted)" 2>/dev/null | grep -q . && break
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.01
done
kill -9 "$PID" 2>/dev/null || fail "export ended before it could be killed"
wait "$PID" 2>/dev/null
[ ! -e "$DST/d/huge.bin" ] || fail "killed export left d/huge.bin"
[ -z "$(find "$DST" -name '.priorctl-export*')" ] || fail "temporary file left"
pf_ctl 2 export "$PF_WORK/bigstore" "$DST"
pf_ctl 0 export --resume --jobs 2 "$PF_WORK/bigstore" "$DST"
has "$OUT" '^export: 3 files .* 2 written, 1 already there, 0 failed'
diff -r "$BIG" "$DST" >/dev/null || fail "resumed export differs from the source"
listing "$BIG" >"$PF_WORK/list.a"
listing "$DST" >"$PF_WORK/list.b"
diff "$PF_WORK/list.a" "$PF_WORK/list.b" >/dev/null || fail "resumed export: attributes differ"
rm -rf "$DST" "$PF_WORK/bigstore" "$BIG"

check "a flipped bit fails that file naming file and block; the rest export, exit 1"
flip "$STORE/a/b/multi.bin" 5
pf_ctl 1 export "$STORE" "$DST"
has "$ERR" '^priorctl: export: a/b/multi.bin: block 5: corrupt or unreadable \(does not decode, checksum mismatch or read error\)'
[ "$(wc -l <"$ERR")" -eq 1 ] || fail "more than one message: $(head -c 800 "$ERR")"
has "$OUT" '^export: 13 files .* 12 written, 0 already there, 1 failed\)'
[ ! -e "$DST/a/b/multi.bin" ] || fail "the damaged file was exported"
rm "$SRC/a/b/multi.bin"
touch -d "$(stat -c %y "$STORE/a/b")" "$SRC/a/b" # as before the removal
same_tree "$SRC" "$DST"

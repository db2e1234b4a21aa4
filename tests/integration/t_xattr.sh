#!/bin/bash
# SPDX-License-Identifier: MIT
# t_xattr.sh - the read-only user.priorfs.* xattrs (stored, codec, model): values for zstd/raw/zero/learned blocks, not listed, EPERM on set/remove, never stored, planted backing names hidden, user xattrs unaffected, ro mount.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup
[ -x "$PRIORCTL" ] || fail "no priorctl at $PRIORCTL"
command -v getfattr >/dev/null || fail "no getfattr: apt-get install attr"

SRC=$PF_WORK/src STORE=$PF_WORK/store MNT=$PF_WORK/mnt

# xget FILE NAME: the value of xattr NAME of FILE, or fails the test.
xget() {
	python3 -c 'import os, sys; sys.stdout.write(os.getxattr(sys.argv[1], sys.argv[2]).decode())' \
		"$1" "$2" || fail "getxattr $2 of $1"
}

# want_errno ERRNO OP FILE NAME [VALUE]: OP (get, set, remove) fails with ERRNO.
want_errno() {
	python3 - "$@" <<'EOF' || fail "$2 $4 on $3 did not fail with $1"
import errno, os, sys
want, op, path, name = sys.argv[1:5]
try:
    if op == "get":
        os.getxattr(path, name)
    elif op == "set":
        os.setxattr(path, name, sys.argv[5].encode())
    else:
        os.removexattr(path, name)
except OSError as e:
    sys.exit(0 if e.errno == getattr(errno, want) else "got %s" % errno.errorcode[e.errno])
sys.exit("it succeeded")
EOF
}

check "a store with a trained text model (import), so some blocks are learned"
mkdir -p "$SRC"
python3 - "$SRC" <<'EOF' || fail "generate text"
import itertools, os, random, sys
rng = random.Random(7)
syl = "ka lo mi ne ru sa te vi do pa ri en al or is un th st ch qu".split()
vocab = ["".join(rng.choice(syl) for _ in range(rng.choice((1, 2, 2, 3, 3, 4))))
         for _ in range(3000)]
cum = list(itertools.accumulate(1.0 / (i + 1) for i in range(len(vocab))))
words = rng.choices(vocab, cum_weights=cum, k=400000)
for i in range(8):
    with open(os.path.join(sys.argv[1], "doc%d.txt" % i), "w") as f:
        f.write(" ".join(words[i * 50000:(i + 1) * 50000]))
EOF
pf_ctl 0 import --jobs 2 --level fast --sample 2M "$SRC" "$STORE"
pf_ctl 0 models list "$STORE"
MODEL=$(awk 'NR == 2 { print $1 }' "$OUT")
[[ $MODEL =~ ^[0-9a-f]{16}$ ]] || fail "no model after import: $(cat "$OUT")"
setfattr -n user.priorfs.stored -v bogus "$STORE/doc1.txt" || fail "plant a backing xattr"
pf_mount "$STORE" "$MNT"

check "learned file: model is the full id of the trained model, codec counts learned blocks"
D=$MNT/doc0.txt
[[ $(xget "$D" user.priorfs.model) =~ ^$MODEL[0-9a-f]{48}$ ]] ||
	fail "user.priorfs.model is '$(xget "$D" user.priorfs.model)', want $MODEL..."
[[ $(xget "$D" user.priorfs.codec) =~ ^zero:0\ raw:0\ zstd:0\ learned:[12]$ ]] ||
	fail "user.priorfs.codec of a learned file is '$(xget "$D" user.priorfs.codec)'"

check "stored is the container's size on disk, never the logical size"
[ "$(xget "$D" user.priorfs.stored)" = "$(pf_size "$STORE/doc0.txt")" ] ||
	fail "stored $(xget "$D" user.priorfs.stored) != container size $(pf_size "$STORE/doc0.txt")"
[ "$(xget "$D" user.priorfs.stored)" -lt "$(pf_size "$D")" ] || fail "text did not compress"

check "a value planted in the backing entry is neither shown nor listed"
[ "$(xget "$MNT/doc1.txt" user.priorfs.stored)" = "$(pf_size "$STORE/doc1.txt")" ] ||
	fail "planted user.priorfs.stored shown: $(xget "$MNT/doc1.txt" user.priorfs.stored)"

check "zstd, raw and zero blocks written through the mount (256K blocks)"
W=$MNT/mixed
pf_gen text 256K 1 "$PF_WORK/t"
pf_gen random 256K 2 "$PF_WORK/r"
cat "$PF_WORK/t" "$PF_WORK/r" "$PF_WORK/t" >"$W" || fail "write $W"
truncate -s 2M "$W" || fail "truncate $W"
[ "$(xget "$W" user.priorfs.codec)" = "zero:5 raw:1 zstd:2 learned:0" ] ||
	fail "user.priorfs.codec of $W: '$(xget "$W" user.priorfs.codec)'"
[ -z "$(xget "$W" user.priorfs.model)" ] || fail "model of a zstd file is not empty"
STORED=$(xget "$W" user.priorfs.stored)
[ "$STORED" -gt 262144 ] && [ "$STORED" -lt 400000 ] || fail "stored $STORED for 256K raw + 2 text blocks"
: >"$MNT/empty"
[ "$(xget "$MNT/empty" user.priorfs.codec)" = "zero:0 raw:0 zstd:0 learned:0" ] ||
	fail "codec of an empty file: $(xget "$MNT/empty" user.priorfs.codec)"

check "reading them changes nothing: mtime, size and the data stay"
M0=$(stat -c %Y.%y "$W")
sleep 1.1
xget "$W" user.priorfs.stored >/dev/null
[ "$(stat -c %Y.%y "$W")" = "$M0" ] || fail "getxattr moved the mtime of $W"
cmp <(cat "$PF_WORK/t" "$PF_WORK/r" "$PF_WORK/t"; head -c $((2048 * 1024 - 3 * 262144)) /dev/zero) "$W" ||
	fail "$W changed"

check "size 0 asks for the length; a short buffer gets ERANGE"
python3 - "$W" <<'EOF' || fail "getxattr sizes"
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
path, name = sys.argv[1].encode(), b"user.priorfs.codec"
n = libc.getxattr(path, name, None, 0)
want = len(os.getxattr(sys.argv[1], name))
assert n == want, (n, want)
buf = ctypes.create_string_buffer(4)
assert libc.getxattr(path, name, buf, 4) == -1 and ctypes.get_errno() == errno.ERANGE
EOF

check "not listed (getfattr -d, listxattr); real user xattrs still work"
setfattr -n user.mine -v hello "$W" || fail "setfattr user.mine"
setfattr -n user.priorfsx -v near "$W" || fail "setfattr user.priorfsx"
[ "$(xget "$W" user.mine)" = hello ] || fail "user.mine lost"
getfattr -d -m - "$W" "$MNT/doc1.txt" >"$PF_WORK/list" 2>&1 || fail "getfattr -d"
grep -q '^user.mine="hello"' "$PF_WORK/list" || fail "user.mine not listed: $(cat "$PF_WORK/list")"
grep -q '^user.priorfsx="near"' "$PF_WORK/list" || fail "user.priorfsx not listed"
! grep -q 'user\.priorfs\.' "$PF_WORK/list" || fail "user.priorfs.* listed: $(cat "$PF_WORK/list")"
python3 -c 'import os, sys; sys.exit(any(n.startswith("user.priorfs.") for n in os.listxattr(sys.argv[1])))' \
	"$MNT/doc1.txt" || fail "listxattr shows the planted user.priorfs.stored"
setfattr -x user.mine "$W" || fail "removexattr user.mine"
want_errno ENODATA get "$W" user.mine

check "read-only: set and remove fail with EPERM, nothing reaches the store"
want_errno EPERM set "$W" user.priorfs.stored 1
want_errno EPERM set "$W" user.priorfs.new x
want_errno EPERM remove "$W" user.priorfs.codec
want_errno EPERM remove "$MNT/doc1.txt" user.priorfs.stored
! getfattr -d -m - "$STORE/mixed" 2>/dev/null | grep -q 'user\.priorfs\.' ||
	fail "a user.priorfs.* xattr reached the backing file"

check "unknown names, directories and symlinks: ENODATA"
want_errno ENODATA get "$W" user.priorfs.nosuch
want_errno ENODATA get "$W" user.priorfs.
mkdir "$MNT/dir" && ln -s mixed "$MNT/link" || fail "mkdir/ln"
want_errno ENODATA get "$MNT/dir" user.priorfs.stored
python3 -c 'import errno, os, sys
try: os.getxattr(sys.argv[1], "user.priorfs.stored", follow_symlinks=False)
except OSError as e: sys.exit(e.errno != errno.ENODATA)
sys.exit(1)' "$MNT/link" || fail "symlink: not ENODATA"
[ "$(xget "$MNT/link" user.priorfs.codec)" = "zero:5 raw:1 zstd:2 learned:0" ] ||
	fail "through a symlink: the target's value"

check "read-only mount: the values are there"
pf_remount "$STORE" "$MNT" ro
[ "$(xget "$W" user.priorfs.codec)" = "zero:5 raw:1 zstd:2 learned:0" ] || fail "ro: codec"
[ "$(xget "$W" user.priorfs.stored)" = "$STORED" ] || fail "ro: stored changed over a remount"
# The kernel refuses any change on a read-only mount before asking us.
want_errno EROFS set "$W" user.priorfs.stored 1
pf_umount "$MNT"

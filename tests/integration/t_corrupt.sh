#!/bin/bash
# SPDX-License-Identifier: MIT
# t_corrupt.sh - a flipped byte in one stored block fails that block only, loudly.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup

STORE=$PF_WORK/store MNT=$PF_WORK/mnt SRC=$PF_WORK/src
mkdir -p "$SRC"
pf_gen text 2M 41 "$SRC/victim.txt"
pf_gen text 300K 42 "$SRC/bystander.txt"
pf_gen text 200K 43 "$SRC/headless.txt"
pf_init_store "$STORE"
pf_mount "$STORE" "$MNT" block_size=64K
cp "$SRC"/* "$MNT/" || fail "cp"
pf_umount "$MNT"

check "priorctl fsck of the intact store exits 0"
if [ -x "$PRIORCTL" ]; then
	"$PRIORCTL" fsck "$STORE" || fail "fsck of an intact store exited $?"
fi

# Flips one byte in the middle of the stored bytes of the middle block, found
# through the committed slot and index (docs/format.md §2, §3). Prints the
# block number.
BLOCK=$(python3 - "$STORE/victim.txt" <<'EOF'
import struct, sys
path = sys.argv[1]
buf = bytearray(open(path, "rb").read())
assert buf[:4] == b"PRFS", "no container magic"
bs = 1 << buf[5]
assert bs == 65536, "block size %d" % bs
slots = [struct.unpack_from("<QQQIIQQ", buf, off) for off in (16, 64)]
seq, size, ioff, ilen, count, _, _ = max(slots, key=lambda s: s[0])
assert count == (size + bs - 1) // bs >= 8, "block count %d" % count
models = struct.unpack_from("<H", buf, ioff)[0]
ent = ioff + 8 + 32 * models
b = count // 2
while True:
    off, slen, codec = struct.unpack_from("<QIB", buf, ent + 24 * b)
    if codec != 0:
        break
    b += 1
buf[off + slen // 2] ^= 0x55
open(path, "r+b").write(buf)
print(b)
EOF
) || fail "could not corrupt the container"
echo "  flipped a byte inside block $BLOCK of victim.txt"

# A second kind of damage: a container cut inside its header.
truncate -s 40 "$STORE/headless.txt"

pf_mount "$STORE" "$MNT" block_size=64K

check "reading the whole corrupted file fails with EIO"
if cat "$MNT/victim.txt" >/dev/null 2>"$PF_WORK/cat.err"; then
	fail "cat of a corrupted file succeeded"
fi
grep -q "Input/output error" "$PF_WORK/cat.err" || fail "cat error: $(cat "$PF_WORK/cat.err")"

check "every other block reads back right; block $BLOCK fails with EIO every time"
python3 - "$MNT/victim.txt" "$SRC/victim.txt" "$BLOCK" <<'EOF' || fail "per-block reads"
import errno, os, sys
path, src, bad = sys.argv[1], sys.argv[2], int(sys.argv[3])
want = open(src, "rb").read()
bs = 65536
fd = os.open(path, os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)  # no kernel read-ahead into the bad block
for rnd in range(2):  # twice: a failed decode must not leave a cached block
    for b in range((len(want) + bs - 1) // bs):
        try:
            got = os.pread(fd, bs, b * bs)
        except OSError as e:
            if b == bad and e.errno == errno.EIO:
                continue
            sys.exit("block %d: %s" % (b, e))
        if b == bad:
            sys.exit("block %d read %d bytes instead of failing" % (b, len(got)))
        if got != want[b * bs:(b + 1) * bs]:
            sys.exit("block %d differs" % b)
EOF
for skip in 0 $((BLOCK - 1)) $((BLOCK + 1)) 31; do
	cmp <(dd if="$MNT/victim.txt" bs=64K skip=$skip count=1 iflag=direct 2>/dev/null) \
		<(dd if="$SRC/victim.txt" bs=64K skip=$skip count=1 2>/dev/null) ||
		fail "dd bs=64K skip=$skip"
done

check "the daemon log names the file and the block"
grep "victim.txt" "$PF_LOG" | grep -Eq "(^|[^0-9])$BLOCK([^0-9]|$)" ||
	fail "no log line with victim.txt and block $BLOCK: $(grep -i victim "$PF_LOG")"

check "the cut container fails with EIO, and the daemon keeps serving"
! cat "$MNT/headless.txt" >/dev/null 2>&1 || fail "reading a cut container succeeded"
cmp "$MNT/bystander.txt" "$SRC/bystander.txt" || fail "bystander"
pf_umount "$MNT"

check "priorctl fsck exits 1 and names both damaged files"
[ -x "$PRIORCTL" ] || fail "no priorctl at $PRIORCTL"
"$PRIORCTL" fsck "$STORE" >"$PF_WORK/fsck.out" 2>&1
rc=$?
cat "$PF_WORK/fsck.out"
[ "$rc" = 1 ] || fail "fsck exited $rc, want 1"
grep -q "victim.txt" "$PF_WORK/fsck.out" || fail "fsck does not name victim.txt"
grep -q "headless.txt" "$PF_WORK/fsck.out" || fail "fsck does not name headless.txt"
! grep -q "bystander.txt.*\(corrupt\|error\|bad\)" "$PF_WORK/fsck.out" || fail "fsck blames the bystander"

#!/bin/bash
# SPDX-License-Identifier: MIT
# t_salvage.sh - flipped bits in container blocks and in a model, and read errors from the device: EIO on those blocks only, a log line naming file and block, fsck naming them, fsck --salvage copying every good block out byte for byte.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup
[ -x "$PRIORCTL" ] || fail "no priorctl at $PRIORCTL"

STORE=$PF_WORK/store MNT=$PF_WORK/mnt SRC=$PF_WORK/src
mkdir -p "$SRC"

# extents CONTAINER BLOCK...: "OFFSET LENGTH" of the stored bytes of each
# block, found through the committed slot and index (docs/format.md §2.2,
# §3). Fails on a block that stores nothing (a hole).
extents() {
	python3 - "$@" <<'EOF' || fail "no extents of blocks ${*:2} in $1"
import struct, sys
path, blocks = sys.argv[1], [int(b) for b in sys.argv[2:]]
buf = open(path, "rb").read()
assert buf[:4] == b"PRFS", "no container magic"
slots = [struct.unpack_from("<QQQIIQQ", buf, off) for off in (16, 64)]
seq, size, ioff, ilen, count, _, _ = max(slots, key=lambda s: s[0])
ent = ioff + 8 + 32 * struct.unpack_from("<H", buf, ioff)[0]
for b in blocks:
    assert b < count, "block %d of %d" % (b, count)
    off, slen, codec = struct.unpack_from("<QIB", buf, ent + 24 * b)
    assert codec != 0, "block %d is a hole" % b
    print(off, slen)
EOF
}

# flip CONTAINER BLOCK...: XORs one byte in the middle of each block's
# stored bytes.
flip() {
	local off len
	extents "$@" >"$PF_WORK/extents"
	while read -r off len; do
		python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
at = int(sys.argv[2])
os.pwrite(fd, bytes([os.pread(fd, 1, at)[0] ^ 0x10]), at)' "$1" $((off + len / 2)) ||
			fail "could not flip a byte of $1 at $((off + len / 2))"
	done <"$PF_WORK/extents"
}

# block_reads FILE SRC BS BAD...: through a fresh open, twice, every block
# of FILE equals that of SRC except the BAD ones, which fail with EIO.
block_reads() {
	python3 - "$@" <<'EOF' || fail "per-block reads of $1"
import errno, os, sys
path, src, bs, bad = sys.argv[1], sys.argv[2], int(sys.argv[3]), set(map(int, sys.argv[4:]))
want = open(src, "rb").read()
fd = os.open(path, os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)  # no kernel read-ahead into a bad block
for rnd in range(2):  # twice: a failed decode must not leave a cached block
    for b in range((len(want) + bs - 1) // bs):
        try:
            got = os.pread(fd, bs, b * bs)
        except OSError as e:
            if b in bad and e.errno == errno.EIO:
                continue
            sys.exit("block %d: %s" % (b, e))
        if b in bad:
            sys.exit("block %d read %d bytes instead of failing" % (b, len(got)))
        if got != want[b * bs:(b + 1) * bs]:
            sys.exit("block %d differs" % b)
EOF
}

# salvaged COPY SRC BS BAD...: COPY has SRC's size; its BAD blocks are
# zeros and every other block equals SRC's.
salvaged() {
	python3 - "$@" <<'EOF' || fail "salvaged copy $1"
import sys
copy, src, bs, bad = sys.argv[1], sys.argv[2], int(sys.argv[3]), set(map(int, sys.argv[4:]))
got, want = open(copy, "rb").read(), open(src, "rb").read()
if len(got) != len(want):
    sys.exit("size %d, want %d" % (len(got), len(want)))
for b in range((len(want) + bs - 1) // bs):
    g, w = got[b * bs:(b + 1) * bs], want[b * bs:(b + 1) * bs]
    if b in bad and g != bytes(len(g)):
        sys.exit("lost block %d is not zeros" % b)
    if b not in bad and g != w:
        sys.exit("good block %d differs" % b)
EOF
}

# ---- part 1: flipped bits in container blocks ---------------------------------

pf_gen text 1M 51 "$SRC/victim.txt"      # 16 zstd blocks of 64K
pf_gen random 300K 52 "$SRC/noise.bin"   # 5 raw blocks, the last one short
pf_gen text 200K 53 "$SRC/bystander.txt"
pf_gen text 100K 54 "$SRC/cut.txt"
pf_init_store "$STORE"
pf_mount "$STORE" "$MNT" block_size=64K
cp "$SRC"/* "$MNT/" || fail "cp"
pf_umount "$MNT"

check "fsck --salvage of an intact store exits 0 and copies nothing"
pf_ctl 0 fsck --salvage "$PF_WORK/none" "$STORE"
has "$OUT" '^priorctl: fsck: 4 files, 27 blocks checked, 0 faults$'
has "$OUT" '^priorctl: fsck: salvage: 0 damaged files copied to '
[ -z "$(ls -A "$PF_WORK/none")" ] || fail "salvage of an intact store wrote $(ls -A "$PF_WORK/none")"

# Blocks 3 and 4 (adjacent: one lost range), 10, and the short last raw block.
flip "$STORE/victim.txt" 3 4 10
flip "$STORE/noise.bin" 4
truncate -s 40 "$STORE/cut.txt" # inside the header: nothing left to find
echo "  flipped a bit in blocks 3, 4, 10 of victim.txt and 4 of noise.bin; cut cut.txt"

pf_mount "$STORE" "$MNT" block_size=64K
check "the flipped blocks fail with EIO, every other block reads right"
block_reads "$MNT/victim.txt" "$SRC/victim.txt" 65536 3 4 10
block_reads "$MNT/noise.bin" "$SRC/noise.bin" 65536 4
for skip in 2 5 9 11 15; do
	cmp <(dd if="$MNT/victim.txt" bs=64K skip=$skip count=1 iflag=direct 2>/dev/null) \
		<(dd if="$SRC/victim.txt" bs=64K skip=$skip count=1 2>/dev/null) ||
		fail "dd bs=64K skip=$skip"
done
! dd if="$MNT/victim.txt" of=/dev/null bs=64K skip=10 count=1 iflag=direct 2>"$PF_WORK/dd.err" ||
	fail "dd of block 10 succeeded"
has "$PF_WORK/dd.err" 'Input/output error'
cmp "$MNT/bystander.txt" "$SRC/bystander.txt" || fail "bystander"

check "the daemon log has a line naming the file and each bad block"
for b in 3 4 10; do
	has "$PF_LOG" "victim\.txt: block $b: checksum mismatch|victim\.txt: block $b: stored data does not decode"
done
has "$PF_LOG" "noise\.bin: block 4: checksum mismatch"
pf_umount "$MNT"

check "fsck exits 1 and names the file and block of each fault, nothing else"
pf_ctl 1 fsck "$STORE"
for b in 3 4 10; do has "$OUT" "^priorctl: fsck: victim\.txt: block $b: corrupt"; done
has "$OUT" '^priorctl: fsck: noise\.bin: block 4: corrupt'
has "$OUT" '^priorctl: fsck: cut\.txt: corrupt container header or index$'
has "$OUT" '^priorctl: fsck: 4 files, 25 blocks checked, 5 faults$'
[ "$(grep -c ': block ' "$OUT")" = 4 ] || fail "fault lines: $(cat "$OUT")"

check "fsck --salvage refuses a directory that is not empty or is inside the store"
mkdir -p "$PF_WORK/full" && : >"$PF_WORK/full/x"
pf_ctl 2 fsck --salvage "$PF_WORK/full" "$STORE"
has "$ERR" 'is not empty'
pf_ctl 2 fsck --salvage "$STORE/out" "$STORE"
has "$ERR" 'is inside the store'
rmdir "$STORE/out"

check "fsck --salvage copies every good block of the damaged files only, byte for byte"
SAL=$PF_WORK/salvage
pf_ctl 1 fsck --salvage "$SAL" "$STORE"
cat "$OUT"
has "$OUT" '^priorctl: fsck: salvage: victim\.txt: copied 13 of 16 blocks, lost 3 \(bytes 196608-327679, 655360-720895\)$'
has "$OUT" '^priorctl: fsck: salvage: noise\.bin: copied 4 of 5 blocks, lost 1 \(bytes 262144-307199\)$'
has "$OUT" '^priorctl: fsck: salvage: cut\.txt: nothing copied \(container does not open\)$'
has "$OUT" '^priorctl: fsck: salvage: 2 damaged files copied to '
[ "$(cd "$SAL" && ls -A | sort | tr '\n' ' ')" = "noise.bin victim.txt " ] ||
	fail "salvage dir holds: $(ls -A "$SAL")"
salvaged "$SAL/victim.txt" "$SRC/victim.txt" 65536 3 4 10
salvaged "$SAL/noise.bin" "$SRC/noise.bin" 65536 4
[ "$(stat -c %a "$SAL/victim.txt")" = 600 ] || fail "salvaged file mode $(stat -c %a "$SAL/victim.txt")"
# Lost blocks are holes: the copy allocates less than its size.
[ "$(pf_du "$SAL/victim.txt")" -le $((13 * 65536 + 8192)) ] ||
	fail "lost blocks of the copy take space ($(pf_du "$SAL/victim.txt") bytes)"

# ---- part 2: a flipped bit in a model file ------------------------------------

STORE2=$PF_WORK/store2 SRC2=$PF_WORK/src2
mkdir -p "$SRC2/d"
pf_gen zipf $((6 * 256 * 1024 + 1000)) 61 "$SRC2/d/learned.txt" # 7 blocks of 256K
pf_gen zipf $((600 * 1024)) 62 "$SRC2/other.txt"
check "import trains a text model and stores learned blocks"
pf_ctl 0 import --jobs 2 --level fast --sample 2M "$SRC2" "$STORE2"
has "$OUT" '^text .* yes$'
pf_ctl 0 models list "$STORE2"
MODEL=$(ls "$STORE2/.priorfs/models" | grep -E '^[0-9a-f]{64}$')
[ "$(echo "$MODEL" | wc -l)" = 1 ] || fail "models: $MODEL"

# Block 2 rewritten through the mount is stored with zstd, so it does not
# need the model; a file written through the mount uses no model at all.
pf_mount "$STORE2" "$MNT"
dd if="$SRC2/d/learned.txt" of="$MNT/d/learned.txt" bs=256K skip=2 seek=2 count=1 \
	conv=notrunc 2>/dev/null || fail "rewrite block 2"
cp "$SRC/bystander.txt" "$MNT/zstd.txt" || fail "cp zstd.txt"
pf_umount "$MNT"
cp "$SRC/bystander.txt" "$SRC2/zstd.txt"
pf_ctl 0 stat "$STORE2"
LEARNED=$(awk '$NF == "(total)" { print $7 }' "$OUT")
[ "$LEARNED" -ge 6 ] 2>/dev/null || fail "only $LEARNED learned blocks: $(cat "$OUT")"
python3 - "$STORE2/.priorfs/models/$MODEL" <<'EOF' || fail "flip a model byte"
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)  # model files are mode 0444: root may still write
size = os.fstat(fd).st_size
b = bytearray(os.pread(fd, 1, size // 2))
b[0] ^= 0x01
os.pwrite(fd, bytes(b), size // 2)
EOF
echo "  flipped a bit in model $MODEL"

pf_mount "$STORE2" "$MNT"
check "with a corrupt model, its blocks fail with EIO and every other block reads right"
LBAD=$(python3 - "$STORE2/d/learned.txt" <<'EOF'
import struct, sys
buf = open(sys.argv[1], "rb").read()
slots = [struct.unpack_from("<QQQIIQQ", buf, off) for off in (16, 64)]
seq, size, ioff, ilen, count, _, _ = max(slots, key=lambda s: s[0])
ent = ioff + 8 + 32 * struct.unpack_from("<H", buf, ioff)[0]
print(" ".join(str(b) for b in range(count) if buf[ent + 24 * b + 12] == 3))
EOF
)
echo "  learned blocks of d/learned.txt: $LBAD"
case " $LBAD " in *" 2 "*) fail "block 2 still learned after its rewrite" ;; esac
[ "$(echo $LBAD | wc -w)" -ge 5 ] || fail "learned blocks: $LBAD"
block_reads "$MNT/d/learned.txt" "$SRC2/d/learned.txt" 262144 $LBAD
cmp "$MNT/zstd.txt" "$SRC2/zstd.txt" || fail "a file without learned blocks"

check "the daemon log names the model, and the file and block"
has "$PF_LOG" "model ${MODEL:0:16}: corrupt"
for b in $LBAD; do has "$PF_LOG" "d/learned\.txt: block $b: its model is missing or corrupt"; done
pf_umount "$MNT"

check "fsck names the model file and every block that needs it; salvage keeps the rest"
pf_ctl 1 fsck --salvage "$PF_WORK/salvage2" "$STORE2"
cat "$OUT"
has "$OUT" "^priorctl: fsck: \.priorfs/models/$MODEL: corrupt model"
for b in $LBAD; do has "$OUT" "^priorctl: fsck: d/learned\.txt: block $b: corrupt"; done
NL=$(echo $LBAD | wc -w)
has "$OUT" "^priorctl: fsck: salvage: d/learned\.txt: copied $((7 - NL)) of 7 blocks, lost $NL "
! grep -q 'zstd\.txt' "$OUT" || fail "fsck blames zstd.txt"
salvaged "$PF_WORK/salvage2/d/learned.txt" "$SRC2/d/learned.txt" 262144 $LBAD
[ ! -e "$PF_WORK/salvage2/zstd.txt" ] || fail "salvage copied an undamaged file"

# ---- part 3: read errors from the device --------------------------------------

# This kernel has no device-mapper (dm-error, dm-flakey), so faultfs passes
# the store through FUSE and fails reads of chosen byte ranges with EIO: bad
# sectors under two blocks of one file.
FAULTFS=$top_builddir/tests/integration/faultfs
[ -x "$FAULTFS" ] || fail "no faultfs at $FAULTFS"
STORE3=$PF_WORK/store3 DEV=$PF_WORK/dev RULES=$PF_WORK/rules
pf_init_store "$STORE3"
pf_mount "$STORE3" "$MNT" block_size=64K
cp "$SRC/victim.txt" "$SRC/bystander.txt" "$MNT/" || fail "cp to store3"
pf_umount "$MNT"
extents "$STORE3/victim.txt" 2 7 | sed 's|^|/victim.txt |' >"$RULES"
mkdir -p "$DEV"
"$FAULTFS" "$STORE3" "$DEV" "$RULES" -f -o ro >>"$PF_LOG" 2>&1 &
PF_PIDS[$DEV]=$!
for ((i = 0; i < 100; i++)); do mountpoint -q "$DEV" && break; sleep 0.05; done
mountpoint -q "$DEV" || fail "faultfs did not mount"
cmp <(head -c 100 "$STORE3/victim.txt") <(head -c 100 "$DEV/victim.txt") ||
	fail "faultfs does not pass the store through"

check "blocks on unreadable sectors fail with EIO, every other block reads right"
pf_mount "$DEV" "$MNT" ro
block_reads "$MNT/victim.txt" "$SRC/victim.txt" 65536 2 7
cmp "$MNT/bystander.txt" "$SRC/bystander.txt" || fail "bystander on the faulty device"
check "the daemon log names the file, the block and the read error"
for b in 2 7; do
	has "$PF_LOG" "victim\.txt: block $b: read error: Input/output error"
done
pf_umount "$MNT"

check "fsck names the unreadable blocks; fsck --salvage copies every other block"
pf_ctl 1 fsck "$DEV"
for b in 2 7; do has "$OUT" "^priorctl: fsck: victim\.txt: block $b: "; done
has "$OUT" '^priorctl: fsck: 2 files, 20 blocks checked, 2 faults$'
pf_ctl 1 fsck --salvage "$PF_WORK/salvage3" "$DEV"
has "$OUT" '^priorctl: fsck: salvage: victim\.txt: copied 14 of 16 blocks, lost 2 '
salvaged "$PF_WORK/salvage3/victim.txt" "$SRC/victim.txt" 65536 2 7

check "once the sectors read again, so does every block (no failure was cached)"
: >"$RULES"
pf_mount "$DEV" "$MNT" ro
cmp "$MNT/victim.txt" "$SRC/victim.txt" || fail "victim.txt after the faults cleared"
pf_umount "$MNT"
fusermount3 -u "$DEV" || fail "unmount faultfs"

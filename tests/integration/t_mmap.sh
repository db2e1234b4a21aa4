#!/bin/bash
# SPDX-License-Identifier: MIT
# t_mmap.sh - shared mappings write the file, private ones do not, and both persist right.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup

STORE=$PF_WORK/store MNT=$PF_WORK/mnt
pf_init_store "$STORE"
pf_mount "$STORE" "$MNT" block_size=64K
pf_gen text 1000003 31 "$PF_WORK/orig"
cp "$PF_WORK/orig" "$MNT/m" || fail "cp"
cp "$PF_WORK/orig" "$PF_WORK/want"

check "MAP_SHARED write + msync is seen by a second open; MAP_PRIVATE changes nothing"
python3 - "$MNT/m" "$PF_WORK/want" <<'EOF' || fail "mmap checks"
import mmap, os, random, sys
path, want_path = sys.argv[1], sys.argv[2]
rng = random.Random(32)
want = bytearray(open(want_path, "rb").read())
fd = os.open(path, os.O_RDWR)
m = mmap.mmap(fd, len(want), mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
assert m[:] == want, "shared mapping does not show the file"
for _ in range(200):  # odd offsets and lengths, some across 64K blocks
    off = rng.randrange(len(want) - 70000)
    data = rng.randbytes(rng.choice((1, 17, 4096, 65537)))
    m[off:off + len(data)] = data
    want[off:off + len(data)] = data
m[len(want) - 5:] = b"TAIL!"
want[-5:] = b"TAIL!"
m.flush()
with open(path, "rb") as g:
    got = g.read()
assert len(got) == len(want), "size changed: %d" % len(got)
assert got == want, "second open does not see the msynced writes"
m.close()
os.close(fd)

fd = os.open(path, os.O_RDWR)
p = mmap.mmap(fd, 0, mmap.MAP_PRIVATE, mmap.PROT_READ | mmap.PROT_WRITE)
p[0:100000] = b"P" * 100000
p.flush()
assert p[0:4] == b"PPPP"
p.close()
os.fsync(fd)
os.close(fd)
with open(path, "rb") as g:
    assert g.read() == want, "a private mapping changed the file"
open(want_path, "wb").write(want)
EOF
cmp "$MNT/m" "$PF_WORK/want" || fail "contents after the mappings closed"

check "mapping a file grown with ftruncate, writing the new pages"
python3 - "$MNT/g" <<'EOF' || fail "mmap of a grown file"
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
os.ftruncate(fd, 300000)
m = mmap.mmap(fd, 300000)
m[150000:150006] = b"middle"
m[-3:] = b"end"
m.flush()
m.close()
os.close(fd)
data = open(sys.argv[1], "rb").read()
assert len(data) == 300000 and data[150000:150006] == b"middle" and data[-3:] == b"end"
assert data[:150000] == bytes(150000)
EOF

check "after remount the file holds what the shared mapping wrote"
pf_remount "$STORE" "$MNT" block_size=64K
cmp "$MNT/m" "$PF_WORK/want" || fail "contents after remount"
cmp -n 150000 "$MNT/g" /dev/zero && [ "$(pf_size "$MNT/g")" = 300000 ] || fail "grown file after remount"
pf_umount "$MNT"

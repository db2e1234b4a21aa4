#!/bin/bash
# SPDX-License-Identifier: MIT
# t_fsx.sh - fsx against a reference dir across remounts, codecs and memory limits; concurrent writers.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup

if [ ! -x "$FSX" ]; then  # run by hand without `make check`
	FSX=$PF_WORK/fsx
	cc -O2 -o "$FSX" "$top_srcdir/tests/integration/fsx.c" || fail "cannot build fsx"
fi
STORE=$PF_WORK/store MNT=$PF_WORK/mnt REF=$PF_WORK/ref
export PF_WORK
OPS=${PF_FSX_OPS:-10000}
pf_init_store "$STORE"

# run_fsx NAME FSX-ARGS...: fsx on MNT/NAME against REF/NAME.
run_fsx() {
	local name=$1
	shift
	mkdir -p "$MNT/$name" "$REF/$name"
	"$FSX" "$@" "$MNT/$name" "$REF/$name" || fail "fsx $* on $name"
}

check "fsx $OPS ops, block_size=64K (codec auto), seed 1"
pf_mount "$STORE" "$MNT" block_size=64K
run_fsx b64k -n "$OPS" -s 1 -N 4 -l 600K

check "fsx continues on the same files after a remount (-k compares them first)"
pf_remount "$STORE" "$MNT" block_size=64K
run_fsx b64k -k -n "$OPS" -s 2 -N 4 -l 600K

check "fsx $OPS ops, codec=raw, seed 3"
pf_remount "$STORE" "$MNT" block_size=64K,codec=raw
run_fsx raw -n "$OPS" -s 3 -N 3 -l 400K

check "fsx with large files over few blocks: block_size=1M, zstd, seed 4"
pf_remount "$STORE" "$MNT" block_size=1M,codec=zstd,zstd_level=1
run_fsx b1m -n $((OPS / 2)) -s 4 -N 2 -l 3M -o 700K

check "fsx under memory pressure: cache_size=1M, dirty_limit=1M, files up to 2.5M"
pf_remount "$STORE" "$MNT" block_size=64K,cache_size=1M,dirty_limit=1M,readahead=256K
run_fsx small_mem -n $((OPS / 2)) -s 5 -N 3 -l 2560K -o 300K

check "4 processes write disjoint, block-unaligned ranges of one file at once"
python3 - "$MNT/shared" <<'EOF2' || fail "concurrent writers to one file"
import os, random, sys
path, nproc, span = sys.argv[1], 4, 200003  # ranges share 64K blocks
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
os.ftruncate(fd, nproc * span)
os.close(fd)
pids = []
for p in range(nproc):
    pid = os.fork()
    if pid:
        pids.append(pid)
        continue
    rng, lo = random.Random(p), p * span
    want = bytearray(span)
    fd = os.open(path, os.O_RDWR)
    for i in range(1500):
        off = rng.randrange(span)
        data = rng.randbytes(min(rng.randrange(1, 30000), span - off))
        os.pwrite(fd, data, lo + off)
        want[off:off + len(data)] = data
        if i % 100 == 0 and os.pread(fd, span, lo) != want:
            print("writer %d: its range differs after op %d" % (p, i))
            os._exit(1)
        if i % 250 == 0:
            os.fsync(fd)
    open("%s/want%d" % (os.environ["PF_WORK"], p), "wb").write(want)
    os._exit(0)
bad = sum(os.waitpid(pid, 0)[1] != 0 for pid in pids)
got = open(path, "rb").read()
want = b"".join(open("%s/want%d" % (os.environ["PF_WORK"], p), "rb").read() for p in range(nproc))
if bad or got != want:
    sys.exit("%d writers failed; whole file %s" % (bad, "ok" if got == want else "differs"))
open(os.environ["PF_WORK"] + "/shared.want", "wb").write(want)
EOF2
mkdir -p "$REF" && cp "$PF_WORK/shared.want" "$REF/shared"

check "the whole tree equals the reference after a final remount"
pf_remount "$STORE" "$MNT"
diff -r "$REF" "$MNT" || fail "tree differs from the reference after remount"
pf_umount "$MNT"

#!/bin/bash
# SPDX-License-Identifier: MIT
# t_fsx.sh - seeded fsx against a reference dir: concurrent processes in own and shared dirs, remount + fsck between segments, every codec (learned too), memory limits; fsx reports a mismatch with its seed and replay line.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup

if [ ! -x "$FSX" ]; then  # run by hand without `make check`
	FSX=$PF_WORK/fsx
	cc -O2 -o "$FSX" "$top_srcdir/tests/integration/fsx.c" || fail "cannot build fsx"
fi
[ -x "$PRIORCTL" ] || fail "no priorctl at $PRIORCTL"
STORE=$PF_WORK/store MNT=$PF_WORK/mnt REF=$PF_WORK/ref
export PF_WORK
OPS=${PF_FSX_OPS:-3000}
pf_init_store "$STORE"

# run_fsx NAME FSX-ARGS...: fsx on MNT/NAME against REF/NAME; the command is
# printed first, so a failure shows what to replay.
run_fsx() {
	local name=$1
	shift
	mkdir -p "$MNT/$name" "$REF/$name"
	echo "  $FSX $* $MNT/$name $REF/$name"
	"$FSX" "$@" "$MNT/$name" "$REF/$name" >"$PF_WORK/fsx.out" 2>&1 ||
		{ cat "$PF_WORK/fsx.out"; fail "fsx $* on $name"; }
}

# run_group ARGS-LIST...: fsx runs at once, one per argument (each "NAME
# FSX-ARGS"); fails with every failing run's report.
run_group() {
	local pids=() i bad=0 spec
	for spec in "$@"; do
		set -- $spec
		mkdir -p "$MNT/$1" "$REF/$1"
		echo "  $FSX ${*:2} $MNT/$1 $REF/$1 &"
		"$FSX" "${@:2}" "$MNT/$1" "$REF/$1" >"$PF_WORK/fsx.${#pids[@]}.out" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" && continue
		cat "$PF_WORK/fsx.$i.out"
		bad=1
	done
	[ "$bad" = 0 ] || fail "concurrent fsx runs"
}

# remount_fsck OPTS: unmount, fsck the store, mount again with OPTS.
remount_fsck() {
	pf_umount "$MNT"
	"$PRIORCTL" fsck "$STORE" >"$PF_WORK/fsck.out" 2>&1 || fail "fsck: $(tail -5 "$PF_WORK/fsck.out")"
	pf_mount "$STORE" "$MNT" "$1"
}

check "fsx finds a wrong byte and prints the seed, the last ops and a replay line"
mkdir -p "$PF_WORK/p/a" "$PF_WORK/p/b"
"$FSX" -n 200 -s 9 -N 4 -D 2 -l 64K "$PF_WORK/p/a" "$PF_WORK/p/b" >/dev/null || fail "fsx on two plain dirs"
f=$(find "$PF_WORK/p/b" -type f -size +0 | head -1)
[ -n "$f" ] || fail "fsx left no non-empty file"
printf '\377' | dd of="$f" bs=1 seek=0 conv=notrunc status=none
printf '\376' | dd of="${f/\/b\//\/a\/}" bs=1 seek=0 conv=notrunc status=none
! "$FSX" -k -n 10 -s 10 -N 4 -D 2 -l 64K "$PF_WORK/p/a" "$PF_WORK/p/b" 2>"$PF_WORK/err" >/dev/null ||
	fail "fsx -k missed a changed byte"
has "$PF_WORK/err" '^fsx: seed 10 op 0: .*f[0-9]: byte at 0 \(0x0\) is 0xfe, expected 0xff'
has "$PF_WORK/err" "^replay: .*fsx -s 10 -n 10 -N 4 -D 2 -l 65536 .* -k $PF_WORK/p/a $PF_WORK/p/b$"

check "3 concurrent fsx ($OPS ops, own dir with dir swaps + 2 sharing a dir), block_size=64K, codec auto"
pf_mount "$STORE" "$MNT" block_size=64K
run_group "own -n $OPS -s 1 -N 8 -l 600K -c 250" \
	"shared -n $((OPS / 2)) -s 2 -N 6 -p a -l 300K -c 250" \
	"shared -n $((OPS / 2)) -s 3 -N 6 -p b -l 300K -c 250"

check "remount + fsck in the middle: the same processes continue with -k"
remount_fsck block_size=64K
run_group "own -k -n $OPS -s 11 -N 8 -l 600K -c 250" \
	"shared -k -n $((OPS / 2)) -s 12 -N 6 -p a -l 300K -c 250" \
	"shared -k -n $((OPS / 2)) -s 13 -N 6 -p b -l 300K -c 250"

check "fsx $OPS ops, codec=raw, without RENAME_EXCHANGE (dirs swap by three renames)"
remount_fsck block_size=64K,codec=raw
run_fsx raw -n "$OPS" -s 3 -N 5 -l 400K -X

check "fsx with large files over few blocks: block_size=1M, zstd"
remount_fsck block_size=1M,codec=zstd,zstd_level=1
run_fsx b1m -n $((OPS / 3)) -s 4 -N 3 -l 3M -o 700K

check "fsx under memory pressure: cache_size=1M, dirty_limit=1M, files up to 2.5M"
remount_fsck block_size=64K,cache_size=1M,dirty_limit=1M,readahead=256K
run_fsx small_mem -n $((OPS / 3)) -s 5 -N 3 -l 2560K -o 300K

check "4 processes write disjoint, block-unaligned ranges of one file at once"
python3 - "$MNT/shared_file" <<'EOF2' || fail "concurrent writers to one file"
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
    for i in range(1000):
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
cp "$PF_WORK/shared.want" "$REF/shared_file"

check "the whole tree equals the reference after a final remount; fsck clean"
remount_fsck ""
diff -r "$REF" "$MNT" || fail "tree differs from the reference after remount"
pf_umount "$MNT"
"$PRIORCTL" fsck "$STORE" >"$PF_WORK/fsck.out" 2>&1 || fail "fsck: $(tail -5 "$PF_WORK/fsck.out")"

check "codec=learned: a store with a trained text model, fsx with remount + fsck between segments"
LSTORE=$PF_WORK/lstore
mkdir -p "$PF_WORK/train"
python3 - "$PF_WORK/train/text.txt" <<'EOF' || fail "generating training text"
import itertools, random, sys
rng = random.Random(7)  # Zipf-like prose: a model beats zstd -19 on it
syl = "ka lo mi ne ru sa te vi do pa ri en al or is un th st ch qu".split()
vocab = ["".join(rng.choice(syl) for _ in range(rng.choice((1, 2, 2, 3, 3, 4))))
         for _ in range(3000)]
cum = list(itertools.accumulate(1.0 / (i + 1) for i in range(len(vocab))))
words = rng.choices(vocab, cum_weights=cum, k=450000)
with open(sys.argv[1], "w") as f:
    for i in range(0, len(words), 12):
        f.write(" ".join(words[i:i + 12]).capitalize() + ".\n")
EOF
pf_init_store "$LSTORE"
pf_ctl 0 train --from "$PF_WORK/train" --level fast --sample 2M "$LSTORE"
has "$OUT" '^default models:'
STORE=$LSTORE REF=$PF_WORK/lref
pf_mount "$STORE" "$MNT" block_size=64K,codec=learned
# The learned codec codes at a few MB/s: small files and I/O keep this short.
run_fsx learned -n 150 -s 6 -N 4 -l 256K -o 32K -c 50
remount_fsck block_size=64K,codec=learned
run_fsx learned -k -n 150 -s 7 -N 4 -l 256K -o 32K -c 50
remount_fsck block_size=64K,codec=learned
diff -r "$REF" "$MNT" || fail "learned tree differs from the reference after remount"
pf_umount "$MNT"
"$PRIORCTL" stat --json "$STORE" >"$PF_WORK/stat.json" || fail "stat --json"
python3 -c 'import json, sys; b = json.load(open(sys.argv[1]))["total"]["blocks"]; sys.exit(0 if b["learned"] > 0 else "no learned blocks: %s" % b)' \
	"$PF_WORK/stat.json" || fail "codec=learned wrote no learned blocks"

#!/bin/bash
# SPDX-License-Identifier: MIT
# t_shared.sh - one store, one read-write and one read-only mount at once: a second writer (mount or priorctl) is refused by the lock, the ro mount sees the writer's new files, and every read of a file the writer keeps rewriting returns one whole committed generation.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup
[ -x "$PRIORCTL" ] || fail "no priorctl at $PRIORCTL"

STORE=$PF_WORK/store W=$PF_WORK/w R=$PF_WORK/r
pf_init_store "$STORE"

check "one read-write and one read-only mount of one store at once"
pf_mount "$STORE" "$W" "attr_timeout=0"
pf_gen text 1M 1 "$W/before.txt"
sync "$W/before.txt" || fail "fsync before.txt"
pf_mount "$STORE" "$R" "ro,attr_timeout=0"
cmp "$W/before.txt" "$R/before.txt" || fail "ro mount reads before.txt differently"
! touch "$R/new" 2>/dev/null || fail "ro mount accepted a create"

check "a second writer is refused, naming why"
mkdir -p "$PF_WORK/w2"
timeout 10 "$PRIORFS" -f "$STORE" "$PF_WORK/w2" >"$PF_WORK/w2.out" 2>&1
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "second rw mount: exit $rc"
mountpoint -q "$PF_WORK/w2" && fail "second rw mount mounted"
has "$PF_WORK/w2.out" "in use by another writer .*/.priorfs/lock"
pf_ctl 2 recompress "$STORE"
has "$ERR" "is in use: mounted read-write.*/.priorfs/lock is held"
check "a second read-only mount is fine"
pf_mount "$STORE" "$PF_WORK/r2" "ro"
cmp "$W/before.txt" "$PF_WORK/r2/before.txt" || fail "second ro mount"
pf_umount "$PF_WORK/r2"

check "the ro mount sees files the writer closed"
mkdir "$W/d" || fail mkdir
pf_gen random 700K 2 "$W/d/new.bin"
cmp "$W/d/new.bin" "$R/d/new.bin" || fail "ro mount does not see d/new.bin as written"
ls "$R/d" | grep -qx new.bin || fail "ro mount does not list d/new.bin"

check "the ro mount follows size changes of a file it has read"
cat "$R/d/new.bin" >/dev/null || fail "read d/new.bin on the ro mount"
for n in 1 2 3; do
	head -c 100000 /dev/urandom >>"$W/d/new.bin" || fail "append $n"
	[ "$(stat -c %s "$R/d/new.bin")" = "$(stat -c %s "$W/d/new.bin")" ] ||
		fail "after append $n the ro mount shows size $(stat -c %s "$R/d/new.bin"), the writer $(stat -c %s "$W/d/new.bin")"
	cmp "$W/d/new.bin" "$R/d/new.bin" || fail "after append $n the ro mount reads d/new.bin differently"
done
truncate -s 5000 "$W/d/new.bin" || fail truncate
[ "$(stat -c %s "$R/d/new.bin")" = 5000 ] || fail "after a truncate the ro mount shows size $(stat -c %s "$R/d/new.bin")"
cmp "$W/d/new.bin" "$R/d/new.bin" || fail "after a truncate the ro mount reads d/new.bin differently"

check "a file rewritten in place: every ro read is one whole generation"
# The writer rewrites gen.bin (fixed size, 6 blocks of 256K) with every
# byte set to the generation number, fsyncing each; the reader re-opens and
# reads it whole in a loop. A torn read mixes generations: never allowed.
# EIO is allowed while the writer runs (the known limit in priorfs(8)
# SHARED STORAGE: an open read-only file's index may name space the writer
# has reused since), and counted; after the writer stops, a fresh open must
# read the last generation.
python3 - "$W/gen.bin" "$R/gen.bin" <<'EOF' || fail "generation loop"
import os, sys, threading, time
wpath, rpath = sys.argv[1], sys.argv[2]
SIZE = 6 * 256 * 1024 + 1000
GENS = 60
def write(g):
    with open(wpath, "r+b" if os.path.exists(wpath) else "wb") as f:
        f.write(bytes([g]) * SIZE)
        f.flush()
        os.fsync(f.fileno())
write(1)
deadline = time.time() + 10
while not os.path.exists(rpath):
    if time.time() > deadline:
        sys.exit("ro mount never saw gen.bin")
    time.sleep(0.05)
done = threading.Event()
def writer():
    for g in range(2, GENS + 1):
        write(g)
    done.set()
t = threading.Thread(target=writer)
t.start()
reads, seen, bad, errors, last = 0, set(), [], [], 0
while not done.is_set() or reads < 20:
    try:
        with open(rpath, "rb") as f:
            data = f.read()
    except OSError as e:
        errors.append(str(e))
        continue
    reads += 1
    gens = set(data)
    if len(data) != SIZE or len(gens) != 1:
        bad.append((reads, len(data), sorted(gens)[:8]))
        continue
    g = gens.pop()
    seen.add(g)
    if g < last:
        bad.append((reads, "went back from", last, "to", g))
    last = g
t.join()
with open(rpath, "rb") as f:
    final = set(f.read())
print("reads %d, generations seen %d, EIO while writing %d, torn %d"
      % (reads, len(seen), len(errors), len(bad)))
if bad:
    sys.exit("torn: %s" % bad[:5])
if final != {GENS}:
    sys.exit("after the writer finished the ro mount reads %s" % sorted(final)[:8])
if reads - len(errors) < 10:
    sys.exit("too few good reads: %d" % (reads - len(errors)))
EOF
pf_umount "$R"
pf_umount "$W"

check "a read-only handle held open while priorctl recompress re-encodes its file reads every byte"
# recompress may run beside read-only mounts (they take no lock). It frees
# and punches the space of the blocks it re-encodes, which an open handle's
# index still names: the handle must take over the new state of the same
# bytes instead of failing with EIO.
pf_gen text 12M 5 "$PF_WORK/big.txt"
pf_mount "$STORE" "$W" "attr_timeout=0"
cp "$PF_WORK/big.txt" "$W/big.txt" || fail "cp big.txt"
pf_umount "$W"
pf_mount "$STORE" "$R" "ro,attr_timeout=0,readahead=0"
mkfifo "$PF_WORK/go" "$PF_WORK/ready"
python3 - "$R/big.txt" "$PF_WORK/big.txt" "$PF_WORK/ready" "$PF_WORK/go" >"$PF_WORK/held.out" 2>&1 <<'PY' &
import sys
path, ref, ready, go = sys.argv[1:]
want = open(ref, "rb").read()
with open(path, "rb", buffering=0) as f:
    head = f.read(256 * 1024)
    open(ready, "w").close()
    open(go).read()
    rest = b""
    while True:
        chunk = f.read(1 << 20)
        if not chunk:
            break
        rest += chunk
data = head + rest
if data != want:
    sys.exit("held handle read %d bytes, first difference at %s" % (len(data),
             next((i for i in range(min(len(data), len(want))) if data[i] != want[i]), "end")))
print("held handle read all %d bytes" % len(data))
PY
held=$!
cat "$PF_WORK/ready" >/dev/null
pf_ctl 0 recompress --codec zstd --force "$STORE"
has "$OUT" ' [1-9][0-9]* re-encoded '
echo go >"$PF_WORK/go"
wait "$held" || fail "the held handle failed: $(cat "$PF_WORK/held.out")"
has "$PF_WORK/held.out" 'held handle read all 12582912 bytes'
grep -q "re-encoded by a writer since it was opened" "$PF_LOG" ||
	fail "no log line about the re-encode"
pf_umount "$R"

#!/bin/bash
# SPDX-License-Identifier: MIT
# t_crash.sh - kill -9 the daemon under writers: every file is a whole recorded version.
#
# Each writer rewrites its own file again and again (pwrite from 0, ftruncate,
# then close, or fsync and close) and logs on the plain filesystem "begin V
# SUM" before a version and "done V SUM" once close/fsync returned. After the
# kill, fsck must pass and each file must be its last done version or the one
# begun after it (in flight); never a mix, a prefix or an older version.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup

[ -x "$PRIORCTL" ] || fail "no priorctl at $PRIORCTL (needed for fsck)"
STORE=$PF_WORK/store MNT=$PF_WORK/mnt LOGS=$PF_WORK/logs
WRITERS=4 ITERS=${PF_CRASH_ITERS:-4}
mkdir -p "$LOGS"
pf_init_store "$STORE"

# writer FILE LOG SEED: rewrites FILE until killed or the mount dies.
writer() {
	exec python3 - "$@" <<'EOF'
import hashlib, os, random, sys
path, log, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(seed)
logfd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
words = [b"alpha ", b"beta ", b"gamma ", b"delta\n", b"epsilon ", b"zeta "]
v = 0
try:
    while True:
        v += 1
        n = rng.choice((0, 1, 4096, 65535, 65536, 65537, rng.randrange(1, 400000),
                        rng.randrange(1, 400000), rng.randrange(1 << 20, 3 << 20)))
        if rng.random() < 0.5:
            data = b"".join(rng.choice(words) for _ in range(n // 5 + 1))[:n]
        else:
            data = rng.randbytes(n)
        data = (b"v%d:" % v + data)[:max(n, 1)]
        how = rng.choice(("close", "fsync"))
        sha = hashlib.sha256(data).hexdigest()
        os.write(logfd, b"begin %d %s\n" % (v, sha.encode()))
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
        if how == "fsync":
            os.fsync(fd)
        os.close(fd)
        os.write(logfd, b"done %d %s %s\n" % (v, sha.encode(), how.encode()))
except OSError:
    pass  # the daemon was killed
EOF
}

# verify FILE LOG: FILE holds the last done version or the one in flight.
verify() {
	python3 - "$@" <<'EOF'
import hashlib, os, sys
path, log = sys.argv[1], sys.argv[2]
done, inflight = None, None
for line in open(log):
    f = line.split()
    if len(f) < 3:
        continue  # a line cut by the kill
    if f[0] == "done":
        done, inflight = (int(f[1]), f[2], f[3]), None
    elif f[0] == "begin":
        inflight = (int(f[1]), f[2])
ok = set()
if done:
    ok.add(done[1])
else:
    ok.add("missing")
    ok.add(hashlib.sha256(b"").hexdigest())
if inflight:
    ok.add(inflight[1])
try:
    got = hashlib.sha256(open(path, "rb").read()).hexdigest()
except FileNotFoundError:
    got = "missing"
if got not in ok:
    older = [l.split()[1] for l in open(log) if l.startswith("begin") and got in l]
    size = os.path.getsize(path) if got != "missing" else -1
    sys.exit("%s: content (%d bytes, sha %s) is %s; want last done %s or in flight %s"
             % (path, size, got[:16], "version " + older[0] if older else "no recorded version",
                done[::2] if done else None, inflight[0] if inflight else None))
print("  %s ok: %s (last done v%s, in flight v%s)" % (os.path.basename(path),
      "in flight" if inflight and got == inflight[1] else
      "last done" if done else "not created",
      done[0] if done else "-", inflight[0] if inflight else "-"))
EOF
}

# Odd iterations use the defaults; even ones a 1M dirty limit, so the larger
# versions (1-3M) are encoded into free space before their commit.
opts() { [ $(($1 % 2)) = 0 ] && echo block_size=64K,dirty_limit=1M || echo block_size=64K; }
pf_mount "$STORE" "$MNT" "$(opts 1)"
for it in $(seq 1 "$ITERS"); do
	delay=$(python3 -c "import random; print(round(random.uniform(0.3, 2.0), 2))")
	check "iteration $it ($(opts "$it")): $WRITERS writers, kill -9 the daemon after ${delay}s"
	pids=()
	for w in $(seq 1 $WRITERS); do
		writer "$MNT/w$it.$w" "$LOGS/w$it.$w" $((it * 100 + w)) &
		pids+=($!)
	done
	# Start the clock once every writer has closed a version, so that a
	# slow python start does not leave files with nothing to check.
	for ((i = 0; i < 400; i++)); do
		[ "$(grep -l '^done' "$LOGS"/w$it.* 2>/dev/null | wc -l)" = $WRITERS ] && break
		sleep 0.05
	done
	[ "$i" -lt 400 ] || fail "writers did not each close a version within 20 s"
	sleep "$delay"
	pf_kill_daemon "$MNT"
	# Writers go before the mount does: after unmounting, their next open
	# would create a file in the plain directory underneath and log it.
	kill -9 "${pids[@]}" 2>/dev/null
	wait "${pids[@]}" 2>/dev/null
	pf_drop_mount "$MNT"
	[ -z "$(ls -A "$MNT")" ] || fail "writes reached the directory under the mount: $(ls -A "$MNT")"
	grep -c '^done' "$LOGS"/w$it.* | sed 's/^/  versions closed: /'

	check "iteration $it: priorctl fsck passes after the crash"
	"$PRIORCTL" fsck "$STORE" >"$PF_WORK/fsck.out" 2>&1 ||
		fail "priorctl fsck exited $? after crash $it: $(cat "$PF_WORK/fsck.out")"

	check "iteration $it: each file is a whole recorded version (all iterations so far)"
	pf_mount "$STORE" "$MNT" "$(opts $((it + 1)))"
	for l in "$LOGS"/*; do
		verify "$MNT/$(basename "$l")" "$l" || fail "crash $it: $(basename "$l")"
	done
done
pf_umount "$MNT"

check "fsck after the clean unmount"
"$PRIORCTL" fsck "$STORE" >"$PF_WORK/fsck.out" 2>&1 || fail "fsck: $(cat "$PF_WORK/fsck.out")"

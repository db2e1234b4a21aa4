#!/bin/bash
# SPDX-License-Identifier: MIT
# t_crash.sh - crash the daemon (kill -9, umount -l) and priorctl recompress under load: every file is a committed state.
#
# Each iteration starts $PF_CRASH_WRITERS writer processes on one mount. A
# writer owns a few names and, until stopped, rewrites one in place (pwrite
# from 0, ftruncate, then fsync or just close), replaces one atomically
# (write a temp file, fsync, rename it over the name) or renames one of its
# names over another. It logs "begin OP ..." on the plain filesystem before
# each operation and "done" once it returned, fsyncing the log each time.
# At a random moment the iteration ends in one of three ways:
#   kill  - kill -9 the daemon while the writers run;
#   lazy  - umount -l the busy mount; the writers go on through the detached
#           mount, then stop at the end of an operation, and the daemon must
#           commit and exit 0 by itself once the last file is closed;
#   lazy9 - umount -l, then kill -9 the daemon still serving the writers.
# Then fsck must pass, and after a remount each name must hold the state of
# the last logged operation, or of the one in flight (renames and temp files
# included); fsync'd data is therefore never lost. The state found is then
# pinned: every later iteration checks every file of the earlier ones byte
# for byte (by sha256), and no file may exist that no writer made. Some
# iterations then unmount, start priorctl recompress --force (codecs
# rotate, the learned one after a short train) and kill -9 it at a random
# moment; fsck must pass and every file must be unchanged.
#
# Environment: PF_CRASH_ITERS (4), PF_CRASH_WRITERS (4), PF_CRASH_SEED
# (random; each iteration prints "seed SEED.IT" and draws its mode, delays
# and writer seeds from it), PF_CRASH_KEEP (keep the files of this many
# iterations, 0 = all; contrib/soak/crash_soak.sh sets it for long runs).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup

[ -x "$PRIORCTL" ] || fail "no priorctl at $PRIORCTL (needed for fsck)"
STORE=$PF_WORK/store MNT=$PF_WORK/mnt LOGS=$PF_WORK/logs PINNED=$PF_WORK/pinned
WRITERS=${PF_CRASH_WRITERS:-4} ITERS=${PF_CRASH_ITERS:-4} KEEP=${PF_CRASH_KEEP:-0}
SEED=${PF_CRASH_SEED:-$(od -An -tu4 -N4 /dev/urandom | tr -d ' ')}
mkdir -p "$LOGS"
: >"$PINNED"
pf_init_store "$STORE"
echo "base seed $SEED (rerun with PF_CRASH_SEED=$SEED)"

# writer MNT PREFIX LOG SEED: works on PREFIX.0..2 and PREFIX.tmp through a
# directory fd on MNT, so that after umount -l it still reaches the detached
# mount and never the directory underneath. Stops at the end of an
# operation on SIGTERM, and at the first error (the daemon was killed).
writer() {
	exec python3 - "$@" <<'EOF'
import hashlib, os, random, signal, sys
mnt, prefix, log, seed = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rng = random.Random(seed)
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
dfd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
logfd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
names = ["%s.%d" % (prefix, i) for i in range(3)]
tmp = prefix + ".tmp"
present = set()
words = [b"alpha ", b"beta ", b"gamma ", b"delta\n", b"epsilon ", b"zeta "]

def note(line):
    os.write(logfd, line.encode() + b"\n")
    os.fsync(logfd)

def content(v):
    n = rng.choice((0, 1, 4096, 65535, 65536, 65537, rng.randrange(1, 400000),
                    rng.randrange(1, 400000), rng.randrange(1 << 20, 2 << 20)))
    if rng.random() < 0.5:
        data = b"".join(rng.choice(words) for _ in range(n // 5 + 1))[:n]
    else:
        data = rng.randbytes(n)
    return (b"%s v%d:" % (prefix.encode(), v) + data)[:max(n, 1)]

def put(name, data, flags, sync):
    fd = os.open(name, os.O_RDWR | os.O_CREAT | flags, 0o644, dir_fd=dfd)
    os.pwrite(fd, data, 0)
    os.ftruncate(fd, len(data))
    if sync:
        os.fsync(fd)
    os.close(fd)

v = 0
try:
    while not stop:
        v += 1
        op = rng.choice(("rewrite", "rewrite", "replace", "move"))
        if op == "move" and not present:
            op = "replace"
        if op == "move":
            src = rng.choice(sorted(present))
            dst = rng.choice([n for n in names if n != src])
            note("begin move %s %s" % (src, dst))
            os.rename(src, dst, src_dir_fd=dfd, dst_dir_fd=dfd)
            present.discard(src)
            present.add(dst)
        else:
            name, data = rng.choice(names), content(v)
            sha = hashlib.sha256(data).hexdigest()
            if op == "rewrite":
                sync = rng.random() < 0.5
                note("begin rewrite %s %s %s" % (name, sha, "fsync" if sync else "close"))
                put(name, data, 0, sync)
            else:
                note("begin replace %s %s" % (name, sha))
                put(tmp, data, os.O_TRUNC, True)
                os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
            present.add(name)
        note("done %d" % v)
except OSError:
    pass  # the daemon was killed
EOF
}

# settle LOG...: replays each writer log and prints "name sha" for every
# name the writer owns, where sha is the state found in the mount; fails
# unless it is the state after the last done operation or after the one in
# flight. Absent files print as "missing".
settle() {
	python3 - "$MNT" "$@" <<'EOF'
import hashlib, os, sys
mnt, logs = sys.argv[1], sys.argv[2:]
MISSING, EMPTY = "missing", hashlib.sha256(b"").hexdigest()

def sha_of(name):
    try:
        with open(os.path.join(mnt, name), "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except FileNotFoundError:
        return MISSING

def apply(state, op, tmp):
    """State after op, plus extra states allowed while op is in flight."""
    new, extra = dict(state), {}
    if op[0] == "move":
        new[op[2]], new[op[1]] = state[op[1]], MISSING
    elif op[0] == "rewrite":
        new[op[1]] = op[2]
        if state[op[1]] == MISSING:
            extra[op[1]] = {EMPTY}  # created, data not yet committed
    elif op[0] == "replace":
        new[op[1]] = op[2]
        extra[tmp] = {EMPTY, op[2]}  # temp file created or fsync'd, not renamed
    return new, extra

bad = []
for log in logs:
    prefix = os.path.basename(log)
    tmp = prefix + ".tmp"
    state = {n: MISSING for n in ["%s.%d" % (prefix, i) for i in range(3)] + [tmp]}
    pending, ops = None, 0
    for line in open(log):
        f = line.split()
        if len(f) >= 3 and f[0] == "begin" and f[1] in ("move", "rewrite", "replace"):
            pending = f[1:]
        elif len(f) == 2 and f[0] == "done" and pending:
            state, _ = apply(state, pending, tmp)
            pending, ops = None, ops + 1
    allowed = {n: {s} for n, s in state.items()}
    if pending:
        after, extra = apply(state, pending, tmp)
        for n in allowed:
            allowed[n] |= {after[n]} | extra.get(n, set())
    for n in sorted(allowed):
        got = sha_of(n)
        if got not in allowed[n]:
            bad.append("%s: sha %s; want one of %s (%d ops done, in flight: %s)"
                       % (n, got[:16], sorted(s[:16] for s in allowed[n]), ops,
                          " ".join(x[:16] for x in pending) if pending else "-"))
        print(n, got)
    print("  %s: %d ops done, in flight: %s" % (prefix, ops, pending[0] if pending else "-"),
          file=sys.stderr)
if bad:
    sys.exit("\n".join(bad))
EOF
}

# check_pinned: every pinned file holds its pinned sha, and the mount has
# no other file.
check_pinned() {
	python3 - "$MNT" "$PINNED" <<'EOF'
import hashlib, os, sys
mnt, pinned = sys.argv[1], sys.argv[2]
want = dict(l.split() for l in open(pinned))
have = {}
for n in os.listdir(mnt):
    with open(os.path.join(mnt, n), "rb") as f:
        have[n] = hashlib.sha256(f.read()).hexdigest()
bad = ["%s: sha %s, pinned %s" % (n, have.get(n, "missing")[:16], s[:16])
       for n, s in sorted(want.items()) if have.get(n, "missing") != s]
bad += ["%s: no writer made it" % n for n in sorted(set(have) - set(want))]
if bad:
    sys.exit("\n".join(bad))
print("  %d files as pinned" % sum(1 for s in want.values() if s != "missing"))
EOF
}

fsck_ok() {
	"$PRIORCTL" fsck "$STORE" >"$PF_WORK/fsck.out" 2>&1 ||
		fail "priorctl fsck exited $? $1: $(tail -n 20 "$PF_WORK/fsck.out")"
}

# draw: this iteration's mode, delays and recompress codec, from its seed.
draw() {
	python3 -c 'import random, sys
r = random.Random(sys.argv[1])
print(r.choice(("kill", "kill", "lazy", "lazy9")), round(r.uniform(0.3, 2.0), 2),
      round(r.uniform(0, 0.5), 2), r.choice(("none", "zstd", "raw", "auto", "L")),
      round(r.uniform(0.02, 0.4), 2))' "$SEED.$it"
}

# wait_daemon_exit MNT: after umount -l the daemon commits every file once
# the writers close them; it must then exit 0 on its own.
wait_daemon_exit() {
	local pid=${PF_PIDS[$1]} rc
	pf_wait_pid "$pid" 20 || fail "daemon still running 20 s after umount -l and its writers ended"
	wait "$pid"
	rc=$?
	unset "PF_PIDS[$1]"
	[ "$rc" -eq 0 ] || fail "daemon exited $rc after umount -l"
}

# crash_recompress CODEC DELAY: priorctl recompress killed after DELAY s
# (unless it is done by then), then fsck and every file unchanged.
crash_recompress() {
	local pid rc=killed
	pf_umount "$MNT"
	"$PRIORCTL" recompress --force --jobs 2 --codec "$1" "$STORE" >"$PF_WORK/rc.out" 2>&1 &
	pid=$!
	sleep "$2"
	if kill -9 "$pid" 2>/dev/null; then
		wait "$pid" 2>/dev/null
		survived=$((survived + 1))
	else
		wait "$pid"
		rc=$?
		[ "$rc" -eq 0 ] || fail "recompress --codec $1 exited $rc: $(cat "$PF_WORK/rc.out")"
	fi
	check "iteration $it: fsck and every file unchanged after recompress --codec $1 ($rc after ${2}s)"
	fsck_ok "after recompress was killed"
	pf_mount "$STORE" "$MNT" "$(opts $((it + 1)))"
	check_pinned || fail "iteration $it: files changed by recompress --codec $1 ($rc after ${2}s)"
}

# forget OLD: removes iteration OLD's files (PF_CRASH_KEEP) to bound the store.
forget() {
	rm -f "$MNT"/w"$1".* "$LOGS"/w"$1".*
	sed -i "/^w$1\./d" "$PINNED"
}

# A learned codec for recompress to use: trained (a few seconds) on 4M of
# generated text, the least for which a small model pays, so the writers'
# text versions use it. Iterations that would use it fall back to zstd when
# training finds nothing worth keeping.
pf_gen text 4M 7 "$PF_WORK/train.txt"
mkdir -p "$PF_WORK/train" && mv "$PF_WORK/train.txt" "$PF_WORK/train/"
"$PRIORCTL" train --level fast --table-bits 12 --from "$PF_WORK/train" "$STORE" >"$PF_WORK/train.out" 2>&1 ||
	fail "priorctl train: $(cat "$PF_WORK/train.out")"
LEARNED=learned
grep -q '^no default models' "$PF_WORK/train.out" && LEARNED=zstd
echo "recompress codecs: zstd raw auto $LEARNED"

# Odd iterations use the defaults; even ones a 1M dirty limit, so the larger
# versions (1-2M) are encoded into free space before their commit. Every
# third one also recompresses in the background (-o recompress=1), every
# closed file cold at once, so the thread races the writers and the crash.
opts() {
	local o=block_size=64K
	[ $(($1 % 2)) = 0 ] && o=$o,dirty_limit=1M
	[ $(($1 % 3)) = 0 ] && o=$o,recompress=1,recompress_after=0
	echo "$o"
}
pf_mount "$STORE" "$MNT" "$(opts 1)"
survived=0
for it in $(seq 1 "$ITERS"); do
	read -r mode delay ldelay rcodec rdelay < <(draw)
	[ "$rcodec" = L ] && rcodec=$LEARNED
	check "iteration $it seed $SEED.$it ($(opts "$it")): $WRITERS writers, $mode after ${delay}s, recompress $rcodec"
	pids=()
	for w in $(seq 1 "$WRITERS"); do
		writer "$MNT" "w$it.$w" "$LOGS/w$it.$w" "$SEED.$it.$w" &
		pids+=($!)
	done
	# Start the clock once every writer has finished an operation, so that
	# a slow python start does not leave writers with nothing to check.
	for ((i = 0; i < 400; i++)); do
		[ "$(grep -l '^done' "$LOGS"/w"$it".* 2>/dev/null | wc -l)" = "$WRITERS" ] && break
		sleep 0.05
	done
	[ "$i" -lt 400 ] || fail "writers did not each finish an operation within 20 s"
	sleep "$delay"
	case $mode in
	kill)
		pf_kill_daemon "$MNT"
		# Writers go before the mount: a dead mount fails their calls.
		kill -9 "${pids[@]}" 2>/dev/null
		wait "${pids[@]}" 2>/dev/null
		pf_drop_mount "$MNT"
		;;
	lazy | lazy9)
		umount -l "$MNT" || fail "umount -l $MNT"
		mountpoint -q "$MNT" && fail "$MNT still mounted after umount -l"
		sleep "$ldelay"
		if [ "$mode" = lazy9 ]; then
			pf_kill_daemon "$MNT"
			kill -9 "${pids[@]}" 2>/dev/null
			wait "${pids[@]}" 2>/dev/null
			unset "PF_PIDS[$MNT]"
		else
			kill -TERM "${pids[@]}" 2>/dev/null
			wait "${pids[@]}" 2>/dev/null
			wait_daemon_exit "$MNT"
		fi
		;;
	esac
	survived=$((survived + 1))
	[ -z "$(ls -A "$MNT")" ] || fail "writes reached the directory under the mount: $(ls -A "$MNT")"

	check "iteration $it: priorctl fsck passes after $mode"
	fsck_ok "after $mode in iteration $it"

	check "iteration $it: each name holds its last committed state or the one in flight"
	pf_mount "$STORE" "$MNT" "$(opts $((it + 1)))"
	settle "$LOGS"/w"$it".* >"$PF_WORK/settled" || fail "iteration $it ($mode, seed $SEED.$it)"
	cat "$PF_WORK/settled" >>"$PINNED"
	check_pinned || fail "iteration $it: earlier files changed after $mode"

	if [ "$rcodec" != none ]; then
		crash_recompress "$rcodec" "$rdelay"
	fi
	[ "$KEEP" -gt 0 ] && [ "$it" -gt "$KEEP" ] && forget $((it - KEEP))
done
pf_umount "$MNT"

check "fsck after the clean unmount"
fsck_ok "after the clean unmount"
echo "$ITERS iterations, $survived crashes survived (seed $SEED)"

# SPDX-License-Identifier: MIT
# lib.sh - shared helpers for the mount tests: work dir, mount/unmount, test data.
#
# Sourced (never run) by tests/integration/t_*.sh under bash. make check
# exports top_builddir and top_srcdir as absolute paths; run by hand, the
# build dir defaults to $PF_BUILDDIR or the current directory. Each test gets
# a fresh work dir under $TMPDIR; an EXIT trap unmounts everything it mounted
# (lazily if it must), kills any daemon still running and removes the dir
# (kept when PF_KEEP=1). Tests need root and /dev/fuse, else they skip (77).

set -u
set -o pipefail

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${top_builddir:=${PF_BUILDDIR:-$(pwd)}}"
PRIORFS=${PRIORFS:-$top_builddir/src/priorfs}
PRIORCTL=${PRIORCTL:-$top_builddir/src/priorctl/priorctl}
FSX=${FSX:-$top_builddir/tests/integration/fsx}
PF_TEST=$(basename "$0" .sh)

# Daemons this test started: pid by mount point.
declare -A PF_PIDS=()
PF_LOG=

# ---- messages ---------------------------------------------------------------

fail() {
	echo "FAIL [$PF_TEST]: $*" >&2
	exit 1
}

skip() {
	echo "SKIP [$PF_TEST]: $*"
	exit 77
}

# Prints what is about to be checked; the next failing command fails it.
check() {
	echo "check: $*"
}

# ---- work dir and cleanup ---------------------------------------------------

pf_cleanup() {
	local rc=$? mnt
	trap - EXIT
	for mnt in "${!PF_PIDS[@]}"; do
		pf_force_umount "$mnt"
	done
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -n "$PF_LOG" ] && [ -s "$PF_LOG" ]; then
		echo "---- last lines of the daemon log ($PF_LOG) ----" >&2
		tail -n 30 "$PF_LOG" >&2
	fi
	if [ "${PF_KEEP:-0}" = 1 ]; then
		echo "work dir kept: $PF_WORK"
	else
		rm -rf "$PF_WORK"
	fi
	[ "$rc" -eq 0 ] && echo "PASS [$PF_TEST]"
	exit "$rc"
}

# Unmounts mnt whatever state its daemon is in, then makes sure it is gone.
pf_force_umount() {
	local mnt=$1 pid=${PF_PIDS[$1]:-}
	if mountpoint -q "$mnt" 2>/dev/null || grep -qs " $mnt fuse" /proc/mounts; then
		fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null ||
			umount -l "$mnt" 2>/dev/null
	fi
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		pf_wait_pid "$pid" 5 || kill -9 "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	unset "PF_PIDS[$mnt]"
}

pf_setup() {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	[ -c /dev/fuse ] || skip "no /dev/fuse"
	command -v fusermount3 >/dev/null || skip "no fusermount3"
	command -v python3 >/dev/null || skip "no python3"
	[ -x "$PRIORFS" ] || fail "no daemon at $PRIORFS (set top_builddir)"
	PF_WORK=$(mktemp -d "${TMPDIR:-/tmp}/pf-$PF_TEST.XXXXXX") || fail "mktemp"
	PF_LOG=$PF_WORK/priorfs.log
	trap pf_cleanup EXIT
	trap 'exit 130' INT TERM
}

# ---- stores and mounts ------------------------------------------------------

# pf_init_store DIR: makes DIR a store, with priorctl when it is built.
pf_init_store() {
	if [ -x "$PRIORCTL" ]; then
		"$PRIORCTL" init "$1" >/dev/null || fail "priorctl init $1"
	else
		mkdir -p "$1/.priorfs" && echo format=1 >"$1/.priorfs/config" ||
			fail "cannot make store $1"
	fi
}

# pf_wait_pid PID SECONDS: waits for a process to end; 1 on timeout.
pf_wait_pid() {
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}

# pf_mount STORE MNT [OPTS]: starts the daemon in the foreground of a
# background job, logging to $PF_LOG, and waits (10 s) until MNT is mounted.
pf_mount() {
	local store=$1 mnt=$2 opts=${3:-} i pid
	mkdir -p "$mnt"
	echo "== mount $store on $mnt ${opts:+-o $opts} ==" >>"$PF_LOG"
	if [ -n "$opts" ]; then
		"$PRIORFS" -f "$store" "$mnt" -o "$opts" >>"$PF_LOG" 2>&1 &
	else
		"$PRIORFS" -f "$store" "$mnt" >>"$PF_LOG" 2>&1 &
	fi
	pid=$!
	PF_PIDS[$mnt]=$pid
	for ((i = 0; i < 200; i++)); do
		mountpoint -q "$mnt" && return 0
		kill -0 "$pid" 2>/dev/null || {
			wait "$pid"
			fail "priorfs exited ($?) instead of mounting $mnt ${opts:+-o $opts}"
		}
		sleep 0.05
	done
	fail "priorfs did not mount $mnt within 10 s"
}

# pf_daemon_pid MNT: pid of the daemon serving MNT.
pf_daemon_pid() {
	echo "${PF_PIDS[$1]:-}"
}

# pf_umount MNT: clean unmount; fails the test unless the daemon then
# exits by itself with status 0 (it commits every file on the way out).
pf_umount() {
	local mnt=$1 pid=${PF_PIDS[$1]:-} rc
	[ -n "$pid" ] || fail "pf_umount: $mnt was not mounted by this test"
	fusermount3 -u "$mnt" || fail "fusermount3 -u $mnt failed"
	pf_wait_pid "$pid" 15 || fail "daemon $pid still running 15 s after unmounting $mnt"
	wait "$pid"
	rc=$?
	unset "PF_PIDS[$mnt]"
	[ "$rc" -eq 0 ] || fail "daemon for $mnt exited with status $rc after unmount"
	! grep -q "ERROR: \(Address\|Leak\|Thread\)Sanitizer\|runtime error:" "$PF_LOG" ||
		fail "sanitizer report in $PF_LOG"
}

# pf_kill_daemon MNT: kill -9 the daemon. The dead mount stays in place, so
# every access to it fails (ENOTCONN) instead of reaching the directory
# underneath; stop whatever still uses it, then pf_drop_mount MNT.
pf_kill_daemon() {
	local pid=${PF_PIDS[$1]:-}
	[ -n "$pid" ] || fail "pf_kill_daemon: $1 not mounted by this test"
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
}

# pf_drop_mount MNT: unmounts the dead mount left by pf_kill_daemon.
pf_drop_mount() {
	fusermount3 -u "$1" 2>/dev/null || fusermount3 -uz "$1" 2>/dev/null ||
		umount -l "$1" || fail "cannot unmount dead $1"
	unset "PF_PIDS[$1]"
}

# pf_remount STORE MNT [OPTS]: unmount cleanly and mount again (cold cache).
pf_remount() {
	pf_umount "$2"
	pf_mount "$@"
}

pf_drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
}

# ---- test data --------------------------------------------------------------

# pf_gen KIND SIZE SEED FILE: deterministic data. KIND is text (compressible,
# prose-like lines), random, zeros, mixed (64K runs of those three), zipf
# (sentences over a made-up vocabulary with Zipf-distributed words, which the
# learned codec codes smaller than zstd), tokens (Zipf-distributed 16-bit
# token ids, little-endian: a token shard) or skewed (random bytes that zstd
# shrinks by about 8%, less than the default min_saving). SIZE accepts K/M
# suffixes.
pf_gen() {
	python3 - "$@" <<'EOF' || fail "pf_gen $*"
import array, itertools, random, sys
kind, size, seed, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
mult = {"K": 1 << 10, "M": 1 << 20}
size = int(size[:-1]) * mult[size[-1]] if size[-1] in mult else int(size)
rng = random.Random(seed)
WORDS = ("the of and to in is was for on that with as by at from his her an "
         "block file store cache codec index commit slot header container read "
         "write kernel inode mount daemon random offset length prior model zero "
         "compress stream buffer sector journal extent metadata").split()

def text(n):
    lines = []
    for _ in range(512):
        k = rng.randint(3, 14)
        lines.append(" ".join(rng.choice(WORDS) for _ in range(k)).capitalize()
                     + ". %d\n" % rng.randint(0, 99999))
    out, total = [], 0
    while total < n:
        line = lines[rng.randrange(len(lines))]
        out.append(line)
        total += len(line)
    return "".join(out).encode()[:n]

SKEW = [1.0 / (i + 1) ** 0.7 for i in range(256)]

def zipf(n):
    syl = "ka lo mi ne ru sa te vi do pa ri en al or is un th st ch qu".split()
    vocab = ["".join(rng.choice(syl) for _ in range(rng.choice((1, 2, 2, 3, 3, 4))))
             for _ in range(3000)]
    cum = list(itertools.accumulate(1.0 / (i + 1) for i in range(len(vocab))))
    out, total = [], 0
    while total < n:
        s = " ".join(rng.choices(vocab, cum_weights=cum, k=rng.randint(4, 18)))
        out.append(s.capitalize() + ".\n")
        total += len(out[-1])
    return "".join(out).encode()[:n]

def tokens(n):
    cum = list(itertools.accumulate(1.0 / (i + 1) for i in range(8000)))
    ids, prev = [], 1
    while len(ids) * 2 < n:
        prev = rng.choices(range(8000), cum_weights=cum)[0] if rng.random() < 0.7 else (prev * 7 + 1) % 8000
        ids.append(prev)
    return array.array("H", ids).tobytes()[:n]

def chunk(k, n):
    if k == "tokens":
        return tokens(n)
    if k == "text":
        return text(n)
    if k == "zipf":
        return zipf(n)
    if k == "random":
        return rng.randbytes(n)
    if k == "skewed":  # random bytes, Zipf-like: zstd saves about 8%
        return bytes(rng.choices(range(256), weights=SKEW, k=n))
    if k == "zeros":
        return bytes(n)
    raise SystemExit("unknown kind " + k)

with open(path, "wb") as f:
    left = size
    while left > 0:
        n = min(left, 65536 if kind == "mixed" else left if kind in ("zipf", "tokens") else 1 << 22)
        k = rng.choice(("text", "random", "zeros")) if kind == "mixed" else kind
        f.write(chunk(k, n))
        left -= n
EOF
}

# pf_gen_tree DIR SEED: a small tree with nested dirs, empty/small/large
# files of every kind, and symlinks (relative, absolute, dangling).
pf_gen_tree() {
	local d=$1 s=$2
	mkdir -p "$d/a/b/c" "$d/empty_dir" "$d/x y" || fail "mkdir tree"
	: >"$d/empty"
	: >"$d/a/b/c/empty2"
	pf_gen text 1 "$s" "$d/one_byte"
	pf_gen text 4095 "$((s + 1))" "$d/a/small.txt"
	pf_gen random 65536 "$((s + 2))" "$d/a/exact_block.bin"
	pf_gen text 65537 "$((s + 3))" "$d/a/b/block_plus_one.txt"
	pf_gen text 3M "$((s + 4))" "$d/a/b/large.txt"
	pf_gen random 1500K "$((s + 5))" "$d/a/b/c/large.bin"
	pf_gen zeros 700K "$s" "$d/x y/zeros"
	pf_gen mixed 2M "$((s + 6))" "$d/x y/mixed"
	ln -s a/small.txt "$d/link_rel"
	ln -s /etc/hostname "$d/a/link_abs"
	ln -s does/not/exist "$d/a/b/dangling"
	ln -s ../.. "$d/a/b/c/up"
	chmod 0600 "$d/a/small.txt"
	chmod 0755 "$d/a/b/large.txt"
	touch -d "2001-02-03 04:05:06" "$d/a/exact_block.bin"
}

# pf_compare_random SRC DST COUNT SEED: COUNT reads at odd offsets and
# lengths from DST (through a fresh open) must equal the same bytes of SRC.
pf_compare_random() {
	python3 - "$@" <<'EOF' || fail "random reads of $2 differ from $1"
import os, random, sys
src, dst, count, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
size = os.path.getsize(src)
if os.path.getsize(dst) != size:
    sys.exit("size %d != %d" % (os.path.getsize(dst), size))
with open(src, "rb") as a, open(dst, "rb") as b:
    for i in range(count):
        off = rng.randrange(0, size + 100)
        n = rng.choice((1, 3, 511, 4097, 65535, 65537, 200001, rng.randrange(1, 300000)))
        x, y = os.pread(a.fileno(), n, off), os.pread(b.fileno(), n, off)
        if x != y:
            sys.exit("read %d: off %d len %d differs (got %d bytes, want %d)"
                     % (i, off, n, len(y), len(x)))
EOF
}

# pf_size FILE: apparent size; pf_du FILE: allocated bytes.
pf_size() { stat -c %s "$1"; }
pf_du() { echo $(($(stat -c %b "$1") * $(stat -c %B "$1"))); }

# ---- priorctl helpers (t_cli.sh, t_learned.sh) ------------------------------

# pf_ctl WANT_STATUS CMD...: runs priorctl CMD with stdout/stderr in $OUT/$ERR
# (under $PF_WORK) and fails unless it exits WANT_STATUS.
pf_ctl() {
	local want=$1 rc
	shift
	OUT=${OUT:-$PF_WORK/out} ERR=${ERR:-$PF_WORK/err}
	"$PRIORCTL" "$@" >"$OUT" 2>"$ERR"
	rc=$?
	[ "$rc" -eq "$want" ] ||
		fail "priorctl $* exited $rc, want $want; out: $(head -c 800 "$OUT"); err: $(head -c 500 "$ERR")"
}

# has FILE REGEX: FILE has a line matching the extended regex.
has() {
	LC_ALL=C grep -Eq -- "$2" "$1" || fail "$(basename "$1") lacks /$2/: $(head -c 800 "$1")"
}

# pf_listing DIR: one sorted line per entry: path, type+mode, uid, gid, size
# (not for directories), mtime ns, nlink (not for directories: the store
# root has .priorfs too), symlink target, user.* xattrs.
pf_listing() {
	python3 - "$1" <<'PY' || fail "listing $1"
import os, stat, sys
root = sys.argv[1]
out = []
def line(p, rel):
    s = os.lstat(p)
    isdir = stat.S_ISDIR(s.st_mode)
    size, nlink = ("-", "-") if isdir else (s.st_size, s.st_nlink)
    link = os.readlink(p) if stat.S_ISLNK(s.st_mode) else ""
    xa = "" if stat.S_ISLNK(s.st_mode) else sorted(
        (k, os.getxattr(p, k)) for k in os.listxattr(p) if k.startswith("user."))
    return "%r %o %d %d %s %d %s %r %r" % (rel, s.st_mode, s.st_uid, s.st_gid,
                                           size, s.st_mtime_ns, nlink, link, xa)
for d, dirs, files in os.walk(root):
    for n in dirs + files:
        p = os.path.join(d, n)
        out.append(line(p, os.path.relpath(p, root)))
out.append(line(root, "."))
print("\n".join(sorted(out)))
PY
}

# pf_same_tree A B: same bytes, same entries with the same attributes.
pf_same_tree() {
	diff -r --no-dereference "$1" "$2" >"$PF_WORK/diff" 2>&1 ||
		fail "diff -r $1 $2: $(head -c 800 "$PF_WORK/diff")"
	pf_listing "$1" >"$PF_WORK/list.a"
	pf_listing "$2" >"$PF_WORK/list.b"
	diff "$PF_WORK/list.a" "$PF_WORK/list.b" >"$PF_WORK/diff" ||
		fail "attributes differ ($1 <, $2 >): $(head -c 1500 "$PF_WORK/diff")"
}

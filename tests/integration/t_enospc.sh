#!/bin/bash
# SPDX-License-Identifier: MIT
# t_enospc.sh - a full backing filesystem: writes fail with ENOSPC, files closed earlier stay intact, an overwrite that cannot commit leaves the old contents, and the mount works again once space is freed.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup
[ -x "$PRIORCTL" ] || fail "no priorctl at $PRIORCTL"

# The store lives on a 32 MiB tmpfs, mounted here and unmounted on exit after
# the daemon is gone (pf_cleanup then sees the status the test exited with).
SMALL=$PF_WORK/small STORE=$PF_WORK/small/store MNT=$PF_WORK/mnt SRC=$PF_WORK/src
enospc_cleanup() {
	local rc=$? mnt
	for mnt in "${!PF_PIDS[@]}"; do
		pf_force_umount "$mnt"
	done
	mountpoint -q "$SMALL" && umount "$SMALL"
	(exit "$rc")
	pf_cleanup
}
trap enospc_cleanup EXIT
mkdir -p "$SMALL" "$SRC"
mount -t tmpfs -o size=32m,mode=0755 pf-enospc "$SMALL" || fail "cannot mount a tmpfs"

# dirty_limit=1M: written data is encoded (and needs disk) as it arrives,
# so ENOSPC is seen by write() itself, not only at fsync or close.
OPTS=block_size=64K,dirty_limit=1M
pf_init_store "$STORE"
pf_mount "$STORE" "$MNT" "$OPTS"

check "files written and closed before the disk fills"
pf_gen random 6M 71 "$SRC/keep.bin"     # raw blocks: 6M of the 32M
pf_gen text 3M 72 "$SRC/keep.txt"       # zstd blocks
pf_gen random 4M 73 "$SRC/old.bin"      # overwritten while the disk is full
pf_gen random 4M 74 "$SRC/new.bin"
for f in keep.bin keep.txt old.bin; do
	cp "$SRC/$f" "$MNT/$f" || fail "cp $f"
done
sync -f "$MNT/keep.bin" || fail "syncfs"

# fill PATH: writes random data in 1 MiB pieces until a call fails; the
# failure must be ENOSPC, from write() or fsync() (the test says which one
# it saw). Prints the bytes written before it.
fill() {
	python3 - "$1" <<'EOF'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
piece, done, where = os.urandom(1 << 20), 0, None
try:
    while done < (256 << 20):
        os.write(fd, piece)
        done += len(piece)
    where = "nothing"
except OSError as e:
    where = ("write", e)
if where == "nothing":
    try:
        os.fsync(fd)
    except OSError as e:
        where = ("fsync", e)
try:
    os.close(fd)
except OSError:
    pass  # a close after a failed write may fail again; the file is abandoned
if where == "nothing":
    sys.exit("wrote %d bytes to a 32 MiB file system without an error" % done)
call, e = where
if e.errno != errno.ENOSPC:
    sys.exit("%s failed with %s, want ENOSPC" % (call, errno.errorcode.get(e.errno)))
print("%s: ENOSPC after %d MiB" % (call, done >> 20))
EOF
}

# fill_committed PATH: writes random data in 64 KiB pieces, each fsynced
# (committed), until a write or fsync fails with ENOSPC: the file keeps what
# was committed, so the disk stays full after it is closed.
fill_committed() {
	python3 - "$1" <<'EOF'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
done = 0
try:
    while done < (256 << 20):
        os.write(fd, os.urandom(64 << 10))
        os.fsync(fd)
        done += 64 << 10
except OSError as e:
    if e.errno != errno.ENOSPC:
        sys.exit("filling failed with %s, want ENOSPC" % errno.errorcode.get(e.errno))
else:
    sys.exit("wrote %d bytes to a 32 MiB file system without an error" % done)
try:
    os.close(fd)
except OSError:
    pass
print("ENOSPC after %d KiB committed" % (done >> 10))
EOF
}

# free_kib: free space on the small file system.
free_kib() {
	df -k --output=avail "$SMALL" | tail -1 | tr -d ' '
}

check "writing until the disk is full fails with ENOSPC on write()"
WHERE=$(fill "$MNT/fill.bin") || fail "fill: $WHERE"
echo "  $WHERE"
case $WHERE in write:*) ;; *) fail "ENOSPC came from $WHERE, want write" ;; esac
df -k "$SMALL" | tail -1

check "the file whose commit failed gives back the space of its uncommitted blocks once closed"
# Its handle's release reaches the daemon after close() returns.
for ((i = 0; i < 40; i++)); do
	[ "$(pf_du "$STORE/fill.bin")" -le 1048576 ] && break
	sleep 0.25
done
[ "$(pf_du "$STORE/fill.bin")" -le 1048576 ] ||
	fail "fill.bin, $(pf_size "$MNT/fill.bin") bytes, still takes $(pf_du "$STORE/fill.bin") on disk"
[ "$(free_kib)" -gt 8192 ] || fail "only $(free_kib) KiB free after fill.bin was abandoned"
WHERE=$(fill_committed "$MNT/fill2.bin") || fail "fill2: $WHERE"
echo "  $WHERE"
[ "$(free_kib)" -lt 512 ] || fail "$(free_kib) KiB still free after fill2.bin"

check "a new file smaller than dirty_limit gets ENOSPC from close(), and stays empty"
python3 - "$MNT/late.bin" <<'EOF' || fail "late.bin"
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
os.write(fd, os.urandom(512 << 10))  # held in memory: must not fail yet
try:
    os.close(fd)
except OSError as e:
    if e.errno != errno.ENOSPC:
        sys.exit("close failed with %s, want ENOSPC" % errno.errorcode.get(e.errno))
else:
    sys.exit("close of an uncommittable file succeeded")
EOF
[ "$(pf_size "$MNT/late.bin")" = 0 ] || fail "late.bin has $(pf_size "$MNT/late.bin") bytes, want 0 (its first commit failed)"

check "files closed before the disk filled read back intact (cold cache)"
pf_drop_caches
for f in keep.bin keep.txt old.bin; do
	cmp "$MNT/$f" "$SRC/$f" || fail "$f differs after ENOSPC"
done

check "an overwrite that cannot commit fails with ENOSPC and leaves the old contents"
python3 - "$MNT/old.bin" "$SRC/new.bin" <<'EOF' || fail "overwrite on a full disk"
import errno, os, sys
path, new = sys.argv[1], open(sys.argv[2], "rb").read()
fd = os.open(path, os.O_WRONLY)
err = None
try:
    os.pwrite(fd, new, 0)
    os.fsync(fd)
except OSError as e:
    err = e
try:
    os.close(fd)
except OSError as e:
    err = err or e
if err is None:
    sys.exit("overwriting 4 MiB on a full disk succeeded")
if err.errno != errno.ENOSPC:
    sys.exit("overwrite failed with %s, want ENOSPC" % errno.errorcode.get(err.errno))
EOF
pf_drop_caches
cmp "$MNT/old.bin" "$SRC/old.bin" || fail "old.bin is not its last committed contents"

check "after rm frees space, new writes and the overwrite succeed"
rm "$MNT/fill.bin" "$MNT/fill2.bin" || fail "rm fill.bin fill2.bin"
cp "$SRC/new.bin" "$MNT/new.bin" || fail "cp new.bin after freeing space"
dd if="$SRC/new.bin" of="$MNT/old.bin" bs=1M conv=notrunc,fsync 2>/dev/null ||
	fail "overwrite old.bin after freeing space"
cp "$SRC/new.bin" "$SRC/old.bin"
pf_drop_caches
for f in keep.bin keep.txt old.bin new.bin; do
	cmp "$MNT/$f" "$SRC/$f" || fail "$f differs after freeing space"
done

check "after a remount every file is intact and fsck is clean"
pf_remount "$STORE" "$MNT" "$OPTS"
for f in keep.bin keep.txt old.bin new.bin; do
	cmp "$MNT/$f" "$SRC/$f" || fail "$f differs after remount"
done
[ "$(pf_size "$MNT/late.bin")" = 0 ] || fail "late.bin has $(pf_size "$MNT/late.bin") bytes after remount"
[ "$(ls "$MNT" | sort | tr '\n' ' ')" = "keep.bin keep.txt late.bin new.bin old.bin " ] ||
	fail "files after remount: $(ls "$MNT")"
pf_umount "$MNT"
pf_ctl 0 fsck "$STORE"
has "$OUT" '^priorctl: fsck: 5 files, .* 0 faults$'

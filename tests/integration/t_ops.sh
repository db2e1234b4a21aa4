#!/bin/bash
# SPDX-License-Identifier: MIT
# t_ops.sh - every filesystem operation through the mount, checked against its effect.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup

STORE=$PF_WORK/store MNT=$PF_WORK/mnt REF=$PF_WORK/ref
mkdir -p "$REF"
pf_init_store "$STORE"
pf_mount "$STORE" "$MNT" block_size=64K
cd "$MNT" || fail "cd $MNT"

# renameat2 OLD NEW FLAG: FLAG is noreplace or exchange; prints the errno name
# (or OK) so the caller can check refusals as well.
renameat2() {
	python3 - "$@" <<'EOF'
import ctypes, errno, os, sys
flags = {"noreplace": 1, "exchange": 2}[sys.argv[3]]
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
r = libc.renameat2(AT_FDCWD, sys.argv[1].encode(), AT_FDCWD, sys.argv[2].encode(), flags)
print("OK" if r == 0 else errno.errorcode[ctypes.get_errno()])
EOF
}

check "mkdir / rmdir (and rmdir of a non-empty dir fails)"
mkdir -p d1/d2/d3 || fail "mkdir -p"
[ -d d1/d2/d3 ] || fail "d1/d2/d3 is not a dir"
[ "$(stat -c %h d1)" -ge 3 ] || fail "link count of a dir with a subdir"
! rmdir d1/d2 2>/dev/null || fail "rmdir of a non-empty dir succeeded"
rmdir d1/d2/d3 || fail "rmdir"
[ ! -e d1/d2/d3 ] || fail "rmdir left d1/d2/d3"

check "create, unlink"
echo hello >f1 || fail "create f1"
[ "$(cat f1)" = hello ] || fail "read f1"
rm f1 || fail "unlink"
[ ! -e f1 ] || fail "f1 exists after unlink"
[ ! -e "$STORE/f1" ] || fail "backing f1 exists after unlink"

check "an unlinked open file stays readable"
pf_gen text 200K 3 "$REF/open_unlinked"
cp "$REF/open_unlinked" ou || fail "cp ou"
exec 7<ou
rm ou
cmp - "$REF/open_unlinked" <&7 || fail "reading an unlinked open file"
exec 7<&-

check "rename: plain, over an existing file, a directory"
echo one >r1 && echo two >r2
mv r1 r3 || fail "rename r1 r3"
[ ! -e r1 ] && [ "$(cat r3)" = one ] || fail "rename r1 -> r3"
mv -f r3 r2 || fail "rename over r2"
[ "$(cat r2)" = one ] || fail "rename over an existing file"
mv d1 d1moved || fail "rename dir"
[ -d d1moved/d2 ] || fail "renamed dir lost its contents"

check "renameat2 RENAME_NOREPLACE"
echo a >na && echo b >nb
[ "$(renameat2 na nb noreplace)" = EEXIST ] || fail "RENAME_NOREPLACE onto an existing name"
[ "$(cat na)$(cat nb)" = ab ] || fail "failed NOREPLACE changed files"
[ "$(renameat2 na nc noreplace)" = OK ] || fail "RENAME_NOREPLACE to a new name"
[ "$(cat nc)" = a ] && [ ! -e na ] || fail "NOREPLACE result"

check "renameat2 RENAME_EXCHANGE"
pf_gen text 100K 4 "$REF/x1" && pf_gen random 70K 5 "$REF/x2"
cp "$REF/x1" x1 && cp "$REF/x2" x2 || fail "cp x1 x2"
[ "$(renameat2 x1 x2 exchange)" = OK ] || fail "RENAME_EXCHANGE"
cmp x1 "$REF/x2" && cmp x2 "$REF/x1" || fail "RENAME_EXCHANGE did not swap contents"
[ "$(pf_size x1)" = "$(pf_size "$REF/x2")" ] || fail "sizes after exchange"
mkdir xd
[ "$(renameat2 xd x1 exchange)" = OK ] || fail "RENAME_EXCHANGE of dir and file"
[ -d x1 ] && [ -f xd ] || fail "dir/file exchange"

check "hard link: link count, shared contents"
echo first >l1
ln l1 l2 || fail "link"
[ "$(stat -c %h l1)" = 2 ] || fail "link count $(stat -c %h l1) != 2"
[ "$(stat -c %i l1)" = "$(stat -c %i l2)" ] || fail "links have different inodes"
echo second >>l2
[ "$(cat l1)" = "$(printf 'first\nsecond')" ] || fail "write through one link not seen by the other"
rm l1
[ "$(stat -c %h l2)" = 1 ] || fail "link count after unlink"

check "symlink / readlink"
ln -s target/of/link s1 || fail "symlink"
[ "$(readlink s1)" = target/of/link ] || fail "readlink"
[ -L s1 ] || fail "s1 is not a symlink"
[ "$(readlink "$STORE/s1")" = target/of/link ] || fail "backing symlink"

check "chmod, chown, touch -d; times kept through close and remount"
pf_gen text 150K 6 meta || fail "gen meta"
chmod 0640 meta && chown 1234:2345 meta || fail "chmod/chown"
touch -d "2003-04-05 06:07:08.123456789" meta || fail "touch -d"
touch -a -d "2002-01-01 00:00:01" meta || fail "touch -a"
want="640 1234 2345 $(date -d '2003-04-05 06:07:08' +%s) $(date -d '2002-01-01 00:00:01' +%s)"
got=$(stat -c '%a %u %g %Y %X' meta)
[ "$got" = "$want" ] || fail "metadata '$got' != '$want'"
[ "$(stat -c %y meta)" = "$(stat -c %y "$STORE/meta")" ] || fail "mtime differs from the backing file"
sleep 1.1  # a late commit (on release) would show as a changed mtime
got=$(stat -c '%a %u %g %Y %X' meta)
[ "$got" = "$want" ] || fail "metadata changed after close: '$got' != '$want'"
cd / && pf_remount "$STORE" "$MNT" block_size=64K && cd "$MNT" || fail "remount"
got=$(stat -c '%a %u %g %Y %X' meta)
[ "$got" = "$want" ] || fail "metadata after remount '$got' != '$want'"
[ "$(stat -c %y meta)" = "2003-04-05 06:07:08.123456789 $(date -d '2003-04-05' +%z)" ] ||
	fail "nanoseconds lost: $(stat -c %y meta)"
cmp meta <(pf_gen text 150K 6 /dev/stdout) || fail "meta contents"

check "backing entries carry mode, owner and times"
for f in meta x2 l2 s1 d1moved; do
	[ "$(stat -c '%f %u %g %Y %h' "$f")" = "$(stat -c '%f %u %g %Y %h' "$STORE/$f")" ] ||
		fail "$f: mount '$(stat -c '%f %u %g %Y %h' "$f")' store '$(stat -c '%f %u %g %Y %h' "$STORE/$f")'"
done

check "mknod / mkfifo"
mknod cdev c 1 3 || fail "mknod"
[ "$(stat -c '%F %t %T' cdev)" = "character special file 1 3" ] || fail "mknod: $(stat -c '%F %t %T' cdev)"
mkfifo fifo || fail "mkfifo"
[ -p fifo ] || fail "fifo is not a fifo"
[ -p "$STORE/fifo" ] || fail "backing fifo"

check "truncate grow and shrink (against a reference file)"
pf_gen text 300K 7 "$REF/t" && cp "$REF/t" t || fail "cp t"
for sz in 1000000 65536 65535 200001 0 7 131072; do
	truncate -s $sz t && truncate -s $sz "$REF/t" || fail "truncate -s $sz"
	[ "$(pf_size t)" = $sz ] || fail "size after truncate -s $sz: $(pf_size t)"
	cmp t "$REF/t" || fail "contents after truncate -s $sz"
	printf 'tail%d' $sz >>t && printf 'tail%d' $sz >>"$REF/t"
done
cmp t "$REF/t" || fail "contents after truncates and appends"

check "fallocate -l (mode 0): grows with zeros, keeps data"
fallocate -l 1M fa || fail "fallocate new file"
[ "$(pf_size fa)" = 1048576 ] || fail "fallocated size"
cmp fa <(head -c 1M /dev/zero) || fail "fallocated file is not zeros"
pf_gen text 100K 8 "$REF/fb" && cp "$REF/fb" fb
fallocate -o 50000 -l 300000 fb && fallocate -o 50000 -l 300000 "$REF/fb" || fail "fallocate -o"
cmp fb "$REF/fb" || fail "fallocate over data"

check "user xattrs: set, get, list, remove"
setfattr -n user.color -v blue meta || fail "setfattr"
setfattr -n user.bin -v 0x00ff00 meta || fail "setfattr binary"
[ "$(getfattr --only-values -n user.color meta)" = blue ] || fail "getfattr"
getfattr -d meta | grep -q '^user.bin=0sAP8A$' || fail "listxattr/getfattr -d: $(getfattr -d -e base64 meta)"
[ "$(getfattr --absolute-names --only-values -n user.color "$STORE/meta")" = blue ] || fail "xattr not on the backing file"
setfattr -x user.color meta || fail "removexattr"
! getfattr -n user.color meta 2>/dev/null || fail "removed xattr still there"
mkdir xa && setfattr -n user.d -v 1 xa && [ "$(getfattr --only-values -n user.d xa)" = 1 ] ||
	fail "xattr on a directory"

check "statfs (df)"
df -P "$MNT" | tail -1 | awk '$2 > 0 && $4 > 0 { ok = 1 } END { exit !ok }' || fail "df: $(df -P "$MNT")"
[ "$(stat -f -c %S .)" -gt 0 ] || fail "statfs block size"

check "access"
python3 -c 'import os, sys
assert os.access("meta", os.R_OK | os.W_OK)
assert os.access("d1moved", os.X_OK)
assert not os.access("nonexistent", os.F_OK)' || fail "access()"

check "the hidden .priorfs: not listed, not reachable, not creatable"
ls -a . >"$PF_WORK/root_list" || fail "ls -a of the root"
! grep -qx .priorfs "$PF_WORK/root_list" || fail ".priorfs listed in the root"
! stat .priorfs >/dev/null 2>&1 || fail "stat .priorfs succeeded"
! stat .priorfs/config >/dev/null 2>&1 || fail "stat .priorfs/config succeeded"
! mkdir .priorfs 2>/dev/null || fail "mkdir .priorfs succeeded"
! touch .priorfs 2>/dev/null || fail "creating file .priorfs succeeded"
! mv meta .priorfs 2>/dev/null || fail "rename onto .priorfs succeeded"
! ln -s x .priorfs 2>/dev/null || fail "symlink .priorfs succeeded"
[ -f meta ] || fail "meta gone after refused rename"
grep -q '^format=1' "$STORE/.priorfs/config" || fail "store config damaged"
mkdir -p sub/.priorfs && echo ok >sub/.priorfs/f || fail ".priorfs below the root must be ordinary"
[ "$(cat sub/.priorfs/f)" = ok ] || fail "sub/.priorfs/f"

check "a 2000-entry root lists every entry once, still without .priorfs"
python3 - <<'EOF2' || fail "large directory listing"
import os
names = {"many_entries_with_long_names_to_fill_reply_buffers_%04d" % i for i in range(2000)}
for n in names:
    open(n, "w").close()
seen = [e.name for e in os.scandir(".")]
assert len(seen) == len(set(seen)), "duplicate entries"
assert names <= set(seen), "%d entries missing" % len(names - set(seen))
assert ".priorfs" not in seen, ".priorfs listed"
for n in names:
    os.unlink(n)
EOF2

check "append (>>)"
: >ap && : >"$REF/ap"
for i in $(seq 1 40); do
	pf_gen text $((i * 1237)) $i "$PF_WORK/chunk"
	cat "$PF_WORK/chunk" >>ap && cat "$PF_WORK/chunk" >>"$REF/ap"
done
cmp ap "$REF/ap" || fail "appended file"

check "sparse file (dd seek): reads zeros, takes little space"
dd if=/dev/urandom of=sp bs=4096 count=1 seek=16384 2>/dev/null || fail "dd seek"
[ "$(pf_size sp)" = $((16385 * 4096)) ] || fail "sparse size $(pf_size sp)"
cmp -n $((16384 * 4096)) sp /dev/zero || fail "hole does not read as zeros"
[ "$(pf_du sp)" -lt $((1 << 20)) ] || fail "sparse 64M file takes $(pf_du sp) bytes"
[ "$(pf_du "$STORE/sp")" -lt $((1 << 20)) ] || fail "sparse backing file takes $(pf_du "$STORE/sp")"

check "a write past 4 GiB (64-bit offsets) into a sparse file"
far=$((5 * 1024 * 1024 * 1024 + 12345))
printf 'far-away' | dd of=far bs=1 seek=$far 2>/dev/null || fail "dd seek=$far"
[ "$(pf_size far)" = $((far + 8)) ] || fail "size $(pf_size far), want $((far + 8))"
[ "$(tail -c 8 far)" = far-away ] || fail "bytes past 4 GiB: '$(tail -c 8 far | od -c)'"
cmp -n 200000 <(tail -c 200008 far) /dev/zero || fail "hole before the bytes past 4 GiB"

check "rewriting a file 10 times keeps the container under ~2x"
pf_gen random 1M 11 "$REF/rw"
cp "$REF/rw" rw
one=$(pf_size "$STORE/rw") max=0 maxdu=0
for i in $(seq 1 10); do
	pf_gen random 1M $((11 + i)) "$REF/rw"
	if [ $((i % 2)) = 0 ]; then
		cp "$REF/rw" rw
	else
		dd if="$REF/rw" of=rw bs=64K conv=notrunc 2>/dev/null
	fi || fail "rewrite $i"
	now=$(pf_size "$STORE/rw") du=$(pf_du "$STORE/rw")
	[ "$now" -gt "$max" ] && max=$now
	[ "$du" -gt "$maxdu" ] && maxdu=$du
done
cmp rw "$REF/rw" || fail "rewritten contents"
echo "  container after 1 write: $one bytes; largest after a rewrite: $max (du $maxdu)"
[ "$max" -le $((one * 22 / 10 + 65536)) ] || fail "container grew to $max (one version: $one)"
[ "$maxdu" -le $((one * 22 / 10 + 65536)) ] || fail "container allocated $maxdu"

check "everything survives a remount"
cd / && pf_remount "$STORE" "$MNT" && cd "$MNT" || fail "remount"
for f in t ap fb rw; do cmp "$f" "$REF/$f" || fail "$f after remount"; done
[ "$(tail -c 8 far)" = far-away ] || fail "bytes past 4 GiB after remount"
[ "$(stat -c %h l2)" = 1 ] && [ -p fifo ] && [ "$(readlink s1)" = target/of/link ] || fail "special files after remount"
cd /
pf_umount "$MNT"

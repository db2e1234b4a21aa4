#!/bin/bash
# SPDX-License-Identifier: MIT
# t_posix.sh - posix_conf's call sequence on a plain dir and on the mount must print the same lines.
#
# The reference is a plain directory on the filesystem that holds the store,
# so link counts and the like come from the same kind of filesystem. The
# sequence runs on two mounts: default options, and attr_timeout=0 with
# default_permissions, where the kernel asks the daemon for every attribute
# and checks permissions itself. After a remount the tree left behind must
# still match the reference: types, modes, owners, link counts, sizes,
# symlink targets and contents.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup

POSIX_CONF=${POSIX_CONF:-$top_builddir/tests/integration/posix_conf}
if [ ! -x "$POSIX_CONF" ]; then # run by hand without `make check`
	POSIX_CONF=$PF_WORK/posix_conf
	cc -std=gnu11 -D_GNU_SOURCE -O2 -o "$POSIX_CONF" "$top_srcdir/tests/integration/posix_conf.c" ||
		fail "cannot build posix_conf"
fi
STORE=$PF_WORK/store MNT=$PF_WORK/mnt REF=$PF_WORK/ref
mkdir -p "$REF"
pf_init_store "$STORE"

# conf DIR OUT: runs the sequence in DIR/pc.
conf() {
	"$POSIX_CONF" "$1" >"$2" 2>&1 || fail "posix_conf in $1 exited $?: $(tail -n 3 "$2")"
}

# tree DIR: one line per entry of DIR/pc, with what a remount must keep.
tree() {
	(cd "$1/pc" && find . -printf '%p %y %m %n %U %G %l\n' | LC_ALL=C sort &&
		find . -type f -exec md5sum {} + | LC_ALL=C sort) || fail "listing $1"
}

check "the reference run shows the behaviour the checks are about"
conf "$REF" "$PF_WORK/ref.out"
for want in 'rename("db", "dc") = -1 ENOTEMPTY' 'rename("r1", "dc") = -1 EISDIR' \
	'rename("dc", "r1") = -1 ENOTDIR' 'rename("dc", "dc/sub/inside") = -1 EINVAL' \
	'open("f", O_CREAT | O_EXCL | O_WRONLY, 0644) = -1 EEXIST' \
	'fstat l1 with 3 names: reg 0644 nlink=3 size=6 uid=0 gid=0' \
	'times tm after write: mtime later, ctime later' \
	'times tm after read: mtime same, ctime same' \
	'times tm after chmod: mtime same, ctime later'; do
	grep -Fq -- "$want" "$PF_WORK/ref.out" || fail "reference run lacks '$want'"
done
[ "$(wc -l <"$PF_WORK/ref.out")" -gt 250 ] || fail "reference run stopped early"

check "the same calls on the mount print the same results"
pf_mount "$STORE" "$MNT"
mkdir -p "$MNT/run1" && conf "$MNT/run1" "$PF_WORK/mnt1.out"
diff -u "$PF_WORK/ref.out" "$PF_WORK/mnt1.out" || fail "mount differs from the plain dir (- plain, + mount)"

check "again with attr_timeout=0,default_permissions"
pf_remount "$STORE" "$MNT" attr_timeout=0,default_permissions
mkdir -p "$MNT/run2" && conf "$MNT/run2" "$PF_WORK/mnt2.out"
diff -u "$PF_WORK/ref.out" "$PF_WORK/mnt2.out" ||
	fail "mount (attr_timeout=0) differs from the plain dir (- plain, + mount)"

check "the tree left behind is the reference's after a remount"
pf_remount "$STORE" "$MNT"
tree "$REF" >"$PF_WORK/ref.tree"
for run in run1 run2; do
	tree "$MNT/$run" >"$PF_WORK/$run.tree"
	diff -u "$PF_WORK/ref.tree" "$PF_WORK/$run.tree" || fail "$run differs after remount (- plain, + mount)"
done
pf_umount "$MNT"

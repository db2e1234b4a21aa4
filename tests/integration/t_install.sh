#!/bin/bash
# SPDX-License-Identifier: MIT
# t_install.sh - make install into a scratch prefix, then use what it installed: files in place, pkg-config and programs linked to libprior (contrib/examples/prior_roundtrip.c codes a file with a learned model), mount -t fuse.priorfs (mount.fuse3), mount -t priorfs (the mount.priorfs helper), fstab lines (mount -T), umount, make uninstall.
#
# mount(8) runs helpers with its own PATH and without LD_LIBRARY_PATH, and
# looks for mount.TYPE only in /sbin. So the test links /sbin/mount.priorfs
# to the installed helper and, for type fuse.priorfs, /usr/local/bin/priorfs
# to the installed daemon, removing both links at exit; it skips those checks
# rather than touch a file already there, and never edits /etc/fstab (mount
# -T reads a file of ours). libtool relinks the programs at install for the
# libdir configure chose, not the one `make install prefix=` sets, so the
# installed priorfs is wrapped in a script that points the loader at
# $INST/lib (the wrapper is undone before make uninstall).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup
command -v mount.fuse3 >/dev/null || [ -x /sbin/mount.fuse3 ] || skip "no mount.fuse3 (package fuse3)"
[ -f "$top_builddir/Makefile" ] || skip "no Makefile in $top_builddir"

INST=$PF_WORK/inst STORE=$PF_WORK/store MNT=$PF_WORK/mnt MNT2=$PF_WORK/mnt2
HELPER_LINK=/sbin/mount.priorfs DAEMON_LINK=/usr/local/bin/priorfs
LINKS=()

t_cleanup() {
	local rc=$? l
	for l in "${LINKS[@]}"; do
		rm -f "$l"
	done
	(exit "$rc")
	pf_cleanup
}

# link_in TARGET LINK: makes LINK (absent so far) a symlink to TARGET until
# the test ends; 1 when LINK already exists.
link_in() {
	[ -e "$2" ] || [ -L "$2" ] && return 1
	ln -s "$1" "$2" || fail "ln -s $1 $2"
	LINKS+=("$2")
}
trap t_cleanup EXIT

# daemon_of MNT: pid of the installed priorfs serving MNT, or fails.
daemon_of() {
	python3 - "$INST/bin/priorfs" "$1" <<'EOF' || fail "no installed priorfs serves $1"
import os, sys
exe, mnt = sys.argv[1] + ".bin", sys.argv[2]
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        args = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
        if mnt.encode() in args and os.readlink("/proc/%s/exe" % pid) == exe:
            print(pid)
            sys.exit(0)
    except OSError:
        pass
sys.exit(1)
EOF
}

# mounted MNT TYPE: MNT is in the mount table as TYPE, served by $INST's
# priorfs; registers it for cleanup and sets PID.
mounted() {
	grep -q "^[^ ]* $1 $2 " /proc/mounts || fail "$1 not mounted as $2: $(grep " $1 " /proc/mounts)"
	PF_PIDS[$1]=
	PID=$(daemon_of "$1")
}

# unmount MNT: umount(8), then the daemon must exit (it commits on the way).
unmount() {
	umount "$1" || fail "umount $1"
	pf_wait_pid "$PID" 15 || fail "daemon $PID still running after umount $1"
	unset "PF_PIDS[$1]"
}

check "make install prefix=$INST puts every file in place"
(unset MAKEFLAGS MFLAGS MAKELEVEL; make -C "$top_builddir" install prefix="$INST") \
	>"$PF_WORK/install.log" 2>&1 || fail "make install: $(tail -n 20 "$PF_WORK/install.log")"
for f in bin/priorfs bin/priorctl sbin/mount.priorfs; do
	[ -x "$INST/$f" ] || fail "$f not installed (or not executable)"
done
for f in include/prior.h lib/pkgconfig/libprior.pc share/man/man8/priorfs.8 \
	share/man/man1/priorctl.1 share/man/man5/priorfs.5; do
	[ -s "$INST/$f" ] || fail "$f not installed"
done
ls "$INST"/lib/libprior.so.* >/dev/null 2>&1 || fail "no libprior.so.* in $INST/lib"
export LD_LIBRARY_PATH=$INST/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
grep -q "^PATH=\"$INST/bin:" "$INST/sbin/mount.priorfs" ||
	fail "mount.priorfs does not put $INST/bin first: $(grep PATH= "$INST/sbin/mount.priorfs")"
"$INST/bin/priorfs" --version >"$PF_WORK/version" || fail "installed priorfs --version"
has "$PF_WORK/version" "^priorfs [0-9]+\.[0-9]+"
has "$PF_WORK/version" "^libfuse 3\."

check "pkg-config finds libprior; a program built with it links and runs"
cat >"$PF_WORK/use.c" <<'EOF'
#include <stdio.h>
#include <prior.h>
int main(void)
{
	return puts(prior_version_string()) < 0 || prior_version_number() != PRIOR_VERSION_NUMBER;
}
EOF
PCFLAGS=$(PKG_CONFIG_PATH=$INST/lib/pkgconfig pkg-config --define-variable=prefix="$INST" \
	--cflags --libs libprior) || fail "pkg-config libprior"
# A sanitizer build's libprior needs the ASan runtime loaded before it, so
# its clients must link that runtime themselves.
case $(ldd "$INST/lib/libprior.so") in *libasan*) PCFLAGS="-fsanitize=address $PCFLAGS" ;; esac
gcc -o "$PF_WORK/use" "$PF_WORK/use.c" $PCFLAGS -Wl,-rpath,"$INST/lib" ||
	fail "build against the installed libprior ($PCFLAGS)"
ldd "$PF_WORK/use" >"$PF_WORK/ldd" 2>&1
grep -q "libprior.so.* => $INST/lib/" "$PF_WORK/ldd" ||
	fail "not linked to $INST/lib/libprior: $(cat "$PF_WORK/ldd")"
"$PF_WORK/use" >"$PF_WORK/libversion" ||
	fail "installed libprior $(cat "$PF_WORK/libversion") is not the installed prior.h's version"
[ "$(cat "$PF_WORK/libversion")" = "$(sed -n '1s/^priorfs //p' "$PF_WORK/version")" ] ||
	fail "libprior says version '$(cat "$PF_WORK/libversion")', priorfs --version '$(head -n 1 "$PF_WORK/version")'"

check "the libprior example trains a model, codes a file with it and decodes it back"
gcc -o "$PF_WORK/roundtrip" "$top_srcdir/contrib/examples/prior_roundtrip.c" $PCFLAGS \
	-Wl,-rpath,"$INST/lib" || fail "build contrib/examples/prior_roundtrip.c ($PCFLAGS)"
pf_gen text 300K 3 "$PF_WORK/sample"
pf_gen text 200K 4 "$PF_WORK/plain"
"$PF_WORK/roundtrip" -t "$PF_WORK/sample" "$PF_WORK/model" "$PF_WORK/plain" \
	>"$PF_WORK/roundtrip.out" 2>&1 || fail "prior_roundtrip: $(cat "$PF_WORK/roundtrip.out")"
has "$PF_WORK/roundtrip.out" "^204800 bytes -> [0-9]+: [1-9][0-9]* learned, "

"$INST/bin/priorctl" init "$STORE" >/dev/null || fail "installed priorctl init"
mkdir -p "$MNT" "$MNT2"
mv "$INST/bin/priorfs" "$INST/bin/priorfs.bin" || fail "mv priorfs"
printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$INST/lib" "$INST/bin/priorfs.bin" \
	>"$INST/bin/priorfs" && chmod 755 "$INST/bin/priorfs" || fail "wrap priorfs"
pf_gen text 300K 1 "$PF_WORK/a"
pf_gen random 200K 2 "$PF_WORK/b"
cat >"$PF_WORK/fstab" <<EOF
# test fstab
$STORE $MNT priorfs ro,noauto,nofail,threads=3,x-test.note=1 0 0
$STORE $MNT2 fuse.priorfs defaults,noauto,readahead=1M 0 0
EOF

if link_in "$INST/sbin/mount.priorfs" "$HELPER_LINK"; then
	check "mount -t priorfs: the helper starts the priorfs installed with it"
	mount -t priorfs -o block_size=64K,cache_size=32M "$STORE" "$MNT" || fail "mount -t priorfs"
	mounted "$MNT" fuse.priorfs
	cp "$PF_WORK/a" "$MNT/a" && cmp "$PF_WORK/a" "$MNT/a" || fail "write/read through $MNT"
	unmount "$MNT"

	check "an fstab line of type priorfs (mount -T), options passed on"
	mount -T "$PF_WORK/fstab" "$MNT" || fail "mount -T fstab $MNT (type priorfs)"
	mounted "$MNT" fuse.priorfs
	grep -q "^[^ ]* $MNT fuse.priorfs ro," /proc/mounts || fail "$MNT not read-only"
	cmp "$PF_WORK/a" "$MNT/a" || fail "$MNT/a differs after a remount"
	! touch "$MNT/c" 2>/dev/null || fail "ro did not reach the daemon"
	unmount "$MNT"
else
	echo "note: $HELPER_LINK exists; not replacing it, mount -t priorfs not tested"
fi

if link_in "$INST/bin/priorfs" "$DAEMON_LINK"; then
	check "mount -t fuse.priorfs and its fstab line: mount.fuse3 finds priorfs on PATH"
	mount -t fuse.priorfs -o cache_size=32M "$STORE" "$MNT" || fail "mount -t fuse.priorfs"
	mounted "$MNT" fuse.priorfs
	cp "$PF_WORK/b" "$MNT/b" && cmp "$PF_WORK/b" "$MNT/b" || fail "write/read through $MNT"
	unmount "$MNT"
	mount -T "$PF_WORK/fstab" "$MNT2" || fail "mount -T fstab $MNT2 (type fuse.priorfs)"
	mounted "$MNT2" fuse.priorfs
	cmp "$PF_WORK/b" "$MNT2/b" || fail "$MNT2/b differs after a remount"
	[ ! -e "$MNT2/a" ] || cmp "$PF_WORK/a" "$MNT2/a" || fail "$MNT2/a differs"
	unmount "$MNT2"
else
	echo "note: $DAEMON_LINK exists; not replacing it, mount -t fuse.priorfs not tested"
fi
[ "${#LINKS[@]}" -gt 0 ] || skip "both $HELPER_LINK and $DAEMON_LINK exist: nothing mounted"
mv "$INST/bin/priorfs.bin" "$INST/bin/priorfs" || fail "unwrap priorfs"

check "the store is consistent after all that"
"$INST/bin/priorctl" fsck "$STORE" >"$PF_WORK/fsck" 2>&1 || fail "fsck: $(cat "$PF_WORK/fsck")"

check "make uninstall removes every file it installed"
(unset MAKEFLAGS MFLAGS MAKELEVEL; make -C "$top_builddir" uninstall prefix="$INST") \
	>"$PF_WORK/uninstall.log" 2>&1 || fail "make uninstall: $(tail -n 20 "$PF_WORK/uninstall.log")"
LEFT=$(find "$INST" ! -type d)
[ -z "$LEFT" ] || fail "left after uninstall: $LEFT"

#!/bin/bash
# SPDX-License-Identifier: MIT
# demo.sh - builds priorfs and shows it working: copies ~80 MB of this
# machine's C headers and documentation into a fresh store through the mount, remounts,
# checks every byte with diff -r, and prints logical against stored size.
#
# Run from the source tree as root or a sudoer (packages come from apt-get;
# mounting uses fusermount3). Everything goes to $PF_DEMO_DIR (default
# /tmp/priorfs-demo), left in place afterwards for a look around.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
DEMO=${PF_DEMO_DIR:-/tmp/priorfs-demo}
CAP_MB=${PF_DEMO_MB:-80}
BUILD=${PF_BUILD_DIR:-$SRC/build}
PRIORFS=$BUILD/src/priorfs
PRIORCTL=$BUILD/src/priorctl/priorctl
STORE=$DEMO/store MNT=$DEMO/mnt DATA=$DEMO/data LOG=$DEMO/priorfs.log
DAEMON=

say() { printf '\n== %s\n' "$*"; }

unmount() {
	[ -n "$DAEMON" ] || return 0
	fusermount3 -u "$MNT"
	wait "$DAEMON" || { echo "demo: priorfs exited with an error; see $LOG" >&2; exit 1; }
	DAEMON=
}

cleanup() {
	if [ -n "$DAEMON" ]; then
		fusermount3 -uz "$MNT" 2>/dev/null || true
		kill "$DAEMON" 2>/dev/null || true
	fi
}
trap cleanup EXIT

mount_store() {
	"$PRIORFS" -f "$STORE" "$MNT" -o "$1" >>"$LOG" 2>&1 &
	DAEMON=$!
	for _ in $(seq 200); do
		mountpoint -q "$MNT" && return 0
		kill -0 "$DAEMON" 2>/dev/null || { echo "demo: priorfs failed; see $LOG" >&2; exit 1; }
		sleep 0.05
	done
	echo "demo: $MNT did not appear" >&2
	exit 1
}

# Copies C headers and documentation (files and symlinks, in name order)
# until CAP_MB, as include/, common-licenses/ and doc/.
gather_data() {
	(cd / && python3 - "$CAP_MB" <<'PY'
import os, sys
cap, total = int(sys.argv[1]) << 20, 0
for top in ("usr/share/common-licenses", "usr/include", "usr/share/doc"):
    for root, dirs, files in os.walk(top):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(root, f)
            st = os.lstat(p)
            if total + st.st_size > cap:
                continue
            total += st.st_size
            sys.stdout.buffer.write(p.encode("utf-8", "surrogateescape") + b"\0")
PY
	) | tar -C / --null -T - -cf - 2>/dev/null |
		tar -C "$DATA" --transform 's,^usr/share/,,;s,^usr/,,' -xf -
}

say "installing build dependencies (apt-get, only what is missing)"
"$SRC/contrib/install-deps.sh"

say "building in $BUILD"
(cd "$SRC" && autoreconf -fi)
mkdir -p "$BUILD"
(cd "$BUILD" && "$SRC/configure" -q)
make -C "$BUILD" -j"$(nproc)" -s

say "gathering up to $CAP_MB MB of C headers and documentation into $DATA"
if mountpoint -q "$MNT" 2>/dev/null; then fusermount3 -u "$MNT"; fi
rm -rf "$DEMO"
mkdir -p "$DATA" "$MNT"
gather_data
echo "$(find "$DATA" -type f | wc -l) files, $(du -sh --apparent-size "$DATA" | cut -f1)"

say "priorctl init $STORE, mount, cp -a"
"$PRIORCTL" init "$STORE"
mount_store block_size=256K,codec=auto
cp -a "$DATA/." "$MNT/"
unmount

say "remount (cold) and diff -r against the original"
mount_store ro
diff -r --no-dereference "$DATA" "$MNT"
echo "identical"

say "logical vs stored size"
echo "logical (du --apparent-size on the mount): $(du -sh --apparent-size "$MNT" | cut -f1)"
echo "stored  (du on the mount):                 $(du -sh "$MNT" | cut -f1)"
echo "backing directory (du on the store):       $(du -sh "$STORE" | cut -f1)"
unmount
"$PRIORCTL" stat "$STORE" >"$DEMO/stat.txt"
echo
sed -n '1,/^$/p' "$DEMO/stat.txt"
sed -n '/TYPE$/,/^$/p' "$DEMO/stat.txt" | head -n 11
echo "   ..."
tail -n 1 "$DEMO/stat.txt"
echo "(all file types: $DEMO/stat.txt)"

say "fsck"
"$PRIORCTL" fsck "$STORE"

say "done; the store is in $STORE. Mount it again with:"
echo "  $PRIORFS $STORE $MNT && ls $MNT && fusermount3 -u $MNT"

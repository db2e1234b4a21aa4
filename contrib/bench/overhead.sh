#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# overhead.sh - what one file costs in the store beyond its data: container
# bytes (header, slots, index) for small files of random bytes (stored raw,
# so the difference is pure overhead), and the disk blocks du reports.
# usage: contrib/bench/overhead.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
work=$(mktemp -d /tmp/pf-ovh.XXXXXX); mnt=$work/mnt; mkdir -p "$mnt"
trap 'fusermount3 -u "$mnt" 2>/dev/null || true; rm -rf "$work"' EXIT
"$build/src/priorctl/priorctl" init "$work/store" >/dev/null
"$build/src/priorfs" "$work/store" "$mnt"
echo "| file bytes | container bytes | overhead bytes | du of container (KiB) |"
echo "|---|---|---|---|"
for n in 0 1 100 1000 4096 65536 262144 1048576; do
	head -c "$n" /dev/urandom > "$mnt/f$n"
done
fusermount3 -u "$mnt"
for n in 0 1 100 1000 4096 65536 262144 1048576; do
	c=$(stat -c %s "$work/store/f$n")
	printf '| %s | %s | %s | %s |\n' "$n" "$c" "$((c - n))" "$(du -k "$work/store/f$n" | cut -f1)"
done

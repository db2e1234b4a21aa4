#!/bin/bash
# SPDX-License-Identifier: MIT
# ratio.sh - stored size of one corpus under priorfs options vs zstd and xz on the whole file.
#
# usage: contrib/bench/ratio.sh [-s SIZE] [-c CORPUS] [-o "OPTS ..."]
#   -o  priorfs option sets, space separated (default: block sizes 64K..4M
#       with codec=auto, and zstd_level=19 at 256K and 1M)
# Prints a markdown table: bytes stored, ratio (plain/stored), and the
# command for each row. priorfs compresses each block alone so that any
# block decodes by itself; whole-file compressors see the full history, so
# they bound what a block codec can reach.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top_srcdir/tests/integration/lib.sh"

SIZE=256M CORPUS=
OPTSETS="block_size=64K block_size=256K block_size=1M block_size=4M
block_size=256K,codec=zstd,zstd_level=19 block_size=1M,codec=zstd,zstd_level=19"
while getopts "s:c:o:" o; do
	case $o in
	s) SIZE=$OPTARG ;;
	c) CORPUS=$OPTARG ;;
	o) OPTSETS=$OPTARG ;;
	*) sed -n '4,7p' "$0" >&2; exit 2 ;;
	esac
done
pf_setup
if [ -z "$CORPUS" ]; then
	CORPUS=$PF_WORK/corpus
	"$top_srcdir/contrib/bench/corpus.sh" "$CORPUS" "$SIZE" || fail "corpus"
fi
BYTES=$(stat -c %s "$CORPUS")

row() {  # row NAME STORED SECONDS COMMAND
	printf '| %s | %d | %.2f | %.1f | `%s` |\n' "$1" "$2" \
		"$(python3 -c "print($BYTES / $2)")" "$3" "$4"
}

echo "corpus: $BYTES bytes ($CORPUS)"
echo
echo "| what | stored bytes | ratio | seconds | command |"
echo "|---|---|---|---|---|"
for opts in $OPTSETS; do
	store=$PF_WORK/store mnt=$PF_WORK/mnt
	rm -rf "$store"
	pf_init_store "$store"
	pf_mount "$store" "$mnt" "$opts"
	t0=$(date +%s.%N)
	cp "$CORPUS" "$mnt/data" || fail "cp with $opts"
	pf_umount "$mnt"
	t1=$(date +%s.%N)
	row "priorfs $opts" "$(stat -c %s "$store/data")" "$(python3 -c "print($t1 - $t0)")" \
		"priorfs -o $opts; cp CORPUS MNT/data; stat -c %s STORE/data"
done
for c in "zstd -3" "zstd -19" "zstd -19 --long=27" "xz -9"; do
	t0=$(date +%s.%N)
	n=$($c -T1 -c "$CORPUS" | wc -c)
	t1=$(date +%s.%N)
	row "$c" "$n" "$(python3 -c "print($t1 - $t0)")" "$c -T1 -c CORPUS >OUT; stat -c %s OUT"
done

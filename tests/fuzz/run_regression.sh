#!/bin/sh
# SPDX-License-Identifier: MIT
# run_regression.sh - replays every committed fuzz corpus
# (tests/fuzz/corpus/<target>/) through tests/fuzz/fuzz_regression.
# Run by `make check`, which exports top_builddir and top_srcdir; by hand:
#   top_builddir=/path/to/build sh tests/fuzz/run_regression.sh
# Exits non-zero if any target fails or crashes.

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$here/../..}"
: "${top_builddir:=$top_srcdir}"
driver="$top_builddir/tests/fuzz/fuzz_regression"

if [ ! -x "$driver" ]; then
	echo "run_regression.sh: $driver not built" >&2
	exit 1
fi

status=0
for target in block container opts model sniff; do
	corpus="$top_srcdir/tests/fuzz/corpus/$target"
	if ! "$driver" "$target" "$corpus"; then
		echo "run_regression.sh: target $target failed" >&2
		status=1
	fi
done
exit $status

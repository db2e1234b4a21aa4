#!/bin/sh
# SPDX-License-Identifier: MIT
# run_fuzz.sh - runs each libFuzzer harness built by `configure --enable-fuzzing`
# for a bounded time, seeded from its committed corpus (tests/fuzz/corpus/<target>/).
#
# Run by `make fuzz`, which exports top_builddir and top_srcdir and passes the
# targets (block container opts model sniff; default all of them).
# Environment:
#   FUZZ_SECONDS  run time per target, default 60
#   FUZZ_OUT      work directory, default $top_builddir/tests/fuzz/out
#   FUZZ_FLAGS    extra libFuzzer flags, e.g. "-jobs=2 -workers=2"
# New inputs go to $FUZZ_OUT/corpus/<target>; crashes to
# $FUZZ_OUT/<target>-crash-*. Copy a crashing input into
# tests/fuzz/corpus/<target>/ once it is fixed, so that `make check` replays
# it forever. Exits non-zero if any target failed.
set -u

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$here/../..}"
: "${top_builddir:=$top_srcdir}"
seconds=${FUZZ_SECONDS:-60}
out=${FUZZ_OUT:-$top_builddir/tests/fuzz/out}
[ $# -gt 0 ] || set -- block container opts model sniff

status=0
for t in "$@"; do
	fuzzer="$top_builddir/tests/fuzz/fuzz_$t"
	seeds="$top_srcdir/tests/fuzz/corpus/$t"
	if [ ! -x "$fuzzer" ] || [ ! -d "$seeds" ]; then
		echo "run_fuzz.sh: $t: no such target ($fuzzer, $seeds)" >&2
		status=1
		continue
	fi
	mkdir -p "$out/corpus/$t" || { status=1; continue; }
	echo "run_fuzz.sh: $t: fuzzing for ${seconds}s"
	# New inputs land in the first directory, so the committed seeds in the
	# second stay untouched.
	# shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags
	if ! "$fuzzer" -max_total_time="$seconds" -print_final_stats=1 \
		-artifact_prefix="$out/$t-" ${FUZZ_FLAGS:-} "$out/corpus/$t" "$seeds"; then
		echo "run_fuzz.sh: $t: FAILED (see $out/$t-*)" >&2
		status=1
	fi
done
exit $status

#!/bin/sh
# SPDX-License-Identifier: MIT
# fuzz.sh - configures an out-of-tree build with CC=clang --enable-fuzzing
# and runs `make fuzz`: each libFuzzer target in tests/fuzz/ for a bounded
# time on a copy of its committed corpus.
#
# Usage: contrib/fuzz.sh [target...]      (targets: block container opts model sniff;
#                                          default all of them)
# Environment:
#   FUZZ_SECONDS  run time per target, default 60
#   FUZZ_OUT      build and work directory, default /tmp/priorfs-fuzz
#   CC            a clang with libFuzzer, default clang
#   CFLAGS        default "-g -O1"
#   FUZZ_FLAGS    extra libFuzzer flags, e.g. "-jobs=2 -workers=2"
# The build goes to $FUZZ_OUT/build (tests/fuzz/run_fuzz.sh does the runs).
# New inputs go to $FUZZ_OUT/corpus/<target>; crashes to
# $FUZZ_OUT/<target>-crash-*. Copy a crashing input into
# tests/fuzz/corpus/<target>/ once it is fixed, so that `make check` replays
# it forever. Exits non-zero if the build or any target failed.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
FUZZ_OUT=${FUZZ_OUT:-/tmp/priorfs-fuzz}
mkdir -p "$FUZZ_OUT/build"
FUZZ_OUT=$(cd "$FUZZ_OUT" && pwd)
export FUZZ_OUT

# A fresh clone has no configure yet (it is generated, not committed).
[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi)
(cd "$FUZZ_OUT/build" &&
	"$top/configure" -q --enable-fuzzing CC="${CC:-clang}" CFLAGS="${CFLAGS:--g -O1}")
exec make -C "$FUZZ_OUT/build" -j2 fuzz ${1+FUZZ_TARGETS="$*"}

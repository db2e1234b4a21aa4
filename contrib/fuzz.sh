#!/bin/sh
# SPDX-License-Identifier: MIT
# fuzz.sh - builds the libFuzzer targets in tests/fuzz/ with clang and runs
# each for a bounded time on a copy of its committed corpus.
#
# Usage: contrib/fuzz.sh [target...]      (targets: block container opts model;
#                                          default all of them)
# Environment:
#   FUZZ_SECONDS  run time per target, default 60
#   FUZZ_OUT      build and work directory, default /tmp/priorfs-fuzz
#   CC            a clang with libFuzzer, default clang
#   FUZZ_FLAGS    extra libFuzzer flags, e.g. "-jobs=2 -workers=2"
# Each harness is compiled with -DFUZZ_LIBFUZZER (its entry becomes
# LLVMFuzzerTestOneInput) together with the sources of the layers it needs,
# under -fsanitize=fuzzer,address,undefined. New inputs go to
# $FUZZ_OUT/corpus/<target>; crashes to $FUZZ_OUT/<target>-crash-*. Copy a
# crashing input into tests/fuzz/corpus/<target>/ once it is fixed, so that
# `make check` replays it forever. Exits non-zero if any target failed.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
seconds=${FUZZ_SECONDS:-60}
out=${FUZZ_OUT:-/tmp/priorfs-fuzz}
cc=${CC:-clang}
[ $# -gt 0 ] || set -- block container opts model

# Sources each target links, beyond the harness itself.
sources() {
	# The codec layer links the model layer (the learned codec).
	base="src/common/pf_log.c src/common/pf_sha256.c src/codec/codec_*.c src/model/model_*.c"
	case $1 in
	block | model) echo "$base" ;;
	container) echo "$base src/store/store_*.c" ;;
	opts) echo "$base src/store/store_*.c src/cache/cache_*.c src/fs/fs_*.c" ;;
	*) return 1 ;;
	esac
}

build() {
	srcs=$(sources "$1") || { echo "fuzz.sh: unknown target $1" >&2; return 1; }
	(cd "$top" && $cc -std=gnu11 -g -O1 -fno-omit-frame-pointer \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-DFUZZ_LIBFUZZER -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -D_GNU_SOURCE -Iinclude -Isrc \
		$(pkg-config --cflags fuse3 libzstd libxxhash openblas) \
		"tests/fuzz/fuzz_$1.c" $srcs -o "$out/fuzz_$1" \
		$(pkg-config --libs fuse3 libzstd libxxhash openblas) -lpthread -lm)
}

run() {
	mkdir -p "$out/corpus/$1"
	# New inputs land in the first directory, so the committed seeds in the
	# second stay untouched.
	"$out/fuzz_$1" -max_total_time="$seconds" -print_final_stats=1 \
		-artifact_prefix="$out/$1-" ${FUZZ_FLAGS:-} \
		"$out/corpus/$1" "$top/tests/fuzz/corpus/$1"
}

mkdir -p "$out" || exit 1
status=0
for t in "$@"; do
	echo "fuzz.sh: $t: building"
	if ! build "$t"; then
		status=1
		continue
	fi
	echo "fuzz.sh: $t: fuzzing for ${seconds}s"
	run "$t" || { echo "fuzz.sh: $t: FAILED (see $out/$t-*)" >&2; status=1; }
done
exit $status

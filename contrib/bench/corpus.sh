#!/bin/bash
# SPDX-License-Identifier: MIT
# corpus.sh - builds the benchmark corpus: real text (headers, scripts, docs) from the system.
#
# usage: contrib/bench/corpus.sh OUT [SIZE]   (SIZE default 256M)
# Concatenates text-like files from /usr/include, /usr/share, /usr/lib,
# /usr/local and /opt in sorted path order, so one machine always builds the
# same corpus, and cuts it at SIZE. Real source and markup (with the repeats
# real trees have) rather than generated text, whose ratio would mean little.
set -eu -o pipefail
out=$1 size=${2:-256M}
find /usr/include /usr/share /usr/lib /usr/local /opt -type f \
	\( -name '*.h' -o -name '*.py' -o -name '*.txt' -o -name '*.html' -o -name '*.pl' \
	-o -name '*.pm' -o -name '*.c' -o -name '*.xml' -o -name '*.json' -o -name '*.md' \) \
	-size -4M 2>/dev/null | LC_ALL=C sort | xargs -d '\n' cat 2>/dev/null |
	head -c "$size" >"$out" || true  # head closing the pipe is the normal end
want=$(numfmt --from=iec "$size")
got=$(stat -c %s "$out")
[ "$got" -eq "$want" ] || { echo "corpus.sh: only $got of $want bytes of text found" >&2; exit 1; }

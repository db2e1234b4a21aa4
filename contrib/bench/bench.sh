#!/bin/bash
# SPDX-License-Identifier: MIT
# bench.sh - read/write throughput: plain dir vs libfuse passthrough_ll vs priorfs.
#
# usage: contrib/bench/bench.sh [-s SIZE] [-r RUNS] [-t SECONDS] [-c CORPUS] [-T "1 2"]
#   -s  corpus size (default 256M; built by corpus.sh unless -c gives a file)
#   -r  runs per number, the median is reported (default 3)
#   -t  seconds per fio random-read job (default 10)
#   -T  priorfs threads= values to run (default "1 2")
# Run from a build dir (or set top_builddir); needs root, /dev/fuse, fio and
# libfuse3-dev (passthrough_ll is built from its Debian example). Prints a
# markdown table (MB/s = 10^6 bytes/s) with the ratio to the plain directory,
# then the commands behind each column.
#
# Cold means page cache dropped (echo 3 >/proc/sys/vm/drop_caches) and, for
# the FUSE configs, a fresh mount (empty daemon caches). Hot re-reads the
# same file right after. Writes end with fsync, so they include commit.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top_srcdir/tests/integration/lib.sh"

SIZE=256M RUNS=3 SECS=10 CORPUS= THREADS="1 2"
while getopts "s:r:t:c:T:" o; do
	case $o in
	s) SIZE=$OPTARG ;;
	r) RUNS=$OPTARG ;;
	t) SECS=$OPTARG ;;
	c) CORPUS=$OPTARG ;;
	T) THREADS=$OPTARG ;;
	*) sed -n '4,9p' "$0" >&2; exit 2 ;;
	esac
done
pf_setup
command -v fio >/dev/null || skip "no fio"
EX=/usr/share/doc/libfuse3-dev/examples
if [ -z "$CORPUS" ]; then
	CORPUS=$PF_WORK/corpus
	"$top_srcdir/contrib/bench/corpus.sh" "$CORPUS" "$SIZE" || fail "corpus"
fi
BYTES=$(stat -c %s "$CORPUS")

# passthrough_ll from the libfuse example, built as the Debian docs ship it.
mkdir -p "$PF_WORK/pt"
cp "$EX/passthrough_ll.c" "$EX/passthrough_helpers.h" "$PF_WORK/pt/" || fail "no libfuse examples in $EX"
# shellcheck disable=SC2046
cc -O2 -o "$PF_WORK/pt/passthrough_ll" "$PF_WORK/pt/passthrough_ll.c" \
	$(pkg-config --cflags --libs fuse3) || fail "cannot build passthrough_ll"

CONFIGS="plain passthrough_ll"
for t in $THREADS; do CONFIGS="$CONFIGS priorfs_t$t"; done

# ---- configs: a directory to work in, mounted cold ------------------------

cfg_dir() {
	case $1 in
	plain) echo "$PF_WORK/plain" ;;
	*) echo "$PF_WORK/$1.mnt" ;;
	esac
}

cfg_mount() {
	local d i
	d=$(cfg_dir "$1")
	case $1 in
	plain) mkdir -p "$d" ;;
	passthrough_ll)
		mkdir -p "$PF_WORK/pt.back" "$d"
		"$PF_WORK/pt/passthrough_ll" -f -o source="$PF_WORK/pt.back" "$d" >>"$PF_LOG" 2>&1 &
		PF_PIDS[$d]=$!
		for ((i = 0; i < 100; i++)); do mountpoint -q "$d" && return; sleep 0.05; done
		fail "passthrough_ll did not mount"
		;;
	priorfs_t*)
		[ -d "$PF_WORK/$1.store" ] || pf_init_store "$PF_WORK/$1.store"
		pf_mount "$PF_WORK/$1.store" "$d" "threads=${1#priorfs_t}"
		;;
	esac
}

cfg_umount() {
	local d
	d=$(cfg_dir "$1")
	case $1 in
	plain) ;;
	passthrough_ll) pf_force_umount "$d" ;;
	*) pf_umount "$d" ;;
	esac
	pf_drop_caches
}

# ---- measurements -----------------------------------------------------------

# timed BYTES CMD...: runs CMD, prints BYTES / elapsed in MB/s.
timed() {
	local bytes=$1 t0 t1
	shift
	t0=$(date +%s.%N)
	"$@" || fail "$* failed"
	t1=$(date +%s.%N)
	python3 -c "print('%.1f' % ($bytes / ($t1 - $t0) / 1e6))"
}

# fio_rand BS FILE: random reads for SECS seconds, prints MB/s.
fio_rand() {
	fio --name=rand --filename="$2" --rw=randread --bs="$1" --ioengine=psync \
		--size="$BYTES" --runtime="$SECS" --time_based --invalidate=1 \
		--randseed=42 --output-format=json >"$PF_WORK/fio.json" 2>>"$PF_LOG" ||
		fail "fio on $2"
	python3 -c "import json, sys
j = json.load(open(sys.argv[1]))
print('%.1f' % (j['jobs'][0]['read']['bw_bytes'] / 1e6))" "$PF_WORK/fio.json"
}

RESULTS=$PF_WORK/results
: >"$RESULTS"
result() { echo "$1 $2 $3" >>"$RESULTS"; echo "  $1 $2: $3 MB/s"; }

bench_one() {
	local cfg=$1 run=$2 d f
	d=$(cfg_dir "$cfg")
	f=$d/data
	cfg_mount "$cfg"
	rm -f "$f"
	cat "$CORPUS" >/dev/null  # the source comes from memory
	result "$cfg" seq_write "$(timed "$BYTES" dd if="$CORPUS" of="$f" bs=1M conv=fsync status=none)"
	cfg_umount "$cfg"
	cfg_mount "$cfg"
	result "$cfg" seq_read_cold "$(timed "$BYTES" dd if="$f" of=/dev/null bs=1M status=none)"
	result "$cfg" seq_read_hot "$(timed "$BYTES" dd if="$f" of=/dev/null bs=1M status=none)"
	if [ "$run" = 1 ]; then
		cmp "$CORPUS" "$f" || fail "$cfg returned wrong data"
	fi
	for bs in 4k 64k; do
		cfg_umount "$cfg"
		cfg_mount "$cfg"
		result "$cfg" "rand_read_$bs" "$(fio_rand "$bs" "$f")"
	done
	cfg_umount "$cfg"
}

echo "corpus: $CORPUS, $BYTES bytes; $RUNS runs; fio ${SECS}s per random job"
for run in $(seq 1 "$RUNS"); do
	for cfg in $CONFIGS; do
		check "run $run: $cfg"
		bench_one "$cfg" "$run"
	done
done

python3 - "$RESULTS" "$CONFIGS" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
cfgs = sys.argv[2].split()
tests = ["seq_read_cold", "seq_read_hot", "rand_read_4k", "rand_read_64k", "seq_write"]
med = {(c, t): statistics.median(float(v) for cc, tt, v in rows if cc == c and tt == t)
       for c in cfgs for t in tests}
print("| config | " + " | ".join(tests) + " |")
print("|---|" + "---|" * len(tests))
for c in cfgs:
    cells = ["%.0f (%.2fx)" % (med[c, t], med[c, t] / med["plain", t]) for t in tests]
    print("| %s | %s |" % (c, " | ".join(cells)))
EOF
cat <<EOF

Commands (FILE is data in the config's directory; priorfs mounts with -o threads=N,
defaults otherwise; passthrough_ll runs with its defaults, -o source=DIR):
- seq_write: dd if=CORPUS of=FILE bs=1M conv=fsync (corpus in page cache)
- seq_read_cold: fresh mount + echo 3 >/proc/sys/vm/drop_caches; dd if=FILE of=/dev/null bs=1M
- seq_read_hot: the same dd again right after
- rand_read_BS: fresh mount + drop caches; fio --rw=randread --bs=BS --ioengine=psync
  --runtime=$SECS --time_based --invalidate=1 --randseed=42 --size=$BYTES --filename=FILE
EOF

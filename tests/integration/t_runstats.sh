#!/bin/bash
# SPDX-License-Identifier: MIT
# t_runstats.sh - a running mount's figures (user.priorfs.stats on its root, priorctl stat MOUNTPOINT, --json) move as reads go cold then warm; priorctl stat STORE reports per data kind and models.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup
[ -x "$PRIORCTL" ] || fail "no priorctl at $PRIORCTL"

STORE=$PF_WORK/store MNT=$PF_WORK/mnt SRC=$PF_WORK/src
CACHE=$((32 << 20))

# stats FILE: the root's user.priorfs.stats as a JSON object into FILE.
stats() {
	python3 - "$MNT" "$1" <<'EOF' || fail "read user.priorfs.stats of $MNT"
import json, os, sys
text = os.getxattr(sys.argv[1], "user.priorfs.stats").decode()
kv = dict(line.split("=", 1) for line in text.splitlines())
assert kv["version"] == "1", text
json.dump({k: int(v) for k, v in kv.items()}, open(sys.argv[2], "w"))
EOF
}

# expect BEFORE AFTER PYEXPR: PYEXPR over dicts a (before) and b (after) holds.
expect() {
	python3 - "$@" <<'EOF' || fail "stats: $3 does not hold"
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
if not eval(sys.argv[3]):
    sys.exit("before %s\nafter  %s" % (a, b))
EOF
}

pf_init_store "$STORE"
mkdir -p "$SRC"
pf_gen text 3M 1 "$SRC/prose.txt"
pf_gen random 1500K 2 "$SRC/noise.bin"
python3 -c 'import sys
open(sys.argv[1], "w").write("".join("def f%d(x):\n    return x * %d\n\n" % (i, i) for i in range(20000)))' \
	"$SRC/code.py" || fail "generate code.py"
TOTAL=$(($(pf_size "$SRC/prose.txt") + $(pf_size "$SRC/noise.bin") + $(pf_size "$SRC/code.py")))

pf_mount "$STORE" "$MNT" "cache_size=$CACHE"
cp "$SRC"/* "$MNT"/ || fail "copy in"
pf_remount "$STORE" "$MNT" "cache_size=$CACHE"

check "the stats xattr is on the root only and not listed"
stats "$PF_WORK/s0"
expect "$PF_WORK/s0" "$PF_WORK/s0" 'b["hits"] == 0 and b["misses"] == 0 and b["decodes"] == 0'
expect "$PF_WORK/s0" "$PF_WORK/s0" "b['cache_size'] == $CACHE"
! getfattr -n user.priorfs.stats "$MNT/prose.txt" >/dev/null 2>&1 || fail "stats on a file"
python3 -c 'import os, sys; assert not [n for n in os.listxattr(sys.argv[1]) if n.startswith("user.priorfs.")]' \
	"$MNT" || fail "user.priorfs.* listed on the root"

check "cold reads miss and decode at least every byte read"
pf_drop_caches
cat "$MNT"/* >/dev/null || fail "cold read"
stats "$PF_WORK/s1"
expect "$PF_WORK/s0" "$PF_WORK/s1" 'b["misses"] > 0 and b["decodes"] >= b["misses"]'
expect "$PF_WORK/s0" "$PF_WORK/s1" "b['decoded_bytes'] >= $TOTAL"
expect "$PF_WORK/s0" "$PF_WORK/s1" 'b["decoded_bytes.zstd"] > 0 and b["decoded_bytes.raw"] > 0 and b["decode_ns.zstd"] > 0'
expect "$PF_WORK/s0" "$PF_WORK/s1" 'b["decoded_bytes"] == sum(v for k, v in b.items() if k.startswith("decoded_bytes."))'
expect "$PF_WORK/s0" "$PF_WORK/s1" 'b["readahead_queued"] > 0 and b["readahead_done"] + b["readahead_dropped"] + b["readahead_running"] + b["queue_depth"] == b["readahead_queued"]'
expect "$PF_WORK/s0" "$PF_WORK/s1" 'b["cache_bytes"] <= b["cache_size"] and b["cache_bytes"] > 0'

check "warm reads (kernel page cache dropped) hit and decode nothing new"
pf_drop_caches
cat "$MNT"/* >/dev/null || fail "warm read"
stats "$PF_WORK/s2"
expect "$PF_WORK/s1" "$PF_WORK/s2" 'b["hits"] > a["hits"] and b["misses"] == a["misses"] and b["decodes"] == a["decodes"]'
expect "$PF_WORK/s1" "$PF_WORK/s2" 'b["cache_bytes"] <= b["cache_size"]'

check "a small cache stays within its bound while reading more than it holds"
pf_remount "$STORE" "$MNT" "cache_size=1M"
cat "$MNT"/* >/dev/null || fail "read with a 1M cache"
stats "$PF_WORK/s3"
expect "$PF_WORK/s3" "$PF_WORK/s3" "b['cache_bytes'] <= b['cache_size'] == $((1 << 20)) and b['decoded_bytes'] >= $TOTAL"

check "priorctl stat MOUNTPOINT: human and --json"
pf_ctl 0 stat "$MNT"
has "$OUT" "^mount .*statistics version 1"
has "$OUT" "hit rate [0-9.]+%"
has "$OUT" "^  zstd .* MB/s"
has "$OUT" "queue depth [0-9]+"
has "$OUT" "^cache: .* of 1.0M in use"
pf_ctl 0 stat --json "$MNT"
/usr/bin/python3 - "$OUT" "$MNT" <<'EOF' || fail "stat --json of the mount: $(cat "$OUT")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["mount"] == sys.argv[2] and d["version"] == 1, d
assert d["cache_size"] == 1 << 20 and 0 < d["cache_bytes"] <= d["cache_size"], d
assert d["misses"] > 0 and 0 <= d["hit_rate"] <= 1, d
z = d["codecs"]["zstd"]
assert z["decoded_bytes"] > 0 and z["mb_per_s"] > 0, d
assert d["codecs"]["learned"]["mb_per_s"] is None, d
assert d["queue_depth"] >= 0 and d["readahead_queued"] > 0, d
EOF
pf_umount "$MNT"

check "priorctl stat STORE: per data kind and models (none without training)"
pf_ctl 0 stat "$STORE"
has "$OUT" "KIND$"
has "$OUT" " text$"
has "$OUT" " code$"
pf_ctl 0 stat --json "$STORE"
/usr/bin/python3 - "$OUT" <<'EOF' || fail "stat --json of the store: $(cat "$OUT")"
import json, sys
d = json.load(open(sys.argv[1]))
kinds = {k["kind"]: k for k in d["kinds"]}
assert kinds["text"]["files"] == 1 and kinds["text"]["logical_bytes"] == 3 << 20, kinds
assert kinds["code"]["files"] == 1, kinds
for key in ("files", "logical_bytes", "stored_bytes"):
    assert sum(k[key] for k in d["kinds"]) == d["total"][key], (key, d)
assert d["models"] == [], d["models"]
EOF

#!/bin/bash
# SPDX-License-Identifier: MIT
# t_scaling.sh - priorctl scaling on a small generated text tree: usage errors, the grid table, fit and recommendation, the SVG chart, --json, --time, and a store read in place.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup
[ -x "$PRIORCTL" ] || fail "no priorctl at $PRIORCTL"

OUT=$PF_WORK/out ERR=$PF_WORK/err
SRC=$PF_WORK/src
mkdir -p "$SRC/a" "$SRC/b" || fail mkdir
pf_gen text 640K 11 "$SRC/a/one.txt"
pf_gen text 640K 12 "$SRC/a/two.txt"
pf_gen text 640K 13 "$SRC/b/three.txt"
pf_gen random 300K 14 "$SRC/b/noise.bin"
GRID=(--table-bits 10,12,14 --samples 128K,256K)

check "help and usage errors exit 2"
pf_ctl 0 scaling --help
has "$OUT" '^usage: priorctl scaling'
pf_ctl 2 scaling
has "$ERR" '^priorctl: scaling: expected one store or directory'
pf_ctl 2 scaling --table-bits 9 "$SRC"
has "$ERR" '^priorctl: scaling: --table-bits'
pf_ctl 2 scaling --table-bits 12,x "$SRC"
pf_ctl 2 scaling --samples 1K "$SRC"
has "$ERR" '^priorctl: scaling: --samples'
pf_ctl 2 scaling --samples , "$SRC"
pf_ctl 2 scaling --kind compressed "$SRC"
has "$ERR" '^priorctl: scaling: --kind'
pf_ctl 2 scaling --time 0 "$SRC"
pf_ctl 2 scaling --no-such-option "$SRC"
pf_ctl 2 scaling "$SRC/a/one.txt"
has "$ERR" 'not a store or directory'
pf_ctl 2 scaling "$PF_WORK/missing"

check "a 3 x 2 grid: table, fit, recommendation, chart"
pf_ctl 0 scaling "${GRID[@]}" --svg "$PF_WORK/chart.svg" "$SRC"
has "$OUT" '^scaling: text in .*: 3 files, 1\.9M logical'
has "$OUT" '^held-out slice: .* never trained on; zstd -19: [0-9.]+ bits/byte'
for bits in 10 12 14; do
	for s in 128K 256K; do
		has "$OUT" "^ +$bits +$s +[0-9.]+[KM]? +[0-9]\.[0-9]{3} +[0-9.]+M +[0-9.]+s"
	done
done
[ "$(grep -c ' \*$' "$OUT")" -eq 1 ] || fail "not one best point: $(cat "$OUT")"
has "$OUT" '^fit: bits/byte = E \+ A/N\^a \+ B/D\^b'
has "$OUT" '^  R\^2 = [0-9.-]+, RMSE = [0-9.]+ bits/byte over 6 points'
has "$OUT" '^recommendation: --table-bits 1[024] with a (128|256)K training sample'
has "$OUT" '^  \(priorctl train --table-bits 1[024] --sample 1M\): predicted stored [0-9.]+M'
python3 - "$PF_WORK/chart.svg" <<'PY' || fail "chart.svg"
import sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == ns + "svg", root.tag
lines = root.findall(ns + "polyline")
assert len(lines) == 2, "want one polyline per sample size, got %d" % len(lines)
for l in lines:
    assert len(l.get("points").split()) == 3, l.get("points")
texts = " ".join("".join(t.itertext()) for t in root.iter(ns + "text"))
for want in ("sample 128K", "sample 256K", "least stored", "zstd -19"):
    assert want in texts, want
PY
# svg_converts: the converter priorctl picks (rsvg-convert, else convert)
# turns a tiny SVG into a PNG here; a stand-in without SVG support does not.
svg_converts() {
	local svg=$PF_WORK/tiny.svg png=$PF_WORK/tiny.png
	echo '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>' >"$svg"
	if command -v rsvg-convert >/dev/null; then
		rsvg-convert -o "$png" "$svg"
	else
		convert "$svg" "$png"
	fi >/dev/null 2>&1 && [ "$(head -c 4 "$png" | od -An -c | tr -d ' ')" = '211PNG' ]
}
if svg_converts; then
	has "$OUT" "^chart: $PF_WORK/chart.svg, $PF_WORK/chart.png"
	[ "$(head -c 4 "$PF_WORK/chart.png" | od -An -c | tr -d ' ')" = '211PNG' ] ||
		fail "chart.png is not a PNG"
elif command -v rsvg-convert >/dev/null || command -v convert >/dev/null; then
	has "$OUT" "^chart: $PF_WORK/chart.svg \(PNG skipped: (rsvg-convert|convert) failed\)"
fi
check "PNG conversion skipped without a converter"
PATH=/nonexistent pf_ctl 0 scaling --table-bits 10,12 --samples 128K --svg "$PF_WORK/c2.svg" "$SRC"
has "$OUT" 'PNG skipped: neither rsvg-convert nor convert'
has "$OUT" 'fit is poor: too few points'
[ -s "$PF_WORK/c2.svg" ] && [ ! -e "$PF_WORK/c2.png" ] || fail "c2.svg missing or c2.png made"

check "--json parses and has the grid, the fit and the recommendation"
pf_ctl 0 scaling "${GRID[@]}" --json "$SRC"
python3 - "$OUT" <<'PY' || fail "scaling --json: $(head -c 600 "$OUT")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["kind"] == "text" and j["files"] == 3, j
assert j["n"] == "table_slots" and j["d"] == "sample_bytes"
pts = [(p["table_bits"], p["sample"]) for p in j["points"]]
assert sorted(pts) == sorted((b, s << 10) for b in (10, 12, 14) for s in (128, 256)), pts
for p in j["points"]:
    assert 0 < p["bpb"] < 8 and p["model_bytes"] > 0 and p["stored"] > 0, p
f = j["fit"]
assert f["points"] == 6 and isinstance(f["poor"], bool), f
best = min(j["points"], key=lambda p: p["stored"])
r = j["recommendation"]
assert (r["table_bits"], r["sample"]) == (best["table_bits"], best["sample"]), r
PY

check "--time skips the points that would not fit"
pf_ctl 0 scaling --table-bits 10,12,14,16,18,20 --samples 256K,512K,1M --time 2 "$SRC"
has "$OUT" 'skipped: over --time'
has "$OUT" '^recommendation: '

check "a store is read in place, read-only"
pf_ctl 0 import --no-train --jobs 2 "$SRC" "$PF_WORK/store"
pf_ctl 0 scaling --table-bits 10,12 --samples 128K --kind text "$PF_WORK/store"
has "$OUT" "^scaling: text in $PF_WORK/store: 3 files"
has "$OUT" '^ +12 +128K '
pf_ctl 1 scaling --kind array "$PF_WORK/store"
has "$ERR" 'sample 1\.0M dropped: only 256K of array to train on'
has "$ERR" 'no grid point: every --samples size is over the 256K of array'
pf_ctl 1 scaling --kind tabular "$PF_WORK/store"
has "$ERR" 'too little tabular data'

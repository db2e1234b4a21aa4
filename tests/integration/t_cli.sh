#!/bin/bash
# SPDX-License-Identifier: MIT
# t_cli.sh - priorctl: usage and exit codes, init refusals, stat output (tables and JSON), fsck on clean and damaged stores.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup
[ -x "$PRIORCTL" ] || fail "no priorctl at $PRIORCTL"

OUT=$PF_WORK/out ERR=$PF_WORK/err

# json_check PYTHON_EXPR: evaluates an assertion on the JSON in $OUT (as j).
json_check() {
	python3 -c 'import json, sys
j = json.load(open(sys.argv[1], encoding="utf-8", errors="surrogateescape"))
W = b"odd\xff\ndir \"q\"".decode("utf-8", "surrogateescape")
d = {x["directory"]: x for x in j["directories"]}
t = {x["type"]: x for x in j["types"]}
if not eval(sys.argv[2]):
    sys.exit("json check failed: " + sys.argv[2])' "$OUT" "$1" || fail "stat --json: $1"
}

check "help, version and usage errors"
pf_ctl 0 --help
has "$OUT" '^usage: priorctl'
has "$OUT" '^  fsck '
pf_ctl 0 --version
has "$OUT" '^priorctl [0-9]+\.[0-9]+'
pf_ctl 2 frobnicate
has "$ERR" "^priorctl: unknown command 'frobnicate'"
has "$ERR" '^usage: priorctl'
[ ! -s "$OUT" ] || fail "usage error wrote to stdout"
pf_ctl 2
has "$ERR" '^priorctl: no command given'
pf_ctl 2 --bogus
for cmd in init stat fsck; do
	pf_ctl 0 "$cmd" --help
	has "$OUT" "^usage: priorctl $cmd"
	pf_ctl 0 help "$cmd"
	has "$OUT" "^usage: priorctl $cmd"
	pf_ctl 2 "$cmd"
	has "$ERR" "^priorctl: $cmd: expected one"
	pf_ctl 2 "$cmd" --no-such-option "$PF_WORK"
	has "$ERR" "^priorctl: $cmd: unknown option '--no-such-option'"
done
pf_ctl 2 stat --depth 0 "$PF_WORK"
has "$ERR" '^priorctl: stat: --depth'
pf_ctl 2 stat --depth
has "$ERR" '^priorctl: stat: missing value'

check "init: missing dir, empty dir, existing store, non-empty dir, file"
pf_ctl 0 init "$PF_WORK/new"
has "$OUT" "^initialized priorfs store in $PF_WORK/new$"
grep -qx 'format=1' "$PF_WORK/new/.priorfs/config" || fail "no format=1 in config"
pf_ctl 1 init "$PF_WORK/no/parent"
has "$ERR" '^priorctl: init: .*/no/parent: No such file or directory$'
mkdir "$PF_WORK/empty"
pf_ctl 0 init "$PF_WORK/empty"
[ -d "$PF_WORK/empty/.priorfs" ] || fail "init of an empty dir made no .priorfs"
pf_ctl 1 init "$PF_WORK/empty"
has "$ERR" '^priorctl: init: .*already a priorfs store'
mkdir "$PF_WORK/full" && echo data >"$PF_WORK/full/keep.txt"
pf_ctl 1 init "$PF_WORK/full"
has "$ERR" '^priorctl: init: .*not empty'
[ ! -e "$PF_WORK/full/.priorfs" ] || fail "refused init still made .priorfs"
[ "$(cat "$PF_WORK/full/keep.txt")" = data ] || fail "refused init touched a file"
pf_ctl 1 init "$PF_WORK/full/keep.txt"
has "$ERR" '^priorctl: init: '

check "stat and fsck refuse what is not a store (exit 2)"
for cmd in stat fsck; do
	pf_ctl 2 "$cmd" "$PF_WORK/full"
	has "$ERR" "^priorctl: $cmd: .*not a priorfs store"
	pf_ctl 2 "$cmd" "$PF_WORK/does-not-exist"
	has "$ERR" "^priorctl: $cmd: "
done

check "stat and fsck of an empty store"
pf_ctl 0 stat --json "$PF_WORK/empty"
python3 -m json.tool "$OUT" >/dev/null || fail "stat --json of an empty store is not JSON"
json_check 'j["total"]["files"] == 0 and j["total"]["ratio"] is None and j["directories"] == []'
pf_ctl 0 fsck "$PF_WORK/empty"
has "$OUT" '^priorctl: fsck: 0 files, 0 blocks checked, 0 faults$'

# A store with compressible, random, zero and empty files, nested dirs and
# names that are not valid UTF-8 or hold a newline, written through a mount.
STORE=$PF_WORK/store MNT=$PF_WORK/mnt
pf_init_store "$STORE"
pf_mount "$STORE" "$MNT" block_size=64K
ODD=$'odd\377\ndir "q"'
mkdir -p "$MNT/a/b/c" "$MNT/$ODD"
pf_gen text 1M 1 "$MNT/a/b/text.TXT"
pf_gen text 100K 2 "$MNT/a/notes.txt"
pf_gen random 200K 3 "$MNT/a/b/c/noise.bin"
pf_gen zeros 256K 4 "$MNT/zeros"
: >"$MNT/$ODD/empty.txt"
printf 'x%.0s' {1..5000} >"$MNT/$ODD/Mixed.Case.DAT"
ln -s a/notes.txt "$MNT/link.txt"
mkfifo "$MNT/fifo" 2>/dev/null || true
pf_umount "$MNT"
NFILES=6
LOGICAL=$((1048576 + 102400 + 204800 + 262144 + 0 + 5000))

check "stat: table with totals; JSON parses and adds up"
pf_ctl 0 stat "$STORE"
has "$OUT" '^ +FILES +LOGICAL +STORED +RATIO +RAW +ZSTD +LEARNED +ZERO +DIRECTORY$'
has "$OUT" "^ +$NFILES +[0-9.]+[KM] +[0-9.]+[KM] +[0-9.]+x .*\(total\)$"
has "$OUT" ' a$'
has "$OUT" ' txt$'
has "$OUT" '^ +2 .* odd\\xff\\x0adir "q"$'
has "$OUT" '^ +FILES +LOGICAL +STORED +RATIO +RAW +ZSTD +LEARNED +ZERO +KIND$'
# The directory, type and kind tables with their headers, blank lines
# between them, the total.
[ "$(grep -c '' "$OUT")" -eq 17 ] || fail "stat table has $(grep -c '' "$OUT") lines, want 17"
pf_ctl 0 stat --json "$STORE"
python3 -m json.tool "$OUT" >/dev/null || fail "stat --json is not valid JSON"
json_check "j['total']['files'] == $NFILES and j['total']['logical_bytes'] == $LOGICAL"
json_check 'j["total"]["stored_bytes"] < j["total"]["logical_bytes"] / 2'
json_check 'sorted(d) == [".", "a", W] and d[W]["files"] == 2 and d["a"]["files"] == 3 and d["."]["files"] == 1'
json_check 'd["a"]["blocks"]["zstd"] >= 16 and d["a"]["blocks"]["raw"] >= 3'
json_check 'd["."]["blocks"] == {"zero": 4, "raw": 0, "zstd": 0, "learned": 0, "unknown": 0}'
json_check 't["txt"]["files"] == 3 and t["bin"]["files"] == 1 and t["(none)"]["files"] == 1'
json_check 't["dat"]["logical_bytes"] == 5000 and t["txt"]["ratio"] > 2'
python3 - "$OUT" <<'EOF' || fail "stat --json does not round-trip a non-UTF-8 name"
import json, sys
raw = open(sys.argv[1], "rb").read()
assert b'"odd\\udcff\\ndir \\"q\\""' in raw, raw[:600]
EOF
pf_ctl 0 stat --json --depth 2 "$STORE"
json_check 'sorted(d) == [".", "a", "a/b", W] and d["a/b"]["files"] == 2 and d["a"]["files"] == 1'

check "fsck: a clean store"
pf_ctl 0 fsck "$STORE"
has "$OUT" "^priorctl: fsck: $NFILES files, [0-9]+ blocks checked, 0 faults$"
BLOCKS=$(sed -n 's/.* files, \([0-9]*\) blocks.*/\1/p' "$OUT")
# 16 + 2 + 4 (1M, 100K, 200K) + 4 zero blocks + 1 + none for the empty file
[ "$BLOCKS" -eq 27 ] || fail "fsck checked $BLOCKS blocks, want 27"

# flip_block FILE BLOCK: flips one byte in the middle of the stored bytes of
# BLOCK in container FILE, found through its committed slot and index
# (docs/format.md §2.2, §3). Prints the codec of that block.
flip_block() {
	python3 - "$1" "$2" <<'EOF' || fail "cannot damage block $2 of $1"
import struct, sys
path, want = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(16)
    slots = [struct.unpack("<QQQI", f.read(48)[:28]) for _ in range(2)]
    seq, size, ioff, ilen = max(slots)
    f.seek(ioff)
    index = f.read(ilen)
    m = struct.unpack_from("<H", index, 0)[0]
    off, slen, codec = struct.unpack_from("<QIB", index, 8 + 32 * m + 24 * want)
    assert slen > 0, "block %d stores nothing" % want
    f.seek(off + slen // 2)
    b = f.read(1)[0]
    f.seek(off + slen // 2)
    f.write(bytes([b ^ 0x5a]))
print(codec)
EOF
}

check "fsck: a flipped byte in a stored zstd block is found (exit 1)"
cp -a "$STORE" "$PF_WORK/bad"
codec=$(flip_block "$PF_WORK/bad/a/b/text.TXT" 3)
[ "$codec" = 2 ] || fail "block 3 of text.TXT has codec $codec, want 2 (zstd)"
pf_ctl 1 fsck "$PF_WORK/bad"
has "$OUT" '^priorctl: fsck: a/b/text\.TXT: block 3: '
[ "$(grep -c ': block ' "$OUT")" -eq 1 ] || fail "want exactly one block fault: $(cat "$OUT")"
has "$OUT" "^priorctl: fsck: $NFILES files, $BLOCKS blocks checked, 1 fault$"

check "fsck: a flipped byte in a raw block is found too"
codec=$(flip_block "$PF_WORK/bad/a/b/c/noise.bin" 1)
[ "$codec" = 1 ] || fail "block 1 of noise.bin has codec $codec, want 1 (raw)"
pf_ctl 1 fsck "$PF_WORK/bad"
has "$OUT" '^priorctl: fsck: a/b/c/noise\.bin: block 1: '
has "$OUT" ', 2 faults$'

check "fsck and stat: a corrupt container header and a stray plain file"
printf 'XXXX' | dd of="$PF_WORK/bad/a/notes.txt" bs=1 conv=notrunc status=none
echo "not a container, long enough to look like one........................................................................................" >"$PF_WORK/bad/stray"
pf_ctl 1 fsck "$PF_WORK/bad"
has "$OUT" '^priorctl: fsck: a/notes\.txt: corrupt container header or index$'
has "$OUT" '^priorctl: fsck: stray: corrupt container header or index$'
has "$OUT" "^priorctl: fsck: $((NFILES + 1)) files, [0-9]+ blocks checked, 4 faults$"
pf_ctl 1 stat --json "$PF_WORK/bad"
has "$ERR" '^priorctl: stat: a/notes\.txt: corrupt container header or index: '
python3 -m json.tool "$OUT" >/dev/null || fail "stat --json with errors is not valid JSON"
json_check 'j["errors"] == 2 and j["total"]["files"] == '"$((NFILES - 1))"

check "the original store is still clean and mounts"
pf_ctl 0 fsck "$STORE"
pf_mount "$STORE" "$MNT"
cmp "$MNT/a/b/text.TXT" <(pf_gen text 1M 1 /dev/stdout) || fail "text.TXT changed"
pf_umount "$MNT"

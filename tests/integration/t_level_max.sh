#!/bin/bash
# SPDX-License-Identifier: MIT
# t_level_max.sh - priorctl train --level max: option errors, the network's loss curve, models show's level, width and features (token ids get the token features, text does not; the context features are tried), a store keeping a default of each level per kind, and which level new blocks use: import --level, recompress --level DIR, mount -o level=.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup
[ -x "$PRIORCTL" ] || fail "no priorctl at $PRIORCTL"

OUT=$PF_WORK/out ERR=$PF_WORK/err
SRC=$PF_WORK/src STORE=$PF_WORK/store
# 3M of Zipf text, 1M sampled: a width-32 network trains in seconds, and
# its model (~135K) pays for itself over the 3M.
mkdir -p "$SRC/a" "$SRC/b" || fail mkdir
pf_gen zipf 1M 1 "$SRC/a/one.txt"
pf_gen zipf 1M 2 "$SRC/b/two.txt"
pf_gen zipf 1M 3 "$SRC/b/three.txt"
pf_ctl 0 init "$STORE"

# default_ids LEVEL: the ids (16 digits) train listed as text defaults of LEVEL.
default_ids() {
	sed -n "/^default models:/,\$s/^  text \+\([0-9a-f]\{16\}\) \+$1 .*/\1/p" "$OUT"
}

# text_defaults: how many models list shows as text defaults.
text_defaults() {
	pf_ctl 0 models list "$STORE"
	awk '$3 == "text"' "$OUT" | wc -l
}

check "--level max, --net-width and --context-features: bad values and misuse exit 2"
pf_ctl 2 train --level maxi "$STORE"
has "$ERR" "^priorctl: train: --level wants fast, default or max, not 'maxi'$"
pf_ctl 2 train --level max --net-width 48 "$STORE"
has "$ERR" "^priorctl: train: --net-width wants a multiple of 32, not '48'$"
pf_ctl 2 train --level max --net-width 16 "$STORE"
has "$ERR" '^priorctl: train: --net-width wants a whole number from 32 to 256'
pf_ctl 2 train --net-width 32 "$STORE"
has "$ERR" '^priorctl: train: --net-width sizes the network of --level max; level default has none$'
pf_ctl 2 import --level fast --net-width 32 "$SRC" "$PF_WORK/s2"
has "$ERR" '^priorctl: import: --net-width .* level fast has none$'
[ ! -e "$PF_WORK/s2" ] || fail "import made a store despite a usage error"
pf_ctl 2 train --level max --context-features maybe "$STORE"
has "$ERR" "^priorctl: train: --context-features wants auto, yes or no, not 'maybe'$"
pf_ctl 2 import --context-features yes "$SRC" "$PF_WORK/s2"
has "$ERR" '^priorctl: import: --context-features is for the network of --level max; level default has none$'
[ ! -e "$PF_WORK/s2" ] || fail "import made a store despite a usage error"
for cmd in train import; do
	pf_ctl 0 "$cmd" --help
	has "$OUT" '^  -w, --net-width N '
	has "$OUT" '^      --context-features auto\|yes\|no$'
	has "$OUT" 'fast, default or max'
done

check "a default-level model first"
pf_ctl 0 train --from "$SRC" --sample 1M "$STORE"
has "$OUT" '^text .* yes$'
! grep -q 'network step' "$OUT" || fail "level default printed a loss curve"
DEF=$(default_ids default)
[ -n "$DEF" ] || fail "no default-level text default: $(cat "$OUT")"

check "level max: the loss curve is printed, and falls; the context features are tried"
pf_ctl 0 train --from "$SRC" --level max --net-width 32 --sample 1M "$STORE"
has "$OUT" '^training text: network step [0-9]+/[0-9]+: train [0-9.]+, held-out [0-9.]+ bits/byte$'
has "$OUT" '^training text with context features: network step [0-9]+/[0-9]+: '
has "$OUT" '^text: context features: saving [-+][0-9.]+[KMG]? with them, [-+][0-9.]+[KMG]? without; the model (has|does not have) them$'
CTX=", context features"
grep -q '^text: context features: .* the model has them$' "$OUT" || CTX=""
python3 - "$OUT" <<'EOF' || fail "loss curve: $(grep 'network step' "$OUT")"
import re, sys
pts = [m.groups() for m in re.finditer(
    r"^training text: network step (\d+)/(\d+): train ([\d.]+), held-out ([\d.]+) bits/byte$",
    open(sys.argv[1]).read(), re.M)]
assert len(pts) >= 4, "only %d points" % len(pts)
steps = [int(p[0]) for p in pts]
assert steps == sorted(steps) and steps[-1] == int(pts[-1][1]), steps
held = [float(p[3]) for p in pts]
assert held[-1] < held[0] and 0 < held[-1] < 8, held
EOF
has "$OUT" '^text .* yes$'
MAX=$(default_ids max)
[ -n "$MAX" ] || fail "no max text default: $(cat "$OUT")"
has "$OUT" "^  text +$DEF default +\(kept\)$"
has "$OUT" "^  text +$MAX max +\(trained now\)$"

check "models list keeps both text defaults; show gives level and width"
[ "$(text_defaults)" -eq 2 ] || fail "want 2 text defaults: $(cat "$OUT")"
has "$OUT" "^$DEF .* text$"
has "$OUT" "^$MAX .* text$"
pf_ctl 0 models show "$MAX" "$STORE"
has "$OUT" '^level: +max$'
has "$OUT" '^format: +6: '
has "$OUT" "^network: +width 32, embeddings 16 wide$CTX, match feature, indirect features\$"
pf_ctl 0 models show "$DEF" "$STORE"
has "$OUT" '^level: +default$'
! grep -q '^network:' "$OUT" || fail "a default-level model shows a network"

check "token ids (16-bit units) train a network with the token features, text one without"
TOK=$PF_WORK/tokens
mkdir -p "$TOK" || fail mkdir
pf_gen tokens 4M 7 "$TOK/shard.bin"
pf_ctl 0 init "$PF_WORK/tokstore"
pf_ctl 0 train --from "$TOK" --level max --net-width 32 --sample 1M "$PF_WORK/tokstore"
TOKID=$(sed -n 's/^  array \+\([0-9a-f]\{16\}\) \+max .*/\1/p' "$OUT")
[ -n "$TOKID" ] || fail "no max array default: $(cat "$OUT")"
pf_ctl 0 models show "$TOKID" "$PF_WORK/tokstore"
has "$OUT" '^network: +width 32, embeddings 16 wide(, context features)?, token features, match feature, indirect features, recent tokens, token outputs$'
pf_ctl 0 models show "$MAX" "$STORE"
! grep -q 'token features' "$OUT" || fail "a text model has the token features"

check "--context-features yes and no train the network once, with and without them"
for want in yes no; do
	plain='^training text: network step' context='^training text with context features: network step'
	if [ $want = yes ]; then
		trained=$context other=$plain shown='^network: +width 32, embeddings 16 wide, context features, match feature, indirect features$'
	else
		trained=$plain other=$context shown='^network: +width 32, embeddings 16 wide, match feature, indirect features$'
	fi
	pf_ctl 0 init "$PF_WORK/ctx-$want"
	pf_ctl 0 train --from "$SRC" --level max --net-width 32 --sample 1M --context-features $want \
		"$PF_WORK/ctx-$want"
	has "$OUT" "$trained"
	! grep -q "$other" "$OUT" || fail "--context-features $want trained the other network too"
	ID=$(sed -n 's/^  text \+\([0-9a-f]\{16\}\) \+max .*/\1/p' "$OUT")
	[ -n "$ID" ] || fail "no max text default with --context-features $want: $(cat "$OUT")"
	pf_ctl 0 models show "$ID" "$PF_WORK/ctx-$want"
	has "$OUT" "$shown"
	! grep -q '^text: embeddings:' "$OUT" || fail "width 32 tried narrower embeddings than 16"
done

check "at width 128 the embeddings are tried 32 and 16 wide, and the model has the kept ones"
pf_ctl 0 init "$PF_WORK/rank"
pf_ctl 0 train --from "$SRC" --level max --net-width 128 --sample 1M --context-features no \
	"$PF_WORK/rank"
has "$OUT" '^training text: network step '
has "$OUT" '^training text with narrower embeddings: network step '
has "$OUT" '^text: embeddings: saving [-+][0-9.]+[KMG]? 16 wide, [-+][0-9.]+[KMG]? 32 wide; the model keeps (16|32)$'
KEPT=$(sed -n 's/^text: embeddings: .* the model keeps \([0-9]*\)$/\1/p' "$OUT")
ID=$(sed -n 's/^  text \+\([0-9a-f]\{16\}\) \+max .*/\1/p' "$OUT")
[ -n "$ID" ] || fail "no max text default at width 128: $(cat "$OUT")"
pf_ctl 0 models show "$ID" "$PF_WORK/rank"
has "$OUT" "^network: +width 128, embeddings $KEPT wide, match feature, indirect features\$"

check "training a level again replaces only that level's default"
pf_ctl 0 train --from "$SRC" --level max --net-width 32 --sample 1M "$STORE"
has "$OUT" "^  text +$DEF default +\(kept\)$"
[ "$(default_ids max | wc -l)" -eq 1 ] || fail "more than one max default: $(cat "$OUT")"
pf_ctl 0 train --from "$SRC" --sample 1M "$STORE"
has "$OUT" "^  text +$MAX max +\(kept\)$"
[ "$(default_ids default | wc -l)" -eq 1 ] || fail "more than one default-level default: $(cat "$OUT")"
[ "$(text_defaults)" -eq 2 ] || fail "want 2 text defaults: $(cat "$OUT")"
pf_ctl 0 fsck "$STORE"

# files_of ID: how many files have blocks coded with model ID.
files_of() {
	pf_ctl 0 models show "$1" "$STORE"
	sed -n 's/^files: *\([0-9]*\).*/\1/p' "$OUT"
}

check "import codes with the default level's model"
pf_ctl 0 import --no-train "$SRC" "$STORE"
[ "$(files_of "$DEF")" -eq 3 ] && [ "$(files_of "$MAX")" -eq 0 ] ||
	fail "import at level default: $(files_of "$DEF") files on $DEF, $(files_of "$MAX") on $MAX"

check "recompress --level max DIR moves only DIR's files, and a default run leaves them"
pf_ctl 2 recompress --level max "$STORE" ../b
has "$ERR" "not a path inside the store"
pf_ctl 2 recompress --level max "$STORE" b/nothing
has "$ERR" "b/nothing: no such file or directory in the store"
pf_ctl 2 recompress --level max "$STORE" .priorfs/models
has "$ERR" "no such file or directory in the store"
pf_ctl 0 recompress --level max "$STORE" ./b/
has "$OUT" '^recompress: 2 files: 2 re-encoded'
[ "$(files_of "$MAX")" -eq 2 ] && [ "$(files_of "$DEF")" -eq 1 ] ||
	fail "after recompress --level max b: $(files_of "$MAX") on max, $(files_of "$DEF") on default"
pf_ctl 0 recompress "$STORE"
has "$OUT" '^recompress: 3 files: 0 re-encoded.* 3 already current'
[ "$(files_of "$MAX")" -eq 2 ] || fail "a level default run moved files off max"

check "-o level=max: writes with write_codec=learned use the max model"
MNT=$PF_WORK/mnt
pf_mount "$STORE" "$MNT" level=max,write_codec=learned
cp "$SRC/a/one.txt" "$MNT/a/new-max.txt" || fail "cp"
pf_umount "$MNT"
[ "$(files_of "$MAX")" -eq 3 ] || fail "level=max write: $(files_of "$MAX") files on max"
pf_mount "$STORE" "$MNT" write_codec=learned
cp "$SRC/a/one.txt" "$MNT/a/new-default.txt" || fail "cp"
pf_umount "$MNT"
[ "$(files_of "$DEF")" -eq 2 ] && [ "$(files_of "$MAX")" -eq 3 ] ||
	fail "level default write: $(files_of "$DEF") on default, $(files_of "$MAX") on max"
pf_mount "$STORE" "$MNT" ro
for f in a/one.txt b/two.txt b/three.txt; do
	cmp "$SRC/$f" "$MNT/$f" || fail "$f differs through the mount"
done
cmp "$SRC/a/one.txt" "$MNT/a/new-max.txt" || fail "new-max.txt differs"
cmp "$SRC/a/one.txt" "$MNT/a/new-default.txt" || fail "new-default.txt differs"
pf_umount "$MNT"
pf_ctl 0 fsck "$STORE"

check "a store with only max models, mounted at level default: zstd, and a log line says why"
MONLY=$PF_WORK/max-only
pf_init_store "$MONLY"
pf_ctl 0 train --from "$SRC" --level max --net-width 32 --sample 1M "$MONLY"
pf_mount "$MONLY" "$MNT" write_codec=learned
cp "$SRC/a/one.txt" "$MNT/one.txt" || fail "cp"
pf_umount "$MNT"
has "$PF_LOG" 'default model\(s\) are above level=default: new blocks stay zstd or raw \(level=max uses them\)'
pf_ctl 0 models list "$MONLY"
ONLY=$(awk '$3 == "text" {print $1}' "$OUT")
STORE=$MONLY
[ "$(files_of "$ONLY")" -eq 0 ] || fail "a max model coded at level default"

check "-o train=auto,level=max: the mount trains a max model itself, with and without the context features"
AUTO=$PF_WORK/auto-max
pf_init_store "$AUTO"
pf_mount "$AUTO" "$MNT" train=auto,train_after=2M,recompress_after=1,level=max
for i in 1 2 3; do
	pf_gen zipf 900000 $((30 + i)) "$PF_WORK/am$i.txt"
	cp "$PF_WORK/am$i.txt" "$MNT/am$i.txt" || fail "cp am$i.txt"
done
# two networks train at low priority: minutes on a loaded machine
for ((i = 0; i < 1200; i++)); do
	grep -q 'train=auto: model of' "$PF_LOG" && break
	sleep 0.5
done
has "$PF_LOG" 'train=auto: level max: the network saves -?[0-9]+ bytes with its context features, -?[0-9]+ without$'
has "$PF_LOG" 'train=auto: model of [0-9]+ bytes .*made the default'
pf_umount "$MNT"
pf_ctl 0 models list "$AUTO"
AUTOID=$(awk '$3 == "mount" {print $1}' "$OUT")
[ -n "$AUTOID" ] || fail "no mount default: $(cat "$OUT")"
pf_ctl 0 models show "$AUTOID" "$AUTO"
has "$OUT" '^level: +max$'
has "$OUT" '^network: +width 64, embeddings 16 wide'
pf_ctl 0 fsck "$AUTO"

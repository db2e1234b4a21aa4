#!/bin/bash
# SPDX-License-Identifier: MIT
# t_import_shard.sh - priorctl import --shard I/N: three shards run at once write disjoint parts that together are the whole tree (each file by exactly one shard), a final unsharded run sets directory attributes, the mounted store equals the source; a rerun shard skips its files; shards refuse a locked store, a store without models and bad I/N.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup
[ -x "$PRIORCTL" ] || fail "no priorctl at $PRIORCTL"
command -v getfattr >/dev/null && command -v setfattr >/dev/null || fail "no getfattr/setfattr: apt-get install attr"
command -v flock >/dev/null || fail "no flock: apt-get install util-linux"

SRC=$PF_WORK/src STORE=$PF_WORK/store MNT=$PF_WORK/mnt
OUT=$PF_WORK/out ERR=$PF_WORK/err
mkdir -p "$SRC" "$MNT"


# field FILE WORD: the number before WORD in FILE's summary line.
field() {
	sed -nE "s/.* ([0-9]+) $2.*/\\1/p" "$1" | head -n 1
}

check "a source tree: 40 small files, big files, hard links, symlinks, modes, times, xattrs"
pf_gen_tree "$SRC" 51
mkdir -p "$SRC/many"
for i in $(seq 40); do
	pf_gen text $((i * 37)) "$i" "$SRC/many/f$i.txt"
done
ln "$SRC/a/small.txt" "$SRC/many/hard1"
ln "$SRC/a/small.txt" "$SRC/hard2"
chmod 0750 "$SRC/a/b"
setfattr -n user.colour -v blue "$SRC/a/small.txt"
setfattr -n user.dir -v yes "$SRC/many"
touch -d "2005-06-07 08:09:10" "$SRC/a/b/c" "$SRC/empty_dir" "$SRC/many" "$SRC/a" "$SRC"
TOTAL=$(find "$SRC" -type f -links 1 | wc -l)
TOTAL=$((TOTAL + 1)) # the hard-linked inode, copied once

check "bad --shard values and a missing store or models exit 2"
for bad in 3/3 x/2 0/0 1 -1/2 2/ /2 1/2x 0/65537; do
	pf_ctl 2 import --no-train --shard "$bad" "$SRC" "$STORE"
	has "$ERR" "^priorctl: import: --shard: expected I/N"
done
pf_ctl 2 import --no-train --shard 0/3 "$SRC" "$STORE"
has "$ERR" "with --shard, make the store before the shards run: priorctl init $STORE\$"
mkdir "$STORE"
pf_ctl 2 import --no-train --shard 0/3 "$SRC" "$STORE"
has "$ERR" "not a priorfs store; with --shard"
rmdir "$STORE"
pf_init_store "$STORE"
pf_ctl 2 import --shard 0/3 "$SRC" "$STORE"
has "$ERR" "has no models, and shards do not train: run 'priorctl train --from"
[ -z "$(ls "$STORE")" ] || fail "a refused shard wrote into the store"

check "shards refuse a store with a writer, and a writer refuses running shards"
flock -x "$STORE/.priorfs/lock" -c "'$PRIORCTL' import --no-train --shard 1/3 '$SRC' '$STORE' >'$OUT' 2>'$ERR'; echo \$? >'$PF_WORK/rc'"
[ "$(cat "$PF_WORK/rc")" = 2 ] || fail "shard under a writer lock exited $(cat "$PF_WORK/rc")"
has "$ERR" 'in use by a read-write mount or an unsharded writer'
flock -s "$STORE/.priorfs/lock" -c "'$PRIORCTL' import --no-train '$SRC' '$STORE' >'$OUT' 2>'$ERR'; echo \$? >'$PF_WORK/rc'"
[ "$(cat "$PF_WORK/rc")" = 2 ] || fail "unsharded import beside a shard exited $(cat "$PF_WORK/rc")"
flock -x "$STORE/.priorfs/shard-2-of-3.lock" -c "'$PRIORCTL' import --no-train --shard 2/3 '$SRC' '$STORE' >'$OUT' 2>'$ERR'; echo \$? >'$PF_WORK/rc'"
[ "$(cat "$PF_WORK/rc")" = 2 ] || fail "a shard run twice at once exited $(cat "$PF_WORK/rc")"
has "$ERR" 'this shard is already running'
[ -z "$(ls "$STORE")" ] || fail "a refused import wrote into the store"

check "shards 0/3, 1/3, 2/3 at once: disjoint, and together every file"
for i in 0 1 2; do
	"$PRIORCTL" import --no-train --jobs 1 --shard "$i/3" "$SRC" "$STORE" \
		>"$PF_WORK/out$i" 2>"$PF_WORK/err$i" &
	PIDS[i]=$!
done
files=0 written=0
for i in 0 1 2; do
	wait "${PIDS[i]}" || fail "shard $i/3 failed: $(cat "$PF_WORK/err$i")"
	[ ! -s "$PF_WORK/err$i" ] || fail "shard $i/3 wrote to stderr: $(cat "$PF_WORK/err$i")"
	has "$PF_WORK/out$i" "^import: shard $i/3: [0-9]+ files .* 0 already there, 0 failed\\)"
	n=$(sed -nE 's/^import: shard [0-9]\/3: ([0-9]+) files.*/\1/p' "$PF_WORK/out$i")
	w=$(field "$PF_WORK/out$i" written)
	[ "$n" = "$w" ] && [ "$n" -gt 0 ] || fail "shard $i/3 wrote $w of $n files"
	files=$((files + n)) written=$((written + w))
done
[ "$files" -eq "$TOTAL" ] && [ "$written" -eq "$TOTAL" ] ||
	fail "shards wrote $written (queued $files) files, the tree has $TOTAL"
links=$(($(field "$PF_WORK/out0" 'hard links') + $(field "$PF_WORK/out1" 'hard links') + $(field "$PF_WORK/out2" 'hard links')))
[ "$links" -eq 2 ] || fail "shards made $links hard links, want 2"
syms=$(($(field "$PF_WORK/out0" symlinks) + $(field "$PF_WORK/out1" symlinks) + $(field "$PF_WORK/out2" symlinks)))
[ "$syms" -eq 4 ] || fail "shards made $syms symlinks, want 4"
[ "$(stat -c %a "$STORE/many")" = 700 ] || fail "a shard set directory attributes"

check "a shard run again skips all its files"
pf_ctl 0 import --no-train --shard 1/3 "$SRC" "$STORE"
n=$(sed -nE 's/^import: shard 1\/3: ([0-9]+) files.*/\1/p' "$OUT")
has "$OUT" "^import: shard 1/3: $n files .* 0 written, .* $n already there, 0 failed\\)"

check "the final unsharded run writes nothing and sets directory attributes; mounted, the store equals the source"
pf_ctl 0 import --no-train "$SRC" "$STORE"
has "$OUT" "^import: $TOTAL files .* 0 written, .* $TOTAL already there, 0 failed\\), 2 hard links"
pf_mount "$STORE" "$MNT" ro
pf_same_tree "$SRC" "$MNT"
pf_umount "$MNT"

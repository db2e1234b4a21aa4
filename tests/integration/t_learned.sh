#!/bin/bash
# SPDX-License-Identifier: MIT
# t_learned.sh - the learned codec end to end through priorctl: usage errors, data-kind sniffing, import (train + copy) of a generated text tree, models list/show/gc, mount and compare, stat, writers refused while mounted, recompress to zstd and back, import resume.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup
[ -x "$PRIORCTL" ] || fail "no priorctl at $PRIORCTL"

SRC=$PF_WORK/src STORE=$PF_WORK/store MNT=$PF_WORK/mnt
OUT=$PF_WORK/out ERR=$PF_WORK/err


# blocks CODEC: number of CODEC blocks in the store (stat --json).
blocks() {
	"$PRIORCTL" stat --json "$STORE" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["total"]["blocks"][sys.argv[1]])' "$1" ||
		fail "stat --json $STORE"
}

# same_tree A B: diff -r without following links; fifos only get a note.
same_tree() {
	diff -r --no-dereference "$1" "$2" >"$PF_WORK/diff" 2>&1
	! grep -v ' is a fifo while file ' "$PF_WORK/diff" | grep -q . ||
		fail "$2 differs from $1: $(head -c 800 "$PF_WORK/diff")"
}

# gen_text DIR SEED: ~4.5 MB of prose-like text in nested files: words from
# a Zipf-distributed made-up vocabulary, sentences and paragraphs.
gen_text() {
	python3 - "$@" <<'EOF' || fail "gen_text $*"
import itertools, os, random, sys
root, rng = sys.argv[1], random.Random(int(sys.argv[2]))
syl = "ka lo mi ne ru sa te vi do pa ri en al or is un th st ch qu".split()
vocab = ["".join(rng.choice(syl) for _ in range(rng.choice((1, 2, 2, 3, 3, 4))))
         for _ in range(3000)]
cum = list(itertools.accumulate(1.0 / (i + 1) for i in range(len(vocab))))
words = iter(rng.choices(vocab, cum_weights=cum, k=900000))
ends = (".", ".", ".", "?", "!")
def paragraph():
    out = []
    for _ in range(rng.randint(2, 7)):
        s = " ".join(itertools.islice(words, rng.randint(4, 18))).capitalize()
        out.append(s + rng.choice(ends))
    return " ".join(out) + "\n\n"
for i in range(18):
    d = os.path.join(root, "part%d" % (i % 4), "sub%d" % (i % 3))
    os.makedirs(d, exist_ok=True)
    size, out, n = rng.randint(120, 380) * 1024, [], 0
    while n < size:
        p = paragraph()
        out.append(p)
        n += len(p)
    with open(os.path.join(d, "doc%02d.txt" % i), "w") as f:
        f.write("".join(out))
EOF
}

check "usage: help, bad options and arguments (exit 2)"
for cmd in train models recompress import; do
	pf_ctl 0 "$cmd" --help
	has "$OUT" "^usage: priorctl $cmd"
	pf_ctl 2 "$cmd"
	pf_ctl 2 "$cmd" --no-such-option "$PF_WORK"
done
pf_ctl 0 --help
has "$OUT" '^  recompress '
pf_ctl 2 models frob "$PF_WORK"
has "$ERR" "unknown action 'frob'"
pf_ctl 2 recompress --codec lzma "$PF_WORK"
pf_ctl 2 import --jobs 0 "$PF_WORK" "$PF_WORK/x"
pf_ctl 2 train --table-bits 30 "$PF_WORK"
pf_ctl 2 train "$PF_WORK" # not a store
has "$ERR" 'not a priorfs store'
pf_ctl 0 init "$PF_WORK/bare"
pf_ctl 1 recompress --codec learned "$PF_WORK/bare"
has "$ERR" 'no default models'

check "train sorts files into data kinds; small kinds are skipped"
K=$PF_WORK/kinds
mkdir -p "$K/d"
printf 'It was a bright cold day in April, and the clocks were striking.\n' >"$K/story"
printf '#include <stdio.h>\nint main(void) { return 0; }\n' >"$K/d/main.c"
printf '{"a": [1, 2], "b": {"c": null}}\n' >"$K/d/noext"
printf 'a,b,c\n1,2,3\n4,5,6\n7,8,9\n10,11,12\n' >"$K/t.csv"
printf 'x\ty\n1\t2\n3\t4\n5\t6\n7\t8\n' >"$K/d/table"
printf '@r1\nACGTACGTTTGA\n+\n!!##%%%%&&((**\n' >"$K/d/reads"
printf '>sp|P1|x\nMKVLAAGIVGLLLA\n' >"$K/prot.fa"
printf '> quoted\nwith a reply under it\n' >"$K/d/quote"
printf '\223NUMPY\001\000\000\000' >"$K/a.npy"
head -c 3000 /dev/urandom >"$K/d/blob"
head -c 3000 /dev/urandom >"$K/tokens.bin"
gzip -c "$K/story" >"$K/story.gz"
printf '\211PNG\r\n\032\n' >"$K/d/pic"
printf 'P5\n4 2\n255\nABCDEFGH' >"$K/d/gray" # text-like pixels, still an image
tar -cf "$K/src.tar" -C "$K/d" main.c # a tar: its first member's kind
tar -cf "$K/blobs.tar" -C "$K/d" blob
pf_ctl 0 train --from "$K" "$PF_WORK/bare"
has "$OUT" '^text +2 .* no: sample under 1M$'
has "$OUT" '^code +2 '
has "$OUT" '^structured +1 '
has "$OUT" '^tabular +2 '
has "$OUT" '^bio +2 '
has "$OUT" '^array +3 '
has "$OUT" '^binary +2 '
has "$OUT" '^compressed +2 .* no: compressed data$'
has "$OUT" '^no default models'

check "generate a text tree with links, a fifo, xattrs and odd times"
gen_text "$SRC" 7
printf 'short\n' >"$SRC/small.txt"
: >"$SRC/empty.txt"
ln -s part0/sub0/doc00.txt "$SRC/link"
ln "$SRC/part1/sub1/doc01.txt" "$SRC/hardlink.txt"
mkfifo "$SRC/fifo"
setfattr -n user.colour -v blue "$SRC/part0/sub0/doc00.txt" 2>/dev/null && XATTR=1 || XATTR=0
chmod 0640 "$SRC/part2/sub2/doc02.txt"
touch -d "2003-04-05 06:07:08.123456789" "$SRC/part3/sub0/doc03.txt"

check "import trains a model, copies the tree; models list shows a default"
pf_ctl 0 import --jobs 2 --level fast --sample 2M "$SRC" "$STORE"
has "$OUT" '^text .* yes$'
has "$OUT" '^import: 20 files .* 20 written, .* 0 failed\), 1 hard links'
pf_ctl 0 models list "$STORE"
has "$OUT" '^[0-9a-f]{16} +[0-9.]+[KM]? +text$'
MODEL=$(awk '$3 == "text" { print $1 }' "$OUT")
pf_ctl 0 models show "$MODEL" "$STORE"
has "$OUT" '^default: +text$'
has "$OUT" '^format: +4: tables of 2\^1[0-9] slots, blocks code with up to 2\^18; stride [0-9]+; (no slice|slice [0-9.]+[KM]?)$'
has "$OUT" '^files: +(1[89]|2[01])$'
LEARNED=$(blocks learned)
[ "$LEARNED" -gt 10 ] || fail "only $LEARNED learned blocks after import"

check "the mount shows the source byte for byte, with links, times, modes, xattrs"
pf_mount "$STORE" "$MNT"
same_tree "$SRC" "$MNT"
[ "$(stat -c %i "$MNT/hardlink.txt")" = "$(stat -c %i "$MNT/part1/sub1/doc01.txt")" ] ||
	fail "hard link not kept"
[ "$(readlink "$MNT/link")" = part0/sub0/doc00.txt ] || fail "symlink target differs"
[ -p "$MNT/fifo" ] || fail "fifo not copied"
[ "$(stat -c %y "$MNT/part3/sub0/doc03.txt")" = "$(stat -c %y "$SRC/part3/sub0/doc03.txt")" ] ||
	fail "mtime not kept"
[ "$(stat -c %a "$MNT/part2/sub2/doc02.txt")" = 640 ] || fail "mode not kept"
if [ "$XATTR" = 1 ]; then
	[ "$(getfattr --only-values -n user.colour "$MNT/part0/sub0/doc00.txt" 2>/dev/null)" = blue ] ||
		fail "user xattr not kept"
fi

check "writers refuse while the store is mounted read-write (exit 2)"
pf_ctl 2 recompress "$STORE"
has "$ERR" '^priorctl: recompress: .* is in use: mounted read-write'
pf_ctl 2 models gc "$STORE"
has "$ERR" 'in use'
pf_ctl 2 train "$STORE"
pf_ctl 0 models list "$STORE" # readers still work
pf_umount "$MNT"

check "recompress --codec zstd, then auto: times kept, data identical"
MTIME=$(stat -c %y "$STORE/part3/sub0/doc03.txt")
pf_ctl 0 recompress --codec zstd --jobs 2 "$STORE"
has "$OUT" '^recompress: 21 files: 1[0-9] re-encoded .* 0 failed'
[ "$(blocks learned)" -eq 0 ] || fail "learned blocks left after recompress --codec zstd"
pf_ctl 0 recompress --codec zstd "$STORE" # nothing left to do: resumable
has "$OUT" ' 0 re-encoded .* 21 already current'
pf_ctl 0 recompress "$STORE"
[ "$(blocks learned)" -eq "$LEARNED" ] ||
	fail "$(blocks learned) learned blocks after recompress, want $LEARNED"
[ "$(stat -c %y "$STORE/part3/sub0/doc03.txt")" = "$MTIME" ] || fail "recompress changed an mtime"
pf_ctl 0 fsck "$STORE"
pf_mount "$STORE" "$MNT" ro
same_tree "$SRC" "$MNT"
pf_umount "$MNT"

check "recompress records a file auto left with zstd blocks: the next run skips it, a write does not"
# 1 KiB of noise repeated: zstd codes each block smaller than the model.
python3 -c 'import os, sys; sys.stdout.buffer.write(os.urandom(1024) * 512)' >"$PF_WORK/rep.bin" ||
	fail "make rep.bin"
pf_mount "$STORE" "$MNT"
cp "$PF_WORK/rep.bin" "$MNT/rep.bin" || fail "cp rep.bin"
pf_umount "$MNT"
ZSTD=$(blocks zstd)
pf_ctl 0 recompress "$STORE"
has "$OUT" '^recompress: 22 files: 1 re-encoded .* 21 already current, 0 failed'
[ "$(blocks zstd)" -eq "$ZSTD" ] || fail "zstd no longer wins on rep.bin: $(blocks zstd) zstd blocks"
[ "$(wc -l <"$STORE/.priorfs/recompress-tried")" -eq 1 ] || fail "no single record for rep.bin"
pf_ctl 0 recompress "$STORE" # before the record, rep.bin was coded on every run
has "$OUT" '^recompress: 22 files: 0 re-encoded .* 22 already current, 0 failed'
pf_mount "$STORE" "$MNT"
printf 'x' >>"$MNT/rep.bin" || fail "append to rep.bin"
pf_umount "$MNT"
pf_ctl 0 recompress "$STORE"
has "$OUT" '^recompress: 22 files: 1 re-encoded .* 21 already current, 0 failed'
[ "$(wc -l <"$STORE/.priorfs/recompress-tried")" -eq 1 ] || fail "the stale record was kept"
# A damaged record (a torn line, junk, a long line) only makes the file be coded again.
{ head -c 30 "$STORE/.priorfs/recompress-tried"; printf '\n\377\000junk\n'; head -c 5000 /dev/zero | tr '\0' 'a'; } \
	>"$PF_WORK/torn" && mv "$PF_WORK/torn" "$STORE/.priorfs/recompress-tried" || fail "damage the record"
pf_ctl 0 recompress "$STORE"
has "$OUT" '^recompress: 22 files: 1 re-encoded .* 21 already current, 0 failed'
pf_ctl 0 recompress "$STORE"
has "$OUT" '^recompress: 22 files: 0 re-encoded .* 22 already current, 0 failed'
# Another zstd level is another target: the file's zstd blocks are coded at it.
pf_ctl 0 recompress --zstd-level 3 "$STORE"
has "$OUT" '^recompress: 22 files: 1 re-encoded .* 21 already current, 0 failed'
pf_ctl 0 recompress --zstd-level 3 "$STORE"
has "$OUT" '^recompress: 22 files: 0 re-encoded .* 22 already current, 0 failed'
pf_ctl 0 fsck "$STORE"
rm "$STORE/rep.bin"

check "import resumes: only a file left unfinished is written again"
touch "$STORE/part0/sub0/doc00.txt" # as if the run stopped before its times were set
pf_ctl 0 import --no-train "$SRC" "$STORE"
has "$OUT" '^import: 20 files .* 1 written, .* 19 already there, 0 failed'

check "models gc removes an unreferenced model and keeps the one in use"
JUNK=$(head -c 4096 /dev/urandom | tee "$PF_WORK/junk" | sha256sum | cut -c1-64)
cp "$PF_WORK/junk" "$STORE/.priorfs/models/$JUNK"
pf_ctl 0 models gc --dry-run "$STORE"
has "$OUT" "^would remove ${JUNK:0:16} "
[ -e "$STORE/.priorfs/models/$JUNK" ] || fail "gc --dry-run removed a model"
pf_ctl 0 models gc "$STORE"
has "$OUT" "^removed ${JUNK:0:16} "
has "$OUT" '1 removed, 1 kept'
[ ! -e "$STORE/.priorfs/models/$JUNK" ] || fail "unreferenced model not removed"
pf_ctl 0 models list "$STORE"
has "$OUT" "^$MODEL "
pf_ctl 0 fsck "$STORE"

check "the sample is made like the kind's bytes: a big file gives most of it"
mkdir -p "$PF_WORK/mixed" || fail mkdir
pf_gen zipf 4M 21 "$PF_WORK/mixed/big.txt"
pf_gen zipf 300K 22 "$PF_WORK/mixed/small1.txt"
pf_gen zipf 300K 23 "$PF_WORK/mixed/small2.txt"
pf_init_store "$PF_WORK/s-mixed"
pf_ctl 0 train -v --from "$PF_WORK/mixed" --sample 2M "$PF_WORK/s-mixed"
# 2M = 8 pieces of 256K: by size big.txt's share is 8 x 4M / 4.6M = 6.9,
# each small file's 0.5 (at least one piece); round-robin gave 4, 2, 2.
has "$ERR" '^priorfs: sample: big.txt: text, 6 piece\(s\), 1572864 bytes, of its 4194304 bytes$'
has "$ERR" '^priorfs: sample: small1.txt: text, 1 piece\(s\), 262144 bytes, of its 307200 bytes$'
has "$ERR" '^priorfs: sample: small2.txt: text, 1 piece\(s\), 262144 bytes, of its 307200 bytes$'

check "sample pieces are whole 8-byte units, whatever the file sizes and the cap"
mkdir -p "$PF_WORK/odd" || fail mkdir
pf_gen zipf 786439 24 "$PF_WORK/odd/a.txt"
pf_gen zipf 400003 25 "$PF_WORK/odd/b.txt"
pf_gen zipf 5 26 "$PF_WORK/odd/c.txt"
pf_init_store "$PF_WORK/s-odd"
pf_ctl 0 train -v --from "$PF_WORK/odd" --sample 1048577 "$PF_WORK/s-odd"
# Without whole units b.txt gave all 400003 bytes and a.txt's third piece
# was what the cap had left, 124289 bytes; c.txt (5 bytes) gives none.
has "$ERR" '^priorfs: sample: a.txt: text, 3 piece\(s\), 648576 bytes, of its 786439 bytes$'
has "$ERR" '^priorfs: sample: b.txt: text, 2 piece\(s\), 400000 bytes, of its 400003 bytes$'
! grep -q 'sample: c.txt' "$ERR" || fail "a 5-byte file gave a piece"

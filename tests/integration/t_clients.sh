#!/bin/bash
# SPDX-License-Identifier: MIT
# t_clients.sh - real clients on the mount: numpy memmap (.npy, uint16 token shard), PyTorch DataLoader with workers, sqlite3 under random writes, git clone/fsck/commit, rsync -aHAX and tar --xattrs round trips.
#
# Missing client packages fail the test (never skip it): CI installs them with
# contrib/install-deps.sh --ci. Debian's numpy and torch exist only for
# /usr/bin/python3, so that interpreter is called by path.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup
[ -x "$PRIORCTL" ] || fail "no priorctl at $PRIORCTL"

PY=/usr/bin/python3
CLIENTS=$top_srcdir/tests/integration/clients.py
STORE=$PF_WORK/store MNT=$PF_WORK/mnt PLAIN=$PF_WORK/plain
APT="apt-get install -y python3-numpy python3-torch sqlite3 git rsync attr"

check "client programs are installed"
for mod in numpy torch; do
	"$PY" -c "import $mod" 2>/dev/null || fail "$PY cannot import $mod; run: $APT"
done
for cmd in sqlite3 git rsync tar getfattr setfattr mkfifo; do
	command -v "$cmd" >/dev/null || fail "no $cmd; run: $APT"
done

# same FILE_A FILE_B WHAT: the two files are equal, else fails with a diff.
same() {
	diff "$1" "$2" >"$PF_WORK/diff" || fail "$3 differ: $(head -c 1500 "$PF_WORK/diff")"
}

pf_init_store "$STORE"
pf_mount "$STORE" "$MNT" block_size=64K
mkdir -p "$PLAIN"

# ---- numpy --------------------------------------------------------------------

check "numpy: np.save and w+ memmaps write .npy files and a uint16 token shard on the mount"
mkdir "$MNT/np" || fail "mkdir np"
"$PY" "$CLIENTS" npy-write "$MNT/np" 11 || fail "numpy writes on the mount"

check "numpy: np.load(mmap_mode='r') and np.memmap read them back, whole, in windows and strided"
"$PY" "$CLIENTS" npy-check "$MNT/np" 11 || fail "numpy reads through the page cache"
pf_drop_caches
"$PY" "$CLIENTS" npy-check "$MNT/np" 11 || fail "numpy reads after dropping caches"

# ---- PyTorch ----------------------------------------------------------------

check "torch: 3000 small files and 3 large ones copied onto the mount"
"$PY" "$CLIENTS" small-tree "$PLAIN/ds" 21 3000 || fail "generate the dataset"
cp -a "$PLAIN/ds" "$MNT/ds" || fail "cp -a the dataset onto the mount"

# ---- sqlite3 ----------------------------------------------------------------

check "sqlite3: random INSERT/UPDATE/DELETE transactions, rollback journal and WAL, same as on a plain dir"
mkdir "$MNT/db" "$PLAIN/db" || fail "mkdir db"
for j in delete wal; do
	"$PY" "$CLIENTS" sqlite-run "$PLAIN/db/$j.db" "$j" 31 >"$PF_WORK/db-$j.want" ||
		fail "sqlite workload ($j) on a plain dir"
	"$PY" "$CLIENTS" sqlite-run "$MNT/db/$j.db" "$j" 31 >"$PF_WORK/db-$j.got" ||
		fail "sqlite workload ($j) on the mount"
	has "$PF_WORK/db-$j.got" '^ok rows=[0-9]{3,} '
	same "$PF_WORK/db-$j.want" "$PF_WORK/db-$j.got" "sqlite integrity/rows/checksum ($j)"
done
sqlite3 "$PLAIN/db/delete.db" .dump >"$PF_WORK/dump.want" || fail "sqlite3 .dump plain"
sqlite3 "$MNT/db/delete.db" .dump >"$PF_WORK/dump.got" || fail "sqlite3 .dump on the mount"
same "$PF_WORK/dump.want" "$PF_WORK/dump.got" "sqlite3 .dump outputs"

# ---- git ----------------------------------------------------------------------

export HOME=$PF_WORK GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org \
	GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.org
git config --global init.defaultBranch main
git config --global safe.directory '*'

check "git: a repository with a few commits cloned onto the mount passes git fsck --full"
R=$PLAIN/repo
git init -q "$R" || fail "git init"
cp "$CLIENTS" "$R/clients.py" && pf_gen text 300K 41 "$R/notes.txt" && pf_gen random 200K 42 "$R/blob.bin" &&
	git -C "$R" add -A && git -C "$R" commit -qm one || fail "first commit"
for i in 2 3 4 5; do
	pf_gen text 20K "$((50 + i))" "$R/f$i.txt" && sed -i "${i}0,${i}9d" "$R/notes.txt" &&
		git -C "$R" add -A && git -C "$R" commit -qm "commit $i" || fail "commit $i"
done
git -C "$R" mv f2.txt moved.txt && git -C "$R" rm -q f3.txt && git -C "$R" commit -qm "mv and rm" ||
	fail "commit mv/rm"
git -C "$R" tag v1 && git -C "$R" gc -q || fail "tag and gc"
git clone -q "file://$R" "$MNT/repo" || fail "git clone onto the mount"
git -C "$MNT/repo" fsck --full --strict 2>&1 || fail "git fsck on the mount"
git -C "$R" log --format='%H %T %s' >"$PF_WORK/log.want"
git -C "$MNT/repo" log --format='%H %T %s' >"$PF_WORK/log.got" || fail "git log on the mount"
same "$PF_WORK/log.want" "$PF_WORK/log.got" "git log outputs"
[ -z "$(git -C "$MNT/repo" status --porcelain)" ] || fail "fresh clone on the mount is not clean"

check "git: a commit and gc on the mount, then a clone back out has the same history"
pf_gen text 50K 61 "$MNT/repo/new.txt" && echo change >>"$MNT/repo/notes.txt" &&
	git -C "$MNT/repo" add -A && git -C "$MNT/repo" commit -qm "on the mount" || fail "commit on the mount"
git -C "$MNT/repo" gc -q --aggressive || fail "git gc on the mount"
git -C "$MNT/repo" fsck --full --strict 2>&1 || fail "git fsck after commit and gc"
git clone -q "file://$MNT/repo" "$PLAIN/back" || fail "git clone from the mount"
git -C "$PLAIN/back" fsck --full --strict 2>&1 || fail "git fsck of the clone out"
git -C "$MNT/repo" log --format='%H %T %s' >"$PF_WORK/log.want"
git -C "$PLAIN/back" log --format='%H %T %s' >"$PF_WORK/log.got"
same "$PF_WORK/log.want" "$PF_WORK/log.got" "git log of the mount and the clone out"
[ "$(wc -l <"$PF_WORK/log.got")" -eq 7 ] || fail "want 7 commits, have $(wc -l <"$PF_WORK/log.got")"
cmp "$MNT/repo/new.txt" "$PLAIN/back/new.txt" || fail "file committed on the mount differs"

# ---- rsync and tar ----------------------------------------------------------------

# make_tree DIR: modes (setgid and sticky dirs, 0600/0444/setuid files), owners,
# nanosecond mtimes, symlinks (dangling too), a 3-link hard link group, a
# fifo and user xattrs (binary and empty values) on files and directories
# (the kernel allows user.* only there).
make_tree() {
	local d=$1
	mkdir -p "$d/sgid/sub" "$d/private" "$d/sticky" || fail "mkdir tree"
	pf_gen text 150K 71 "$d/sgid/text.txt" && pf_gen random 70K 72 "$d/private/key" &&
		pf_gen mixed 1M 73 "$d/mixed.bin" && : >"$d/empty" && printf 'x' >"$d/sgid/sub/one" &&
		printf '#!/bin/sh\n' >"$d/suid" || fail "files"
	ln "$d/sgid/text.txt" "$d/private/hard2" && ln "$d/sgid/text.txt" "$d/hard3" || fail "hard links"
	ln -s sgid/text.txt "$d/rel" && ln -s /nonexistent/target "$d/dangling" &&
		ln -s ../mixed.bin "$d/sgid/up" || fail "symlinks"
	mkfifo -m 0640 "$d/fifo" || fail "mkfifo"
	chmod 2775 "$d/sgid" && chmod 0700 "$d/private" && chmod 1777 "$d/sticky" &&
		chmod 0600 "$d/private/key" && chmod 0444 "$d/mixed.bin" && chmod 4755 "$d/suid" ||
		fail "chmod"
	chown 1234:5678 "$d/private/key" "$d/sgid" && chown -h 4321:8765 "$d/rel" || fail "chown"
	setfattr -n user.colour -v blue "$d/sgid/text.txt" &&
		setfattr -n user.bin -v 0x00ff10e2 "$d/mixed.bin" && setfattr -n user.empty "$d/empty" &&
		setfattr -n user.dir -v yes "$d/sgid"  ||
		fail "setfattr (the work dir's file system needs user xattrs)"
	# Every entry gets an old time: rsync leaves alone a symlink or fifo whose
	# mtime is in the same second as the source's, ignoring nanoseconds.
	find "$d" -exec touch -h -d "2005-05-05 05:05:05.555555555" {} + &&
		touch -h -d "2001-02-03 04:05:06.123456789" "$d/rel" "$d/dangling" &&
		touch -d "1999-12-31 23:59:59.5" "$d/private/key" && touch -d "2020-01-01 00:00:01" "$d/empty" &&
		touch -d "2010-10-10 10:10:10.000000001" "$d/sgid/sub" "$d/sgid" "$d/private" "$d/sticky" "$d" ||
		fail "touch"
}

# same_tree A B WHAT: rsync sees nothing to change (content compared too),
# and the stat/xattr/content dumps and getfattr dumps of A and B are equal.
same_tree() {
	rsync -naHAXc --delete --itemize-changes "$1/" "$2/" >"$PF_WORK/itemize" ||
		fail "rsync -n $1 $2"
	[ ! -s "$PF_WORK/itemize" ] || fail "$3: rsync would change: $(head -c 1500 "$PF_WORK/itemize")"
	"$PY" "$CLIENTS" tree-dump "$1" >"$PF_WORK/dump.a" || fail "tree-dump $1"
	"$PY" "$CLIENTS" tree-dump "$2" >"$PF_WORK/dump.b" || fail "tree-dump $2"
	same "$PF_WORK/dump.a" "$PF_WORK/dump.b" "$3: stat/xattr dumps"
	(cd "$1" && find . -print0 | sort -z | xargs -0 getfattr -h -d -e hex -m - 2>&1) >"$PF_WORK/gfa.a"
	(cd "$2" && find . -print0 | sort -z | xargs -0 getfattr -h -d -e hex -m - 2>&1) >"$PF_WORK/gfa.b"
	same "$PF_WORK/gfa.a" "$PF_WORK/gfa.b" "$3: getfattr dumps"
}

check "rsync -aHAX and tar --xattrs copy a tree with modes, owners, times, links, a fifo and xattrs onto the mount"
make_tree "$PLAIN/tree"
rsync -aHAX "$PLAIN/tree/" "$MNT/rsync/" || fail "rsync -aHAX onto the mount"
mkdir "$MNT/tar" && tar --xattrs --xattrs-include='*' -C "$PLAIN/tree" -cf - . |
	tar --xattrs --xattrs-include='*' --numeric-owner -C "$MNT/tar" -xpf - || fail "tar onto the mount"
same_tree "$PLAIN/tree" "$MNT/rsync" "rsync plain->mount"
grep -q '^# file: mixed.bin' "$PF_WORK/gfa.b" && grep -q '^user.bin=0x00ff10e2' "$PF_WORK/gfa.b" ||
	fail "getfattr dump of the mount lacks user.bin: $(head -c 800 "$PF_WORK/gfa.b")"
same_tree "$PLAIN/tree" "$MNT/tar" "tar plain->mount"

# ---- after a remount: everything reads back from the store -------------------------

check "after a remount: numpy arrays, the DataLoader dataset, databases, repository and trees"
pf_remount "$STORE" "$MNT"
"$PY" "$CLIENTS" npy-check "$MNT/np" 11 || fail "numpy reads after remount"
"$PY" "$CLIENTS" torch-read "$PLAIN/ds" "$MNT/ds" || fail "DataLoader over the mount"
for j in delete wal; do
	"$PY" "$CLIENTS" db-summary "$MNT/db/$j.db" >"$PF_WORK/db-$j.got" || fail "db-summary $j"
	same "$PF_WORK/db-$j.want" "$PF_WORK/db-$j.got" "sqlite after remount ($j)"
done
git -C "$MNT/repo" fsck --full --strict 2>&1 || fail "git fsck after remount"
[ -z "$(git -C "$MNT/repo" status --porcelain)" ] || fail "repository on the mount not clean after remount"
same_tree "$PLAIN/tree" "$MNT/rsync" "rsync copy after remount"
same_tree "$PLAIN/tree" "$MNT/tar" "tar copy after remount"

check "rsync -aHAX and tar back out of the mount give the original tree"
rsync -aHAX "$MNT/rsync/" "$PLAIN/rsync-out/" || fail "rsync -aHAX out of the mount"
same_tree "$PLAIN/tree" "$PLAIN/rsync-out" "rsync mount->plain"
mkdir "$PLAIN/tar-out" && tar --xattrs --xattrs-include='*' -C "$MNT/tar" -cf - . |
	tar --xattrs --xattrs-include='*' --numeric-owner -C "$PLAIN/tar-out" -xpf - || fail "tar out of the mount"
same_tree "$PLAIN/tree" "$PLAIN/tar-out" "tar mount->plain"

check "new entries in a setgid directory get its group (and subdirectories the bit) as on the plain dir"
for d in "$PLAIN/rsync-out" "$MNT/rsync"; do
	mkdir "$d/sgid/newdir" && : >"$d/sgid/newfile" || fail "create in $d/sgid"
	stat -c '%n %g %A' "$d/sgid/newdir" "$d/sgid/newfile" | sed "s|^$d/||"
done >"$PF_WORK/sgid"
[ "$(sed -n 1,2p "$PF_WORK/sgid")" = "$(sed -n 3,4p "$PF_WORK/sgid")" ] ||
	fail "setgid inheritance differs: $(cat "$PF_WORK/sgid")"
has "$PF_WORK/sgid" '^sgid/newdir 5678 d.{5}s'
pf_umount "$MNT"

check "numpy: the same arrays in a learned-codec store (priorctl import trains on the token shard)"
LSTORE=$PF_WORK/lstore
mkdir -p "$PLAIN/np" "$PLAIN/tok" || fail "mkdir"
"$PY" "$CLIENTS" npy-write "$PLAIN/np" 11 || fail "numpy writes on a plain dir"
ln "$PLAIN/np/tokens.bin" "$PLAIN/tok/tokens.bin" || fail "ln tokens.bin"
pf_ctl 0 import --jobs 2 --level fast --sample 2M "$PLAIN/tok" "$LSTORE"
has "$OUT" '^array .* yes$'
pf_ctl 0 import --no-train "$PLAIN/np" "$LSTORE" # the .npy files; tokens.bin is already there
pf_ctl 0 stat --json "$LSTORE"
learned=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["total"]["blocks"]["learned"])' <"$OUT") ||
	fail "stat --json of $LSTORE"
[ "$learned" -gt 0 ] || fail "no learned blocks in $LSTORE"
pf_mount "$LSTORE" "$MNT" ro
"$PY" "$CLIENTS" npy-check "$MNT" 11 || fail "numpy reads from the learned-codec store"
pf_umount "$MNT"

check "priorctl fsck finds every block of both stores sound"
pf_ctl 0 fsck "$STORE"
pf_ctl 0 fsck "$LSTORE"

#!/bin/bash
# SPDX-License-Identifier: MIT
# t_security.sh - other users' permissions, any-byte names, planted symlinks, the hidden metadata dir, an unprivileged daemon.
#
# The permission checks run the same probe as uid 65534 (nobody) on a plain
# directory and on a mount with allow_other,default_permissions, and diff
# the two. Planted symlinks sit in a store one level deeper than the mount
# point, so a relative target names one place when the daemon follows it in
# the store and another when the kernel follows it through the mount; the
# files the daemon must never touch are fingerprinted (owner, mode, times
# with atime older than mtime so that any read moves it, xattrs, contents).
# The unprivileged daemon runs in a private mount namespace with a
# bind-mounted /etc/fuse.conf, so the real one is never edited.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
pf_setup

for tool in setpriv unshare mount; do
	command -v "$tool" >/dev/null || fail "$tool (util-linux) is needed and missing"
done
NOBODY=65534
AS_NOBODY=(setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups --)
# A python3 that nobody can run (root's may live under a 0700 home).
for PY_NOBODY in /usr/bin/python3 "$(command -v python3)" ""; do
	[ -n "$PY_NOBODY" ] && "${AS_NOBODY[@]}" "$PY_NOBODY" -c "" 2>/dev/null && break
done
[ -n "$PY_NOBODY" ] || fail "no python3 that uid $NOBODY may run"
# Other users must be able to reach what this test hands them.
chmod 0755 "$PF_WORK" || fail "chmod $PF_WORK"
W=$PF_WORK STORE=$PF_WORK/deep/store MNT=$PF_WORK/mnt REF=$PF_WORK/ref
mkdir -p "$W/deep" "$REF" && chmod 0755 "$W/deep" "$REF" || fail "mkdir"
pf_init_store "$STORE"

# ---- 1. permissions for another user ----------------------------------------

cat >"$W/perm.py" <<'EOF'
import errno, os, subprocess, sys
NOBODY = 65534
what, top = sys.argv[1], sys.argv[2]
os.chdir(top)
os.umask(0o022)

def put(path, data, mode, owner=None):
    with open(path, "wb") as f:
        f.write(data)
    if owner:
        os.chown(path, *owner)
    os.chmod(path, mode)

def setup():
    put("pub.txt", b"public\n", 0o644)
    put("priv.txt", b"secret\n", 0o600)
    os.mkdir("closed", 0o700)
    put("closed/inner.txt", b"in\n", 0o644)
    os.mkdir("noexec")
    put("noexec/file", b"x", 0o644)
    os.chmod("noexec", 0o644)
    os.mkdir("rootdir", 0o755)
    os.mkdir("tmp")
    os.chmod("tmp", 0o1777)
    put("tmp/rootfile", b"root\n", 0o666)
    os.mkdir("shared")
    os.chmod("shared", 0o777)
    put("shared/rootfile", b"r\n", 0o644)
    put("suid", b"abc", 0o4777)
    os.mkdir("sgid")
    os.chown("sgid", 0, 4321)
    os.chmod("sgid", 0o2777)
    put("exec.sh", b"#!/bin/sh\necho ran\n", 0o755)
    put("noexec.sh", b"#!/bin/sh\necho ran\n", 0o644)
    put("nobodys.txt", b"mine\n", 0o644, (NOBODY, NOBODY))
    put("grp.txt", b"g\n", 0o640, (0, NOBODY))
    put("grp2.txt", b"g\n", 0o604, (0, NOBODY))

def probe():
    def t(label, fn):
        try:
            r = fn()
            print("%s: OK%s" % (label, "" if r is None else " %s" % (r,)))
        except OSError as e:
            print("%s: %s" % (label, errno.errorcode[e.errno]))
    def rd(p):
        with open(p, "rb") as f:
            return f.read().decode("latin1").strip()
    def app(p):
        with open(p, "ab") as f:
            f.write(b"more")
    def st(p):
        s = os.lstat(p)
        return "%d:%d %o" % (s.st_uid, s.st_gid, s.st_mode)
    def run(p):
        return subprocess.run([p], capture_output=True, check=True).stdout.decode().strip()
    t("read pub", lambda: rd("pub.txt"))
    t("append pub", lambda: app("pub.txt"))
    t("open pub O_RDONLY|O_TRUNC", lambda: os.close(os.open("pub.txt", os.O_RDONLY | os.O_TRUNC)))
    t("truncate pub", lambda: os.truncate("pub.txt", 0))
    t("read priv", lambda: rd("priv.txt"))
    t("stat closed/inner", lambda: st("closed/inner.txt"))
    t("list closed", lambda: os.listdir("closed"))
    t("list noexec", lambda: sorted(os.listdir("noexec")))
    t("stat noexec/file", lambda: st("noexec/file"))
    t("create rootdir/new", lambda: open("rootdir/new", "w").close())
    t("mkdir rootdir/d", lambda: os.mkdir("rootdir/d"))
    t("rename pub", lambda: os.rename("pub.txt", "pub2"))
    t("unlink pub", lambda: os.unlink("pub.txt"))
    t("chmod pub", lambda: os.chmod("pub.txt", 0o666))
    t("chown pub", lambda: os.chown("pub.txt", NOBODY, -1))
    t("utime pub to a value", lambda: os.utime("pub.txt", (1, 1)))
    t("utime pub to now", lambda: os.utime("pub.txt"))
    t("setxattr pub", lambda: os.setxattr("pub.txt", "user.x", b"1"))
    t("access pub W", lambda: os.access("pub.txt", os.W_OK))
    t("access pub R", lambda: os.access("pub.txt", os.R_OK))
    t("create tmp/mine", lambda: open("tmp/mine", "w").close())
    t("stat tmp/mine", lambda: st("tmp/mine"))
    t("append tmp/rootfile", lambda: app("tmp/rootfile"))
    t("read tmp/rootfile", lambda: rd("tmp/rootfile"))
    t("unlink tmp/rootfile", lambda: os.unlink("tmp/rootfile"))
    t("rename tmp/rootfile", lambda: os.rename("tmp/rootfile", "tmp/stolen"))
    t("rename over tmp/rootfile", lambda: os.rename("tmp/mine", "tmp/rootfile"))
    t("rename tmp/mine", lambda: os.rename("tmp/mine", "tmp/kept"))
    t("link priv into tmp", lambda: os.link("priv.txt", "tmp/hl"))
    t("symlink to priv", lambda: os.symlink("../priv.txt", "tmp/sl"))
    t("read through symlink", lambda: rd("tmp/sl"))
    t("mkdir tmp/mydir", lambda: os.mkdir("tmp/mydir", 0o700))
    t("stat tmp/mydir", lambda: st("tmp/mydir"))
    t("unlink shared/rootfile", lambda: os.unlink("shared/rootfile"))
    t("write suid", lambda: app("suid"))
    t("stat suid", lambda: st("suid"))
    t("create sgid/f", lambda: open("sgid/f", "w").close())
    t("stat sgid/f", lambda: st("sgid/f"))
    t("mkdir sgid/d", lambda: os.mkdir("sgid/d"))
    t("stat sgid/d", lambda: st("sgid/d"))
    t("exec exec.sh", lambda: run("./exec.sh"))
    t("exec noexec.sh", lambda: run("./noexec.sh"))
    t("chmod nobodys", lambda: os.chmod("nobodys.txt", 0o600))
    t("stat nobodys", lambda: st("nobodys.txt"))
    t("chown nobodys to root", lambda: os.chown("nobodys.txt", 0, -1))
    t("chgrp nobodys to 0", lambda: os.chown("nobodys.txt", -1, 0))
    t("chgrp nobodys to own group", lambda: os.chown("nobodys.txt", -1, NOBODY))
    t("utime nobodys to a value", lambda: os.utime("nobodys.txt", (1, 1)))
    t("setxattr nobodys", lambda: os.setxattr("nobodys.txt", "user.x", b"1"))
    t("getxattr nobodys", lambda: os.getxattr("nobodys.txt", "user.x"))
    t("read grp", lambda: rd("grp.txt"))
    t("read grp2", lambda: rd("grp2.txt"))

setup() if what == "setup" else probe()
EOF
chmod 0644 "$W/perm.py"

# perm_run DIR OUT: sets DIR/perm up as root, probes it as nobody into OUT.
perm_run() {
	mkdir -p "$1/perm" && chmod 0755 "$1/perm" || fail "mkdir $1/perm"
	python3 "$W/perm.py" setup "$1/perm" || fail "permission setup in $1"
	"${AS_NOBODY[@]}" "$PY_NOBODY" "$W/perm.py" probe "$1/perm" >"$2" 2>&1 ||
		fail "permission probe in $1: $(tail -n 5 "$2")"
}

check "another user sees the same permission results on the mount as on a plain dir"
pf_mount "$STORE" "$MNT" allow_other,default_permissions
perm_run "$REF" "$W/perm.ref"
perm_run "$MNT" "$W/perm.mnt"
diff -u "$W/perm.ref" "$W/perm.mnt" || fail "permission results differ (- plain dir, + mount)"
# The reference itself must show real refusals, or the diff proves nothing.
for want in "append pub: EACCES" "read priv: EACCES" "list closed: EACCES" \
	"chmod pub: EPERM" "unlink tmp/rootfile: EPERM" "stat tmp/mine: OK 65534:65534 100644" \
	"stat suid: OK 0:0 100777" "stat sgid/f: OK 65534:4321 100644" \
	"stat sgid/d: OK 65534:4321 42755" "exec noexec.sh: EACCES" "exec exec.sh: OK ran" \
	"read grp2: EACCES" "chgrp nobodys to 0: EPERM" "open pub O_RDONLY|O_TRUNC: EACCES"; do
	grep -Fxq "$want" "$W/perm.mnt" || fail "mount probe lacks '$want'"
done
[ "$(stat -c %u:%g "$STORE/perm/tmp/kept")" = $NOBODY:$NOBODY ] ||
	fail "a file nobody created is not nobody's in the store"
[ "$(cat "$MNT/perm/pub.txt")" = public ] || fail "pub.txt changed"

# acl_run DIR OUT: POSIX ACLs set up as root in DIR/acl (named user and
# group entries, a mask below the owning group's entry, default ACLs with a
# umask they must override, and a umask without one), then probed as
# nobody; OUT gets the probe and getfacl of the whole tree.
acl_run() {
	local d=$1/acl
	mkdir -p "$d" && chmod 0755 "$d" || fail "mkdir $d"
	(
		cd "$d" || exit 1
		set -e
		echo named >named && chmod 0640 named && setfacl -m u:$NOBODY:r named
		echo masked >masked && chmod 0664 masked && chgrp $NOBODY masked &&
			setfacl -m g::rw-,u:0:rw-,m::r-- masked
		echo denied >denied && chmod 0644 denied && setfacl -m u:$NOBODY:--- denied
		mkdir inherit && setfacl -d -m u:$NOBODY:rwx,g::r-x,o::--- inherit
		(umask 077 && echo new >inherit/f && mkdir inherit/sub)
		mkdir plain && (umask 027 && echo new >plain/f && mkdir plain/sub)
		chmod 0750 plain && setfacl -m u:$NOBODY:r-x plain
	) || fail "ACL setup in $1"
	{
		for f in named masked denied inherit/f plain/f; do
			if "${AS_NOBODY[@]}" cat "$d/$f" >/dev/null 2>&1; then echo "read $f: OK"; else echo "read $f: denied"; fi
			if "${AS_NOBODY[@]}" sh -c ": >>'$d/$f'" 2>/dev/null; then echo "append $f: OK"; else echo "append $f: denied"; fi
		done
		"${AS_NOBODY[@]}" ls "$d/plain" >/dev/null 2>&1 && echo "list plain: OK" || echo "list plain: denied"
		(cd "$d" && stat -c '%n %a' named masked denied inherit/f inherit/sub plain/f plain/sub)
	} >"$2"
	(cd "$d" && getfacl -R -p -n .) >"$2.facl" 2>&1 || fail "getfacl in $1"
}

check "POSIX ACLs: nobody gets the same results on the mount as on a plain dir"
command -v setfacl >/dev/null || fail "setfacl (package acl) is needed and missing"
acl_run "$REF" "$W/acl.ref"
acl_run "$MNT" "$W/acl.mnt"
diff -u "$W/acl.ref" "$W/acl.mnt" || fail "ACL results differ (- plain dir, + mount)"
diff -u "$W/acl.ref.facl" "$W/acl.mnt.facl" || fail "getfacl differs (- plain dir, + mount)"
for want in "read named: OK" "append named: denied" "read masked: OK" "append masked: denied" 	"read denied: denied" "read inherit/f: OK" "read plain/f: denied" "list plain: OK" 	"append inherit/f: OK" "inherit/f 660" "inherit/sub 770" "plain/f 640" "plain/sub 750"; do
	grep -Fxq "$want" "$W/acl.mnt" || fail "ACL probe lacks '$want'"
done
for want in "default:user:$NOBODY:rwx" "user:0:rw-"$'\t'"#effective:r--" "group::rw-"$'\t'"#effective:r--"; do
	grep -Fq "$want" "$W/acl.mnt.facl" || fail "getfacl on the mount lacks '$want'"
done
pf_remount "$STORE" "$MNT" allow_other,default_permissions
(cd "$MNT/acl" && getfacl -R -p -n .) 2>&1 | diff -u "$W/acl.mnt.facl" - || fail "ACLs changed across a remount"

check "without allow_other another user cannot enter the mount at all"
pf_init_store "$W/store2"
pf_mount "$W/store2" "$W/mnt2"
chmod 0755 "$W/mnt2" || fail "chmod mnt2"
err=$("${AS_NOBODY[@]}" stat "$W/mnt2" 2>&1) && fail "nobody could stat a mount without allow_other"
[[ $err == *"Permission denied"* ]] || fail "stat without allow_other: $err"
pf_umount "$W/mnt2"

# ---- 2. names with any bytes -------------------------------------------------

# expect_err(label, errno, fn): fn must fail with exactly that errno.
cat >"$W/expect.py" <<'EOF'
import errno, sys
def expect_err(label, err, fn):
    try:
        r = fn()
    except OSError as e:
        if e.errno != err:
            sys.exit("%s: %s, want %s" % (label, errno.errorcode[e.errno], errno.errorcode[err]))
        return
    sys.exit("%s succeeded (%r), want %s" % (label, r, errno.errorcode[err]))
EOF
export PYTHONPATH=$W

cat >"$W/names.py" <<'EOF'
import errno, os, sys
what, top = sys.argv[1], sys.argv[2].encode()
ALL = bytes(b for b in range(1, 256) if b != 0x2F)
NAMES = [bytes([b]) * 3 for b in range(1, 256) if b != 0x2F]
NAMES += [ALL, b"\n", b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b" ", b"-n", b"\\",
          b"a" * 255, b"\xff" * 255, (ALL + ALL)[:255], b"\n" * 255]
RENAMED = [b"r" + (n[1:] if len(n) == 255 else n) for n in NAMES]
assert len(set(NAMES)) == len(NAMES) == len(set(RENAMED)) and not set(NAMES) & set(RENAMED)
SUBDIR, SYM = b"\n\xff dir", b"\x01sym\n"
LONG = b"x" * 256

def die(msg):
    sys.exit("names: " + msg)

from expect import expect_err

def listing(d):
    got = set(os.listdir(d))
    with os.scandir(d) as it:  # readdir types and per-entry stat
        for e in it:
            if e.name not in got or e.stat(follow_symlinks=False).st_ino != e.inode():
                die("scandir of %r disagrees with listdir" % d)
    return got

def check_files(d, names, data_only=False):
    want = set(names) | {SUBDIR, SYM}
    got = listing(d)
    if got != want:
        die("listing of %r: missing %r, extra %r" % (d, sorted(want - got)[:5], sorted(got - want)[:5]))
    if data_only:
        return
    for old, n in zip(NAMES, names):
        p = os.path.join(d, n)
        if os.stat(p).st_size != len(old) or open(p, "rb").read() != old:
            die("contents of %r" % n)
    if os.readlink(os.path.join(d, SYM)) != ALL:
        die("symlink target with any bytes")
    if listing(os.path.join(d, SUBDIR)) != {ALL, b"\xff" * 255}:
        die("listing of the odd subdirectory")

def create(d):
    for n in NAMES:
        with open(os.path.join(d, n), "xb") as f:
            f.write(n)
    os.mkdir(os.path.join(d, SUBDIR))
    for n in (ALL, b"\xff" * 255):
        open(os.path.join(d, SUBDIR, n), "xb").close()
    os.symlink(ALL, os.path.join(d, SYM))

def too_long(d, existing):
    p, q = os.path.join(d, LONG), os.path.join(d, existing)
    expect_err("create 256", errno.ENAMETOOLONG, lambda: open(p, "xb"))
    expect_err("mkdir 256", errno.ENAMETOOLONG, lambda: os.mkdir(p))
    expect_err("stat 256", errno.ENAMETOOLONG, lambda: os.stat(p))
    expect_err("stat 256/x", errno.ENAMETOOLONG, lambda: os.stat(os.path.join(p, b"x")))
    expect_err("rename to 256", errno.ENAMETOOLONG, lambda: os.rename(q, p))
    expect_err("link to 256", errno.ENAMETOOLONG, lambda: os.link(q, p))
    expect_err("symlink to 256", errno.ENAMETOOLONG, lambda: os.symlink(b"t", p))
    expect_err("mknod 256", errno.ENAMETOOLONG, lambda: os.mkfifo(p))
    expect_err("unlink 256", errno.ENAMETOOLONG, lambda: os.unlink(p))

def mutate(d):
    for old, new in zip(NAMES, RENAMED):
        os.rename(os.path.join(d, old), os.path.join(d, new))
    for old in NAMES:
        expect_err("stat of renamed %r" % old, errno.ENOENT, lambda: os.stat(os.path.join(d, old)))
    check_files(d, RENAMED)
    too_long(d, RENAMED[0])
    for n in RENAMED + [SYM]:
        os.unlink(os.path.join(d, n))
    for n in (ALL, b"\xff" * 255):
        os.unlink(os.path.join(d, SUBDIR, n))
    os.rmdir(os.path.join(d, SUBDIR))
    if os.listdir(d):
        die("not empty after unlinking everything")

{"create": lambda: (create(top), check_files(top, NAMES)),
 "verify": lambda: check_files(top, NAMES),
 "backing": lambda: check_files(top, NAMES, data_only=True),
 "mutate": lambda: mutate(top)}[what]()
EOF

check "names with every byte 1..255 but '/', invalid UTF-8 and 255 bytes: create, stat, readdir"
mkdir "$MNT/names" || fail "mkdir names"
python3 "$W/names.py" create "$MNT/names" || fail "odd names on the mount"
python3 "$W/names.py" backing "$STORE/names" || fail "the store does not hold the names verbatim"
check "the odd names survive a remount; rename, 256 bytes -> ENAMETOOLONG, unlink"
pf_remount "$STORE" "$MNT" allow_other,default_permissions
python3 "$W/names.py" verify "$MNT/names" || fail "odd names after remount"
python3 "$W/names.py" mutate "$MNT/names" || fail "renaming/unlinking odd names"
mkdir "$REF/names" && python3 "$W/names.py" create "$REF/names" &&
	python3 "$W/names.py" mutate "$REF/names" || fail "the name checks fail on a plain dir too"

# ---- 3. symlinks planted in the store ---------------------------------------

OUT=$W/deep/outside
# fingerprint.py TOP: one line per entry under TOP; reads with O_NOATIME so
# that taking it moves no atime.
cat >"$W/fingerprint.py" <<'EOF'
import hashlib, os, stat, sys
def walk(p):
    s = os.lstat(p)
    x = sorted((k, os.getxattr(p, k, follow_symlinks=False))
               for k in os.listxattr(p, follow_symlinks=False))
    h, names = "", []
    if stat.S_ISREG(s.st_mode) or stat.S_ISDIR(s.st_mode):
        fd = os.open(p, os.O_RDONLY | os.O_NOATIME)
        if stat.S_ISREG(s.st_mode):
            h = hashlib.sha256(os.read(fd, 1 << 20)).hexdigest()
        else:
            names = sorted(os.listdir(fd))
        os.close(fd)
    print(p, oct(s.st_mode), s.st_nlink, s.st_uid, s.st_gid, s.st_size,
          s.st_atime_ns, s.st_mtime_ns, s.st_ctime_ns, x, h)
    for n in names:
        walk(os.path.join(p, n))
walk(sys.argv[1])
EOF
fingerprint() { python3 "$W/fingerprint.py" "$@" || fail "fingerprint $*"; }

mkdir -p "$OUT/dir" && echo SECRET >"$OUT/secret" && echo inner >"$OUT/dir/inner" &&
	chmod 0600 "$OUT/secret" &&
	python3 -c "import os, sys; os.setxattr(sys.argv[1], 'user.secret', b'1')" "$OUT/secret" ||
	fail "outside files"
# atime before mtime: any read of them moves atime (relatime).
touch -m -d "2010-01-01" "$OUT/secret" "$OUT/dir/inner" "$OUT/dir" "$OUT" &&
	touch -a -d "2000-01-01" "$OUT/secret" "$OUT/dir/inner" "$OUT/dir" "$OUT" || fail "touch outside"
mkdir -p "$STORE/sub" && ln -s ../outside/secret "$STORE/rel_file" &&
	ln -s ../outside/dir "$STORE/rel_dir" && ln -s "$OUT/secret" "$STORE/abs_file" &&
	ln -s "$OUT/dir" "$STORE/abs_dir" && ln -s ../../outside/secret "$STORE/sub/up" &&
	ln -s .priorfs "$STORE/meta" || fail "planting symlinks"
fingerprint "$OUT" >"$W/outside.before"

# swap NAME TARGET: replaces store entry NAME (keeping it as NAME.old) by a
# symlink to TARGET, behind the daemon's back.
swap() {
	mv "$STORE/$1" "$STORE/$1.old" && ln -s "$2" "$STORE/$1" || fail "swap $1"
}

check "planted symlinks are shown as symlinks and never followed by the daemon"
pf_remount "$STORE" "$MNT" allow_other,default_permissions
python3 - "$MNT" "$OUT" <<'EOF' || fail "planted symlinks"
import errno, os, stat, sys
mnt, out = sys.argv[1], sys.argv[2]
planted = {"rel_file": "../outside/secret", "rel_dir": "../outside/dir",
           "abs_file": out + "/secret", "abs_dir": out + "/dir",
           "sub/up": "../../outside/secret", "meta": ".priorfs"}
from expect import expect_err
for name, target in planted.items():
    p = os.path.join(mnt, name)
    if not stat.S_ISLNK(os.lstat(p).st_mode) or os.readlink(p) != target:
        sys.exit("%s is not the planted symlink" % name)
# Relative targets resolve through the mount, where nothing is there.
expect_err("read rel_file", errno.ENOENT, lambda: open(mnt + "/rel_file").read())
expect_err("read sub/up", errno.ENOENT, lambda: open(mnt + "/sub/up").read())
expect_err("list rel_dir", errno.ENOENT, lambda: os.listdir(mnt + "/rel_dir"))
expect_err("create in rel_dir", errno.ENOENT, lambda: open(mnt + "/rel_dir/new", "x"))
expect_err("stat meta", errno.ENOENT, lambda: os.stat(mnt + "/meta"))
# Calls that act on the symlink itself.
a = mnt + "/abs_file"
expect_err("open abs_file O_NOFOLLOW", errno.ELOOP, lambda: os.open(a, os.O_RDONLY | os.O_NOFOLLOW))
os.utime(a, (5, 5), follow_symlinks=False)
os.chown(a, 123, 456, follow_symlinks=False)
if os.lstat(a).st_mtime != 5 or os.lstat(a).st_uid != 123:
    sys.exit("times/owner of the symlink itself not set")
try:
    os.setxattr(a, "user.x", b"1", follow_symlinks=False)
    sys.exit("a user xattr was set on a symlink (Linux refuses them)")
except OSError as e:
    if e.errno not in (errno.EPERM, errno.EOPNOTSUPP):
        raise
if "user.secret" in os.listxattr(a, follow_symlinks=False):
    sys.exit("listxattr of the symlink shows its target's xattrs")
expect_err("getxattr abs_file", errno.ENODATA, lambda: os.getxattr(a, "user.secret", follow_symlinks=False))
# fchmodat2(AT_SYMLINK_NOFOLLOW), the one call that sends a chmod of a
# symlink: whatever it answers, the target must not change (fingerprint).
__import__("ctypes").CDLL(None).syscall(452, -100, a.encode(), 0o700, 0x100)
os.link(a, mnt + "/hard_abs", follow_symlinks=False)
if not stat.S_ISLNK(os.lstat(mnt + "/hard_abs").st_mode):
    sys.exit("hard link of a symlink is not a symlink")
os.rename(mnt + "/abs_dir", mnt + "/abs_dir2")
os.unlink(mnt + "/abs_dir2")
os.unlink(mnt + "/rel_dir")
list(os.walk(mnt))  # a full traversal, readdirplus included
# Entries the kernel still holds, then swapped for symlinks in the store.
with open(mnt + "/victim", "w") as f:
    f.write("v1")
os.mkdir(mnt + "/victimdir")
open(mnt + "/victimdir/f", "w").close()
if open(mnt + "/victim").read() != "v1":
    sys.exit("victim")
EOF
swap victim ../outside/secret
swap victimdir ../outside/dir
python3 - "$MNT" <<'EOF' || fail "swapped entries"
import os, sys, time
mnt = sys.argv[1]
for attempt in range(2):  # with cached entries, then after they expire
    for op in (lambda: open(mnt + "/victim").read(),
               lambda: os.open(mnt + "/victim", os.O_WRONLY | os.O_APPEND),
               lambda: os.truncate(mnt + "/victim", 0),
               lambda: open(mnt + "/victimdir/new%d" % attempt, "x").close(),
               lambda: os.listdir(mnt + "/victimdir")):
        try:
            r = op()
            if isinstance(r, int):
                os.write(r, b"pwned")
                os.close(r)
            if r == "SECRET\n":
                sys.exit("read the outside file through a swapped entry")
        except OSError:
            pass
    time.sleep(1.2)  # attr_timeout is 1 s
EOF
pf_umount "$MNT"
fingerprint "$OUT" >"$W/outside.after"
diff -u "$W/outside.before" "$W/outside.after" || fail "files outside the store were read or changed"
[ ! -e "$W/outside" ] || fail "something was created next to the mount point"

# ---- 4. the metadata directory ----------------------------------------------

check "the metadata directory cannot be reached, listed, created, removed or renamed over"
pf_mount "$STORE" "$MNT" allow_other,default_permissions
fingerprint "$STORE/.priorfs" >"$W/meta.before"
python3 - "$MNT" <<'EOF' || fail "metadata directory reachable"
import errno, os, stat, sys
m = sys.argv[1]
M = m + "/.priorfs"
from expect import expect_err
os.mkdir(m + "/d")
open(m + "/f", "w").close()
os.symlink(".priorfs", m + "/lnk")
for i in range(3):  # readdirplus on the first listing, plain readdir after
    if ".priorfs" in os.listdir(m) or any(e.name == ".priorfs" for e in os.scandir(m)):
        sys.exit("the root listing shows .priorfs")
E, P = errno.ENOENT, errno.EPERM
fd = os.open(m, os.O_PATH)
for label, err, fn in [
        ("stat", E, lambda: os.stat(M)),
        ("lstat", E, lambda: os.lstat(M)),
        ("read config", E, lambda: open(M + "/config").read()),
        ("list", E, lambda: os.listdir(M)),
        ("list models", E, lambda: os.listdir(M + "/models")),
        ("via d/..", E, lambda: os.stat(m + "/d/../.priorfs/config")),
        ("via a symlink", E, lambda: os.listdir(m + "/lnk")),
        ("via the planted symlink", E, lambda: os.stat(m + "/meta")),
        ("openat", E, lambda: os.open(".priorfs/config", os.O_RDONLY, dir_fd=fd)),
        ("chmod", E, lambda: os.chmod(M, 0o777)),
        ("utime", E, lambda: os.utime(M, (1, 1))),
        ("getxattr", E, lambda: os.getxattr(M, "user.x")),
        ("setxattr", E, lambda: os.setxattr(M, "user.x", b"1")),
        ("rmdir", E, lambda: os.rmdir(M)),
        ("unlink", E, lambda: os.unlink(M + "/config")),
        ("rename away", E, lambda: os.rename(M, m + "/stolen")),
        ("mkdir", P, lambda: os.mkdir(M)),
        ("create", P, lambda: open(M, "x")),
        ("mkfifo", P, lambda: os.mkfifo(M)),
        ("symlink", P, lambda: os.symlink("d", M)),
        ("link", P, lambda: os.link(m + "/f", M)),
        ("rename a dir over", P, lambda: os.rename(m + "/d", M)),
        ("rename a file over", P, lambda: os.rename(m + "/f", M)),
        ("create in", E, lambda: open(M + "/new", "x"))]:
    expect_err(label, err, fn)
libc = __import__("ctypes").CDLL(None, use_errno=True)
for flag, name in ((1, "RENAME_NOREPLACE"), (2, "RENAME_EXCHANGE")):
    if libc.renameat2(-100, (m + "/f").encode(), -100, M.encode(), flag) == 0:
        sys.exit("renameat2 %s onto .priorfs succeeded" % name)
# Only the root's entry is special (docs/format.md §1).
os.mkdir(m + "/d/.priorfs")
open(m + "/.priorfsX", "w").close()
if ".priorfs" not in os.listdir(m + "/d") or ".priorfsX" not in os.listdir(m):
    sys.exit("ordinary .priorfs-like names are hidden")
EOF
fingerprint "$STORE/.priorfs" >"$W/meta.after"
diff -u "$W/meta.before" "$W/meta.after" || fail "the metadata directory changed"
[ -d "$STORE/d" ] && [ -f "$STORE/f" ] || fail "rename over .priorfs moved its source"
pf_umount "$MNT"
[ -x "$PRIORCTL" ] || fail "no priorctl at $PRIORCTL (needed for fsck)"
"$PRIORCTL" fsck "$STORE" >"$W/fsck.out" 2>&1 ||
	fail "fsck after the security checks: $(tail -n 5 "$W/fsck.out")"

# ---- 5. an unprivileged daemon ----------------------------------------------

check "the daemon runs as nobody with user_allow_other; refuses allow_other without it"
FUSERMOUNT=$(command -v fusermount3)
[ -u "$FUSERMOUNT" ] && [ "$(stat -c %u "$FUSERMOUNT")" = 0 ] ||
	fail "$FUSERMOUNT is not setuid root: an unprivileged daemon cannot mount"
[ -f /etc/fuse.conf ] || fail "/etc/fuse.conf is missing (bind-mounting over it needs a file)"
conf_sum=$(sha256sum </etc/fuse.conf)
# The daemon binary and libprior, where nobody can read them (build dirs may
# be 0700): libtool keeps the real program in .libs next to its wrapper.
BIN=$W/bin
mkdir -p "$BIN" || fail "mkdir bin"
real=$(dirname "$PRIORFS")/.libs/$(basename "$PRIORFS")
[ -x "$real" ] || real=$PRIORFS
cp "$real" "$BIN/priorfs" || fail "copy priorfs"
cp -L "$top_builddir"/lib/.libs/libprior.so* "$BIN/" 2>/dev/null
chmod -R a+rX "$BIN"
UP=$W/unpriv
mkdir -p "$UP/mnt" && pf_init_store "$UP/store" && chown -R $NOBODY:$NOBODY "$UP" || fail "unpriv store"
: >"$UP/conf-off" && echo user_allow_other >"$UP/conf-on" || fail "fuse.conf copies"
pf_gen random 300K 7 "$UP/data"
chmod 0644 "$UP/data"

unpriv_inner() {
	set -u
	local pid rc i
	fail() { echo "FAIL [t_security unprivileged]: $*" >&2; [ -n "${pid:-}" ] && kill "$pid"; exit 1; }
	run_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- env LD_LIBRARY_PATH="$BIN" "$@"; }
	mount --bind "$UP/conf-off" /etc/fuse.conf || fail "bind fuse.conf"
	# udev makes /dev/fuse 0666 on a normal system; where nothing did (a
	# container), give this namespace such a node instead of changing it.
	if [ "$(stat -c %a /dev/fuse)" != 666 ]; then
		echo "note: /dev/fuse is $(stat -c %a /dev/fuse); using a 0666 node in this namespace"
		mknod -m 0666 "$UP/fuse-dev" c $((0x$(stat -c %t /dev/fuse))) $((0x$(stat -c %T /dev/fuse))) && mount --bind "$UP/fuse-dev" /dev/fuse ||
			fail "cannot provide a 0666 /dev/fuse"
	fi
	run_nobody "$BIN/priorfs" -f "$UP/store" "$UP/mnt" -o allow_other >"$UP/off.log" 2>&1 &&
		fail "mounted with allow_other although fuse.conf lacks user_allow_other"
	grep -q user_allow_other "$UP/off.log" || fail "refusal does not name user_allow_other: $(cat "$UP/off.log")"
	umount /etc/fuse.conf && mount --bind "$UP/conf-on" /etc/fuse.conf || fail "bind fuse.conf"
	# A simple command, so that $! is the daemon itself (setpriv and env exec).
	setpriv --reuid=65534 --regid=65534 --clear-groups -- env LD_LIBRARY_PATH="$BIN" \
		"$BIN/priorfs" -f "$UP/store" "$UP/mnt" -o allow_other,default_permissions \
		>"$UP/on.log" 2>&1 &
	pid=$!
	for ((i = 0; i < 200; i++)); do
		mountpoint -q "$UP/mnt" && break
		kill -0 "$pid" 2>/dev/null || fail "daemon as nobody exited: $(cat "$UP/on.log")"
		sleep 0.05
	done
	mountpoint -q "$UP/mnt" || fail "daemon as nobody did not mount"
	grep -q "^Uid:[[:space:]]*65534[[:space:]]" "/proc/$pid/status" || fail "daemon is not running as nobody"
	# root is another user here: only allow_other lets it in.
	cp "$UP/data" "$UP/mnt/by_root" && cmp "$UP/data" "$UP/mnt/by_root" || fail "root writes through the mount"
	run_nobody sh -c "cp '$UP/data' '$UP/mnt/by_nobody' && cmp '$UP/data' '$UP/mnt/by_nobody' && mkdir '$UP/mnt/d'" ||
		fail "nobody writes through the mount"
	[ "$(stat -c %u "$UP/store/by_root")" = 65534 ] || fail "backing file of the unprivileged daemon is not nobody's"
	run_nobody fusermount3 -u "$UP/mnt" || fail "nobody cannot unmount"
	wait "$pid"
	rc=$?
	[ "$rc" -eq 0 ] || fail "unprivileged daemon exited $rc: $(cat "$UP/on.log")"
	! grep -q "ERROR: \(Address\|Leak\|Thread\)Sanitizer\|runtime error:" "$UP/on.log" ||
		fail "sanitizer report in $UP/on.log"
}
export UP BIN
unshare -m --propagation private bash -c "$(declare -f unpriv_inner); unpriv_inner" ||
	fail "unprivileged daemon"
[ "$(sha256sum </etc/fuse.conf)" = "$conf_sum" ] && ! grep -qs " /etc/fuse.conf " /proc/mounts ||
	fail "/etc/fuse.conf changed or is still covered outside the namespace"
pf_mount "$UP/store" "$MNT"
cmp "$UP/data" "$MNT/by_root" && cmp "$UP/data" "$MNT/by_nobody" && [ -d "$MNT/d" ] ||
	fail "files written by the unprivileged daemon differ after remounting as root"
pf_umount "$MNT"

#!/bin/bash
# SPDX-License-Identifier: MIT
# t_docs.sh - the man pages render without warnings (groff -ww, mandoc -T lint), carry the version, and document every option of priorfs --help and every priorctl command and option.
#
# Needs no FUSE mount: it only runs the binaries' --help. "Documented" means:
# for priorfs(8), the option is the term of a .TP item (where every option
# is defined); for priorctl(1), the command is the term of an item and each
# option of `priorctl CMD --help` appears in the page as in the help, short
# and long form together ("-j, --json").
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=${PF_BUILDDIR:-$(pwd)}}"
PRIORFS=$top_builddir/src/priorfs
PRIORCTL=$top_builddir/src/priorctl/priorctl
MAN=$top_srcdir/man

fail() {
	echo "FAIL [t_docs]: $*" >&2
	exit 1
}
for tool in groff:groff-base mandoc:mandoc python3:python3; do
	command -v "${tool%%:*}" >/dev/null ||
		fail "no ${tool%%:*}: apt-get install ${tool#*:} (contrib/install-deps.sh --ci)"
done
[ -x "$PRIORFS" ] && [ -x "$PRIORCTL" ] || fail "no priorfs/priorctl in $top_builddir"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pf-t_docs.XXXXXX") || fail mktemp
trap 'rm -rf "$WORK"' EXIT

PAGES=$(ls "$MAN"/*.[1-8]) || fail "no man pages in $MAN"
echo "check: groff -ww -z and mandoc -T lint say nothing"
for page in $PAGES; do
	LC_ALL=C.UTF-8 groff -ww -z -man -t "$page" >"$WORK/lint" 2>&1
	[ ! -s "$WORK/lint" ] || fail "groff on $(basename "$page"): $(head -c 800 "$WORK/lint")"
	mandoc -T lint -W warning "$page" >"$WORK/lint" 2>&1
	[ ! -s "$WORK/lint" ] || fail "mandoc on $(basename "$page"): $(head -c 800 "$WORK/lint")"
done

echo "check: every page's .TH names the version priorfs --version prints"
VERSION=$("$PRIORFS" --version | sed -n '1s/^priorfs //p')
[ -n "$VERSION" ] || fail "priorfs --version does not start with 'priorfs VERSION'"
for page in $PAGES; do
	grep -q "^\.TH .* \"priorfs $VERSION\"" "$page" ||
		fail "$(basename "$page"): .TH does not say \"priorfs $VERSION\""
done

echo "check: every priorfs --help option is a .TP term in priorfs.8"
"$PRIORFS" --help >"$WORK/help" 2>&1 || fail "priorfs --help exited non-zero"
echo "check: every priorctl command and option is in priorctl.1"
"$PRIORCTL" --help >"$WORK/ctl" 2>&1 || fail "priorctl --help exited non-zero"
for cmd in $(sed -n '/^commands:/,/^$/s/^  \([a-z]\+\) .*/\1/p' "$WORK/ctl"); do
	echo "== $cmd" >>"$WORK/cmds"
	"$PRIORCTL" "$cmd" --help >>"$WORK/cmds" 2>&1 || fail "priorctl $cmd --help exited non-zero"
done
[ -s "$WORK/cmds" ] || fail "no commands in priorctl --help"

python3 - "$WORK" "$MAN/priorfs.8" "$MAN/priorctl.1" <<'EOF' || exit 1
import re, sys
work, fs_page, ctl_page = sys.argv[1:4]

def plain(line):
    """A man source line as text: no macro name, quotes or font escapes."""
    line = re.sub(r"^\.[A-Za-z]+\s?", "", line)
    line = re.sub(r"\\f(\[[^]]*\]|.)", "", line)
    line = line.replace("\\-", "-").replace('"', "").replace("\\ ", " ")
    line = re.sub(r"\s+", " ", line).replace(" ,", ",")
    return line.strip()

def page(path):
    src = open(path, encoding="utf-8").read().splitlines()
    terms = [plain(src[i + 1]) for i, l in enumerate(src[:-1]) if l.strip() == ".TP"]
    text = " ".join(plain(l) for l in src if not l.startswith('.\\"'))
    return terms, text

def words(s):
    return set(re.split(r"[\s,|=\[\]]+", s))

missing = []

# priorfs: "-o name", "-x" and "--long" options from every help line.
terms, _ = page(fs_page)
term_words = set().union(*map(words, terms))
for line in open(work + "/help"):
    line = line.strip()
    if not line.startswith("-"):
        continue
    # The option column ends at two or more spaces not followed by
    # another option ("-d   -o debug          enable debug output").
    opts = re.split(r"\s{2,}(?![-\s])", line)[0]
    for o in re.findall(r"-o ([a-z_]+)|(--?[a-zA-Z][a-z_-]*)", opts):
        name = o[0] or o[1]
        if name not in term_words:
            missing.append("priorfs.8: option %s (help: %s)" % (name, line))

# priorctl: each command is a term; each option appears as in the help.
terms, text = page(ctl_page)
cmd = None
for line in open(work + "/cmds"):
    if line.startswith("== "):
        cmd = line[3:].strip()
        if not any(t.split()[:1] == [cmd] for t in terms):
            missing.append("priorctl.1: command %s is not a .TP term" % cmd)
        continue
    m = re.match(r"\s+((-[a-zA-Z], )?--[a-z][a-z-]*)", line)
    if m and not re.search(r"(^|[\s(])" + re.escape(m.group(1)) + r"($|[\s,)=.])", text):
        missing.append("priorctl.1: %s option %s" % (cmd, m.group(1)))

if missing:
    sys.exit("FAIL [t_docs]: not documented:\n  " + "\n  ".join(missing))
EOF
echo "PASS [t_docs]"

#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""chart.py - draws the stored-size table of codec.sh as an SVG bar chart.

usage: contrib/bench/chart.py [TABLE.md] > docs/bench-ratio.svg

Reads the markdown table printed by contrib/bench/codec.sh (the one whose
header starts "| category |" and has an "xz -9e" column; other lines and
tables are ignored) from TABLE.md, or standard input when it is missing or
"-". For each category it draws one bar per compressor: its stored size
divided by xz -9e's, so the dashed line at 1.0 is xz -9e and lower is
better. Python 3 standard library only; the same table always gives the
same bytes, so the SVG can be committed and diffed.
"""

import sys
from xml.sax.saxutils import escape, quoteattr

# (column header in the table, legend label, colour). The colours are the
# Okabe-Ito palette, told apart by colour-blind readers too.
SERIES = [
    ("priorfs (data + models)", "priorfs (data + models)", "#0072B2"),
    ("zstd -19", "zstd -19", "#E69F00"),
    ("zstd -19 +dict, 256K blocks", "zstd -19 +dict, 256K blocks", "#CC79A7"),
    ("bzip3", "bzip3", "#009E73"),
    ("zpaq -m4", "zpaq -m4", "#D55E00"),
]
BASELINE = "xz -9e"

# Layout in SVG user units (px).
WIDTH = 1040
PLOT_LEFT, PLOT_RIGHT = 78, WIDTH - 24
PLOT_TOP, PLOT_BOTTOM = 96, 416
HEIGHT = 474
BAR_W = 13
TICK = 0.25  # y grid step
FONT = "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif"


def cells(line):
    """The cells of a markdown table row, stripped."""
    return [c.strip() for c in line.strip().strip("|").split("|")]


def read_table(lines):
    """Returns (categories, {column: [float or None per category]}) of
    the first table with a category and an xz -9e column."""
    header = None
    rows = []
    for line in lines:
        if not line.lstrip().startswith("|"):
            if rows:
                break  # the table ended
            header = None
            continue
        c = cells(line)
        if header is None:
            if c and c[0] == "category" and BASELINE in c:
                header = c
            continue
        if all(set(x) <= set("-: ") for x in c):
            continue  # the |---| separator
        rows.append(c)
    if header is None or not rows:
        raise ValueError("no codec.sh table (header '| category | ... | "
                         + BASELINE + " |') found")
    missing = [s[0] for s in SERIES if s[0] not in header]
    if missing:
        raise ValueError("table has no column " + ", ".join(missing))

    def number(row, col):
        i = header.index(col)
        try:
            return float(row[i]) if i < len(row) else None
        except ValueError:
            return None

    cats = [r[0] for r in rows]
    base = [number(r, BASELINE) for r in rows]
    ratios = {}
    for col, _, _ in SERIES:
        ratios[col] = [v / b if v is not None and b else None
                       for v, b in zip((number(r, col) for r in rows), base)]
    return cats, ratios


def fmt(x):
    """A coordinate with at most two decimals, no trailing zeros."""
    s = "%.2f" % x
    return s.rstrip("0").rstrip(".") if "." in s else s


def y_of(v, top):
    return PLOT_BOTTOM - v / top * (PLOT_BOTTOM - PLOT_TOP)


def text(x, y, s, size=13, anchor="middle", extra=""):
    return ('<text x="%s" y="%s" font-size="%d" text-anchor="%s"%s>%s</text>'
            % (fmt(x), fmt(y), size, anchor, extra, escape(s)))


def axes(top):
    """Grid, y ticks and labels and the axis titles."""
    out = []
    steps = int(round(top / TICK))
    for i in range(steps + 1):
        v = i * TICK
        y = y_of(v, top)
        out.append('<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="%s"/>'
                   % (PLOT_LEFT, fmt(y), PLOT_RIGHT, fmt(y),
                      "#444" if i == 0 else "#ddd"))
        out.append(text(PLOT_LEFT - 8, y + 4.5, "%.2f" % v, anchor="end"))
    mid = (PLOT_TOP + PLOT_BOTTOM) / 2
    out.append(text(22, mid, "stored size / xz -9e (lower is better)",
                    extra=' transform="rotate(-90 22 %s)"' % fmt(mid)))
    out.append(text((PLOT_LEFT + PLOT_RIGHT) / 2, HEIGHT - 14,
                    "data category"))
    return out


def bars(cats, ratios, top):
    """One group of bars per category, its name below."""
    out = []
    group = (PLOT_RIGHT - PLOT_LEFT) / len(cats)
    span = BAR_W * len(SERIES)
    for i, cat in enumerate(cats):
        x0 = PLOT_LEFT + i * group + (group - span) / 2
        for j, (col, label, colour) in enumerate(SERIES):
            v = ratios[col][i]
            if v is None:
                continue
            y = y_of(v, top)
            out.append('<rect x="%s" y="%s" width="%d" height="%s" fill="%s">'
                       '<title>%s</title></rect>'
                       % (fmt(x0 + j * BAR_W), fmt(y), BAR_W,
                          fmt(PLOT_BOTTOM - y), colour,
                          escape("%s, %s: %.3f x xz -9e" % (cat, label, v))))
        out.append(text(PLOT_LEFT + (i + 0.5) * group, PLOT_BOTTOM + 20, cat))
    return out


def baseline(top):
    """The dashed xz -9e line, over the bars so that it crosses them."""
    y = fmt(y_of(1.0, top))
    return ['<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="#000" '
            'stroke-width="1.5" stroke-dasharray="7 5"/>'
            % (PLOT_LEFT, y, PLOT_RIGHT, y)]


def legend():
    """The series in one row under the title."""
    out = []
    x = PLOT_LEFT
    for _, label, colour in SERIES:
        out.append('<rect x="%d" y="54" width="14" height="14" fill="%s"/>'
                   % (x, colour))
        out.append(text(x + 20, 66, label, anchor="start"))
        x += 20 + 7 * len(label) + 30  # about 7 px a character at 13 px
    out.append('<line x1="%d" y1="61" x2="%d" y2="61" stroke="#000" '
               'stroke-width="1.5" stroke-dasharray="7 5"/>' % (x, x + 28))
    out.append(text(x + 34, 66, "xz -9e = 1.0", anchor="start"))
    return out


def svg(cats, ratios):
    peak = max([v for col in ratios.values() for v in col if v is not None]
               + [1.0])
    top = (int(peak / TICK) + 1) * TICK  # headroom above the tallest bar
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
        'viewBox="0 0 %d %d" font-family=%s fill="#222">'
        % (WIDTH, HEIGHT, WIDTH, HEIGHT, quoteattr(FONT)),
        '<title>priorfs benchmark: stored size per category relative to '
        'xz -9e</title>',
        '<rect width="100%" height="100%" fill="#fff"/>',
        text(PLOT_LEFT, 30, "Stored size per data category, relative to "
             "xz -9e (= 1.0; lower is better)", size=17, anchor="start",
             extra=' font-weight="bold"'),
    ]
    parts += legend() + axes(top) + bars(cats, ratios, top) + baseline(top)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    try:
        if len(argv) == 2 and argv[1] != "-":
            with open(argv[1], encoding="utf-8") as f:
                cats, ratios = read_table(f)
        else:
            cats, ratios = read_table(sys.stdin)
    except (OSError, ValueError) as e:
        sys.stderr.write("chart.py: %s\n" % e)
        return 2
    sys.stdout.write(svg(cats, ratios))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

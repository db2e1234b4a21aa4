/* SPDX-License-Identifier: MIT */
/*
 * ctl_sniff.c - a file's data kind from its name and its first bytes
 * (pctl_kind_sniff), which decides the model a file trains and is coded
 * with. The bytes are untrusted: every reader here stays within the head
 * it is given (tests/fuzz/fuzz_sniff.c).
 */
#include "priorctl/priorctl.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

size_t pctl_utf8_len(const unsigned char *p)
{
	unsigned lo, hi;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (p[0] >= 0xe0 && p[0] <= 0xef) {
		lo = p[0] == 0xe0 ? 0xa0 : 0x80; /* no overlong forms */
		hi = p[0] == 0xed ? 0x9f : 0xbf; /* no UTF-16 surrogates */
		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		lo = p[0] == 0xf0 ? 0x90 : 0x80;
		hi = p[0] == 0xf4 ? 0x8f : 0xbf; /* nothing past U+10FFFF */
		if (p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80)
			return 0;
		return (p[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

static const char *const kind_names[PCTL_KIND_COUNT] = {
	"text", "code", "structured", "tabular", "bio", "array", "binary", "compressed",
};

const char *pctl_kind_name(enum pctl_kind kind)
{
	return (unsigned)kind < PCTL_KIND_COUNT ? kind_names[kind] : "unknown";
}

static const char *const compressed_exts[] = {
	"gz", "tgz", "zst", "zstd", "xz", "txz", "bz2", "lz4", "lzma", "br",
	"7z", "zip", "jar", "whl", "apk", "png", "jpg", "jpeg", "gif", "webp",
	"avif", "heic", "mp3", "mp4", "m4a", "mkv", "webm", "mov", "ogg", "opus",
	"flac", "woff", "woff2", "docx", "xlsx", "pptx", "odt", "epub", NULL,
};
static const char *const array_exts[] = {
	"npy", "bin", "raw", "wav", "pcm", "f32", "f64", "i16", "i32", "u16",
	"u32", "dat", "tok", NULL,
};
static const char *const code_exts[] = {
	"c", "h", "cc", "cpp", "cxx", "hpp", "hh", "py", "pyi", "js", "mjs",
	"ts", "tsx", "jsx", "go", "rs", "java", "kt", "scala", "rb", "pl", "pm",
	"php", "cs", "swift", "m", "mm", "lua", "sh", "bash", "zsh", "r", "jl",
	"hs", "ml", "mli", "ex", "exs", "erl", "clj", "el", "lisp", "scm", "sql",
	"css", "scss", "less", "vue", "dart", "zig", "nim", "asm", "s", "cmake",
	"mk", "toml", "yaml", "yml", "ini", "cfg", "diff", "patch", "am", "ac",
	"in", NULL,
};
static const char *const structured_exts[] = {
	"json", "jsonl", "ndjson", "geojson", "xml", "html", "htm", "xhtml",
	"svg", "plist", "rss", "atom", "xsd", NULL,
};
static const char *const tabular_exts[] = { "csv", "tsv", "psv", "tab", NULL };
static const char *const bio_exts[] = {
	"fastq", "fq", "fasta", "fa", "fna", "faa", "ffn", "frn", NULL,
};
static const char *const text_exts[] = { "txt", "md", "rst", "tex", "log", NULL };

static bool ext_in(const char *ext, const char *const *list)
{
	for (; ext && *list; list++)
		if (!strcasecmp(ext, *list))
			return true;
	return false;
}

bool pctl_kind_by_name(const char *name, enum pctl_kind *kind)
{
	static const struct { const char *const *exts; enum pctl_kind kind; } by[] = {
		{ compressed_exts, PCTL_KIND_COMPRESSED },
		{ array_exts, PCTL_KIND_ARRAY },
		{ structured_exts, PCTL_KIND_STRUCTURED },
		{ tabular_exts, PCTL_KIND_TABULAR },
		{ bio_exts, PCTL_KIND_BIO },
		{ code_exts, PCTL_KIND_CODE },
		{ text_exts, PCTL_KIND_TEXT },
	};
	const char *ext = strrchr(name, '.');

	if (!ext || ext == name)
		return false;
	for (size_t i = 0; i < sizeof(by) / sizeof(by[0]); i++) {
		if (ext_in(ext + 1, by[i].exts)) {
			*kind = by[i].kind;
			return true;
		}
	}
	return false;
}

static bool has_prefix(const unsigned char *h, size_t len, const void *magic,
		       size_t n, size_t at)
{
	return len >= at + n && !memcmp(h + at, magic, n);
}

static bool compressed_magic(const unsigned char *h, size_t len)
{
	static const struct { const char *m; size_t n, at; } magics[] = {
		{ "\x1f\x8b", 2, 0 },             /* gzip */
		{ "\x28\xb5\x2f\xfd", 4, 0 },     /* zstd */
		{ "\xfd" "7zXZ\0", 6, 0 },        /* xz */
		{ "BZh", 3, 0 },                  /* bzip2 */
		{ "\x04\x22\x4d\x18", 4, 0 },     /* lz4 */
		{ "7z\xbc\xaf\x27\x1c", 6, 0 },   /* 7-zip */
		{ "PK\x03\x04", 4, 0 },           /* zip, jar, docx, npz */
		{ "\x89PNG", 4, 0 },
		{ "\xff\xd8\xff", 3, 0 },         /* jpeg */
		{ "GIF8", 4, 0 },
		{ "WEBP", 4, 8 },                 /* RIFF....WEBP */
		{ "ftyp", 4, 4 },                 /* mp4, mov, heic */
		{ "OggS", 4, 0 },
		{ "fLaC", 4, 0 },
		{ "ID3", 3, 0 },                  /* mp3 */
		{ "\x1a\x45\xdf\xa3", 4, 0 },     /* matroska, webm */
	};

	for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
		if (has_prefix(h, len, magics[i].m, magics[i].n, magics[i].at))
			return true;
	return false;
}

/* Fixed-width samples behind a header: NumPy, WAV, binary netpbm images
 * (P4, P5, P6) and FITS, whose headers are text and whose pixels may look
 * like it for a whole head. */
static bool array_magic(const unsigned char *h, size_t len)
{
	return has_prefix(h, len, "\x93NUMPY", 6, 0) ||
	       has_prefix(h, len, "WAVE", 4, 8) ||
	       (len > 2 && h[0] == 'P' && h[1] >= '4' && h[1] <= '6' &&
		strchr(" \t\r\n", h[2]) && h[2]) ||
	       has_prefix(h, len, "SIMPLE  =", 9, 0);
}

/* Valid UTF-8 with few control bytes and no NUL. h is NUL-padded past len
 * (so pctl_utf8_len stops there); a sequence cut by the end is fine. */
static bool looks_text(const unsigned char *h, size_t len)
{
	size_t bad = 0, i = 0;

	while (i < len) {
		size_t n = pctl_utf8_len(h + i);

		if (!h[i])
			return false;
		if (!n) {
			if (len - i < 4)
				break;
			bad++;
			n = 1;
		} else if (h[i] < 0x20 && !strchr("\t\n\r\f\v\b\x1b", h[i])) {
			bad++;
		}
		i += n;
	}
	return bad * 20 <= len;
}

/* At least 5 whole lines, each with the same count (>= min) of sep. */
static bool same_count_per_line(const unsigned char *h, size_t len, char sep,
				size_t min)
{
	size_t lines = 0, want = 0, count = 0;

	for (size_t i = 0; i < len; i++) {
		if (h[i] == (unsigned char)sep) {
			count++;
		} else if (h[i] == '\n') {
			if (count < min || (lines && count != want))
				return false;
			want = count;
			count = 0;
			lines++;
		}
	}
	return lines >= 5;
}

/* The length of the line at h + at (h has len bytes), or 0 when it is
 * empty or the end cuts it. */
static size_t line_at(const unsigned char *h, size_t len, size_t at)
{
	const unsigned char *nl = at < len ? memchr(h + at, '\n', len - at) : NULL;

	return nl ? (size_t)(nl - (h + at)) : 0;
}

/* At least 10 ASCII letters, '*' and '-' and nothing else: a line of
 * bases or amino acids, not a word. */
static bool sequence_line(const unsigned char *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (((h[i] | 32) < 'a' || (h[i] | 32) > 'z') && h[i] != '*' && h[i] != '-')
			return false;
	return n >= 10;
}

/* A FASTQ record ('@' header, bases, '+' line, as many qualities as bases)
 * or a FASTA one ('>' header, then a line of sequence) at the start. A
 * read longer than the head only shows its header and bases. */
#define BIO_CUT_MIN 64 /* letters of a sequence the head cuts, at least */
static bool looks_bio(const unsigned char *h, size_t len)
{
	size_t n0 = line_at(h, len, 0), n1, n2, q, n3;

	if (!n0 || (h[0] != '@' && h[0] != '>'))
		return false;
	n1 = line_at(h, len, n0 + 1);
	if (!n1) /* cut by the end of the head, or empty */
		return len - (n0 + 1) >= BIO_CUT_MIN && sequence_line(h + n0 + 1, len - (n0 + 1));
	if (!sequence_line(h + n0 + 1, n1))
		return false;
	if (h[0] == '>')
		return true;
	q = n0 + n1 + 2; /* the '+' line */
	if (q < len && h[q] != '+')
		return false;
	n2 = line_at(h, len, q);
	n3 = line_at(h, len, q + n2 + 1); /* the qualities */
	return !n2 || !n3 || n3 == n1; /* where the head ends, what is there fits */
}

/* Text whose name says nothing: guess from its shape. */
static enum pctl_kind text_kind_by_content(const unsigned char *h, size_t len)
{
	size_t i = 0, punct = 0;

	if (looks_bio(h, len))
		return PCTL_KIND_BIO;
	if (has_prefix(h, len, "\xef\xbb\xbf", 3, 0))
		i = 3; /* UTF-8 byte order mark */
	while (i < len && strchr(" \t\r\n", h[i]))
		i++;
	if (i < len && (h[i] == '{' || h[i] == '['))
		return PCTL_KIND_STRUCTURED;
	if (i < len && h[i] == '<')
		return PCTL_KIND_STRUCTURED;
	if (has_prefix(h, len, "#!", 2, 0))
		return PCTL_KIND_CODE;
	if (same_count_per_line(h, len, '\t', 1) ||
	    same_count_per_line(h, len, ',', 2))
		return PCTL_KIND_TABULAR;
	for (i = 0; i < len; i++)
		punct += strchr(";{}()=", h[i]) != NULL && h[i];
	return punct * 25 > len ? PCTL_KIND_CODE : PCTL_KIND_TEXT;
}

static enum pctl_kind text_kind(const char *name, const char *ext,
				const unsigned char *h, size_t len)
{
	if (ext_in(ext, structured_exts))
		return PCTL_KIND_STRUCTURED;
	if (ext_in(ext, tabular_exts))
		return PCTL_KIND_TABULAR;
	if (ext_in(ext, bio_exts))
		return PCTL_KIND_BIO;
	if (ext_in(ext, code_exts) || !strcmp(name, "Makefile") ||
	    !strcmp(name, "Dockerfile") || !strcmp(name, "CMakeLists.txt"))
		return PCTL_KIND_CODE;
	return text_kind_by_content(h, len);
}

/* ---- tar archives ----------------------------------------------------------
 * A source tarball is code and a tar of WAV files an array, but a tar header
 * has NUL bytes, so every archive looked like "binary" data. It is sorted by its
 * first member with data in the head instead (ustar, POSIX or GNU; the
 * checksum must hold, so text that happens to say "ustar" is not one). */
#define TAR_BLOCK 512

/* The octal number in a header field of n bytes, or UINT64_MAX when it is
 * none (GNU's base-256 form of a large size among them): then a member's
 * data runs past any head. */
static uint64_t tar_number(const unsigned char *f, size_t n)
{
	uint64_t v = 0;
	size_t i = 0;

	while (i < n && f[i] == ' ')
		i++;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v >> 60)
			return UINT64_MAX;
		v = v * 8 + (uint64_t)(f[i] - '0');
	}
	return i < n && f[i] != ' ' && f[i] != '\0' ? UINT64_MAX : v;
}

/* A ustar header block whose checksum (its bytes, the checksum field read
 * as spaces) holds. */
static bool tar_header(const unsigned char *b)
{
	uint64_t sum = 0;

	if (memcmp(b + 257, "ustar", 5))
		return false;
	for (size_t i = 0; i < TAR_BLOCK; i++)
		sum += i >= 148 && i < 156 ? ' ' : b[i];
	return sum == tar_number(b + 148, 8);
}

/* The first regular member of the archive in h with data in the head: its
 * name (the header's, up to 100 bytes), where its data starts and how much
 * of it the head holds. */
static bool tar_member(const unsigned char *h, size_t len, char name[101], size_t *at,
		       size_t *n)
{
	for (size_t off = 0; off + TAR_BLOCK <= len && tar_header(h + off);) {
		uint64_t size = tar_number(h + off + 124, 12);
		unsigned char type = h[off + 156];

		if ((type == '0' || type == '\0' || type == '7') && size && off + TAR_BLOCK < len) {
			memcpy(name, h + off, 100);
			name[100] = '\0';
			*at = off + TAR_BLOCK;
			*n = size < len - *at ? (size_t)size : len - *at;
			return true;
		}
		if (size >= len) /* past the head, UINT64_MAX too */
			return false;
		off += TAR_BLOCK + (size_t)(size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
	}
	return false;
}

/* ---- the kind of a file ------------------------------------------------------ */

enum pctl_kind pctl_kind_sniff(const char *name, const unsigned char *head,
			       size_t len)
{
	unsigned char h[PCTL_SNIFF_HEAD + 4] = { 0 }; /* NUL-padded for looks_text */
	const char *ext = strrchr(name, '.');
	char member[101];
	size_t at, n;

	ext = ext && ext != name ? ext + 1 : NULL;
	if (len > PCTL_SNIFF_HEAD)
		len = PCTL_SNIFF_HEAD;
	memcpy(h, head, len);
	if (tar_member(h, len, member, &at, &n)) { /* each level 512 bytes shorter */
		const char *base = strrchr(member, '/');

		return pctl_kind_sniff(base ? base + 1 : member, h + at, n);
	}
	if (compressed_magic(h, len) || (!len && ext_in(ext, compressed_exts)))
		return PCTL_KIND_COMPRESSED;
	if (array_magic(h, len))
		return PCTL_KIND_ARRAY;
	if (looks_text(h, len))
		return text_kind(name, ext, h, len);
	if (ext_in(ext, compressed_exts))
		return PCTL_KIND_COMPRESSED;
	return ext_in(ext, array_exts) ? PCTL_KIND_ARRAY : PCTL_KIND_BINARY;
}

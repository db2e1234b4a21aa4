/* SPDX-License-Identifier: MIT */
/*
 * prior_roundtrip.c - a libprior client: codes a file block by block with a
 * learned model, decodes every block back and compares.
 *
 *   prior_roundtrip [-t SAMPLE] MODEL FILE
 *
 * With -t it first trains a model on the file SAMPLE and writes the image
 * to MODEL. Then it loads MODEL, encodes FILE in 64 KiB blocks (AUTO: the
 * smallest of learned, zstd and raw), decodes each block and checks it is
 * the original, and prints one line: blocks per codec and the sizes.
 * Uses only include/prior.h; build it with
 *   cc prior_roundtrip.c $(pkg-config --cflags --libs libprior)
 * Exit status 0 when every block came back intact, 1 otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prior.h>

#define BLOCK (64u << 10)

/* Reads a whole file into *data (caller frees). @return 0, or -1 after a
 * message. */
static int read_file(const char *path, unsigned char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL, *more;
	size_t cap = 0, n = 0, got;
	int rc = -1;

	if (!f) {
		fprintf(stderr, "prior_roundtrip: %s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (n == cap) {
			cap = cap ? 2 * cap : BLOCK;
			more = realloc(buf, cap);
			if (!more)
				goto out_close;
			buf = more;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	if (!ferror(f)) {
		*data = buf;
		*len = n;
		buf = NULL;
		rc = 0;
	}
out_close:
	if (rc < 0)
		fprintf(stderr, "prior_roundtrip: cannot read %s\n", path);
	fclose(f);
	free(buf);
	return rc;
}

/* Trains a model on the file `sample` and writes its image to `model`. */
static int train(const char *sample, const char *model)
{
	prior_train_opts opts = { .level = PRIOR_MODEL_LEVEL_DEFAULT };
	unsigned char *data;
	size_t len, image_len;
	void *image;
	enum prior_error err;
	FILE *f;
	int rc = -1;

	if (read_file(sample, &data, &len) < 0)
		return -1;
	err = prior_model_train(data, len, &opts, &image, &image_len);
	free(data);
	if (err != PRIOR_OK) {
		fprintf(stderr, "prior_roundtrip: train on %s: %s\n", sample,
			prior_error_name(err));
		return -1;
	}
	f = fopen(model, "wb");
	if (f && fwrite(image, 1, image_len, f) == image_len && fclose(f) == 0)
		rc = 0;
	else
		fprintf(stderr, "prior_roundtrip: cannot write %s\n", model);
	prior_free(image);
	return rc;
}

/* Encodes and decodes one block; counts its codec and stored bytes. */
static int roundtrip_block(const prior_model *m, const unsigned char *plain,
			   size_t len, unsigned char *stored, unsigned char *back,
			   size_t counts[4], size_t *stored_total)
{
	enum prior_codec codec;
	enum prior_error err;
	size_t n;

	err = prior_encode_block_model(m, PRIOR_CHOICE_AUTO, 0, plain, len, stored,
				       prior_encode_bound(BLOCK), &n, &codec);
	if (err == PRIOR_OK)
		err = prior_decode_block_model(m, codec, stored, n, back, len);
	if (err != PRIOR_OK) {
		fprintf(stderr, "prior_roundtrip: %s\n", prior_error_name(err));
		return -1;
	}
	if (memcmp(back, plain, len) != 0) {
		fprintf(stderr, "prior_roundtrip: block decoded to other bytes\n");
		return -1;
	}
	counts[codec]++;
	*stored_total += n;
	return 0;
}

static int roundtrip(const char *model, const char *path)
{
	size_t counts[4] = { 0 }, stored_total = 0, len, off;
	unsigned char *data, *stored = malloc(prior_encode_bound(BLOCK));
	unsigned char *back = malloc(BLOCK);
	enum prior_error err;
	prior_model *m;
	int rc = -1;

	err = prior_model_load_file(model, &m);
	if (err != PRIOR_OK) {
		fprintf(stderr, "prior_roundtrip: %s: %s%s%s\n", model, prior_error_name(err),
			err == PRIOR_ERROR_IO ? ": " : "",
			err == PRIOR_ERROR_IO ? strerror(errno) : "");
		goto out_free;
	}
	if (!stored || !back || read_file(path, &data, &len) < 0)
		goto out_model;
	for (off = 0; off < len; off += BLOCK) {
		size_t n = len - off < BLOCK ? len - off : BLOCK;

		if (roundtrip_block(m, data + off, n, stored, back, counts, &stored_total) < 0)
			break;
	}
	if (off >= len) {
		printf("%zu bytes -> %zu: %zu learned, %zu zstd, %zu raw, %zu zero blocks\n",
		       len, stored_total, counts[PRIOR_CODEC_LEARNED],
		       counts[PRIOR_CODEC_ZSTD], counts[PRIOR_CODEC_RAW],
		       counts[PRIOR_CODEC_ZERO]);
		rc = 0;
	}
	free(data);
out_model:
	prior_model_free(m);
out_free:
	free(stored);
	free(back);
	return rc;
}

int main(int argc, char **argv)
{
	const char *sample = NULL;

	if (argc == 5 && strcmp(argv[1], "-t") == 0) {
		sample = argv[2];
		argv += 2;
		argc -= 2;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: prior_roundtrip [-t SAMPLE] MODEL FILE\n");
		return 2;
	}
	if (sample && train(sample, argv[1]) < 0)
		return 1;
	return roundtrip(argv[1], argv[2]) < 0 ? 1 : 0;
}

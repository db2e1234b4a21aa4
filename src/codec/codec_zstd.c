/* SPDX-License-Identifier: MIT */
/*
 * codec_zstd.c - one block as one zstd frame, with per-thread contexts.
 *
 * zstd contexts are not thread-safe and are costly to create, so each thread
 * keeps one compression and one decompression context, made on first use and
 * freed by a pthread key destructor when the thread exits (codec.h). Frames
 * always record their content size: the decoder checks it against the block
 * index's plain length before decoding a byte, and decodes straight into the
 * caller's buffer of exactly that size, so hostile frames cannot overrun it.
 */
#include "codec/codec_int.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "common/pf_common.h"

/* This thread's contexts; either may be NULL until first needed. */
struct zstd_tls {
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
};

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static int tls_key_err; /* set once by tls_key_create, read-only after */

static void tls_free(void *p)
{
	struct zstd_tls *t = p;

	ZSTD_freeCCtx(t->cctx);
	ZSTD_freeDCtx(t->dctx);
	free(t);
}

static void tls_key_create(void)
{
	tls_key_err = pthread_key_create(&tls_key, tls_free);
}

/* Returns this thread's context holder, creating it on first use. */
static struct zstd_tls *tls_get(void)
{
	struct zstd_tls *t;

	pthread_once(&tls_once, tls_key_create);
	if (tls_key_err)
		return NULL;
	t = pthread_getspecific(tls_key);
	if (t)
		return t;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	if (pthread_setspecific(tls_key, t)) {
		free(t);
		return NULL;
	}
	return t;
}

static ZSTD_CCtx *cctx_get(void)
{
	struct zstd_tls *t = tls_get();

	if (t && !t->cctx)
		t->cctx = ZSTD_createCCtx();
	return t ? t->cctx : NULL;
}

static ZSTD_DCtx *dctx_get(void)
{
	struct zstd_tls *t = tls_get();

	if (t && !t->dctx)
		t->dctx = ZSTD_createDCtx();
	return t ? t->dctx : NULL;
}

size_t pf_codec_zstd_bound(size_t plain_len)
{
	size_t bound = ZSTD_compressBound(plain_len);

	return ZSTD_isError(bound) ? 0 : bound;
}

static ssize_t zstd_encode_errno(size_t ret)
{
	switch (ZSTD_getErrorCode(ret)) {
	case ZSTD_error_dstSize_tooSmall:
		return -ENOSPC;
	case ZSTD_error_memory_allocation:
		return -ENOMEM;
	default:
		pf_log(PF_LOG_DEBUG, "zstd compress failed: %s",
		       ZSTD_getErrorName(ret));
		return -EINVAL;
	}
}

ssize_t pf_codec_zstd_encode(int level, const void *plain, size_t plain_len,
			     void *out, size_t out_cap)
{
	ZSTD_CCtx *cctx = cctx_get();
	size_t ret;

	if (!cctx)
		return -ENOMEM;
	/* Reset every parameter so the frame depends only on level and input:
	 * encoding the same block twice must give the same bytes. */
	ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
	ret = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
	if (ZSTD_isError(ret))
		return -EINVAL;
	ret = ZSTD_compress2(cctx, out, out_cap, plain, plain_len);
	if (ZSTD_isError(ret))
		return zstd_encode_errno(ret);
	if (ret > (size_t)SSIZE_MAX)
		return -EINVAL;
	return (ssize_t)ret;
}

/* Checks that stored is exactly one regular zstd frame whose header records
 * a content size of plain_len: the only form pf_codec_encode() writes. */
static int frame_check(const void *stored, size_t stored_len, size_t plain_len)
{
	unsigned long long content;

	if (stored_len < 4 || pf_le32(stored) != ZSTD_MAGICNUMBER)
		return PF_CORRUPT("zstd block: not a zstd frame");
	content = ZSTD_getFrameContentSize(stored, stored_len);
	if (content == ZSTD_CONTENTSIZE_ERROR ||
	    content == ZSTD_CONTENTSIZE_UNKNOWN)
		return PF_CORRUPT("zstd block: no content size");
	if (content != plain_len)
		return PF_CORRUPT("zstd block: content size differs from index");
	if (ZSTD_findFrameCompressedSize(stored, stored_len) != stored_len)
		return PF_CORRUPT("zstd block: truncated or trailing bytes");
	return 0;
}

int pf_codec_zstd_decode(const void *stored, size_t stored_len, void *plain,
			 size_t plain_len)
{
	ZSTD_DCtx *dctx;
	size_t ret;

	PF_FORWARD(frame_check(stored, stored_len, plain_len));
	dctx = dctx_get();
	if (!dctx)
		return -ENOMEM;
	/* dst capacity is exactly plain_len: zstd never writes past it. */
	ret = ZSTD_decompressDCtx(dctx, plain, plain_len, stored, stored_len);
	if (ZSTD_isError(ret)) {
		if (ZSTD_getErrorCode(ret) == ZSTD_error_memory_allocation)
			return -ENOMEM;
		return PF_CORRUPT("zstd block: frame does not decode");
	}
	if (ret != plain_len)
		return PF_CORRUPT("zstd block: short frame");
	return 0;
}

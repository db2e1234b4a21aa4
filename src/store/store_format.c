/* SPDX-License-Identifier: MIT */
/*
 * store_format.c - encodes and checks the container header, commit slots and
 * block index (docs/format.md §2-§3). Everything read here is untrusted.
 */
#include "store/store_int.h"

static const uint8_t pf_magic[4] = { 'P', 'R', 'F', 'S' };

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

void pf_fmt_header_encode(uint8_t out[PF_HEADER_SIZE], unsigned shift)
{
	memset(out, 0, PF_HEADER_SIZE);
	memcpy(out, pf_magic, 4);
	out[4] = PF_FORMAT_VERSION;
	out[5] = (uint8_t)shift;
}

int pf_fmt_header_decode(const uint8_t in[PF_HEADER_SIZE], unsigned *shift)
{
	if (all_zero(in, PF_HEADER_SIZE))
		return 0;
	if (memcmp(in, pf_magic, 4) != 0)
		return PF_CORRUPT("bad magic");
	if (in[4] != PF_FORMAT_VERSION)
		return PF_CORRUPT("unknown format version");
	if (in[5] < PF_SHIFT_MIN || in[5] > PF_SHIFT_MAX)
		return PF_CORRUPT("block shift out of range");
	if (pf_le16(in + 6) != 0 || pf_le64(in + 8) != 0)
		return PF_CORRUPT("reserved header bytes set");
	*shift = in[5];
	return 1;
}

/* Slot checksum covers the header too, so a slot cannot pair with another
 * container's header (format.md §2.2). */
static uint64_t slot_sum(const uint8_t hdr[PF_HEADER_SIZE], const uint8_t slot[40])
{
	uint8_t buf[PF_HEADER_SIZE + 40];

	memcpy(buf, hdr, PF_HEADER_SIZE);
	memcpy(buf + PF_HEADER_SIZE, slot, 40);
	return pf_checksum(buf, sizeof(buf));
}

void pf_fmt_slot_encode(const uint8_t hdr[PF_HEADER_SIZE], const pf_slot *s,
			uint8_t out[PF_SLOT_SIZE])
{
	pf_put_le64(out, s->seq);
	pf_put_le64(out + 8, s->size);
	pf_put_le64(out + 16, s->index_off);
	pf_put_le32(out + 24, s->index_len);
	pf_put_le32(out + 28, s->nblocks);
	pf_put_le64(out + 32, s->index_sum);
	pf_put_le64(out + 40, slot_sum(hdr, out));
}

int pf_fmt_slot_decode(const uint8_t hdr[PF_HEADER_SIZE],
		       const uint8_t in[PF_SLOT_SIZE], pf_slot *s)
{
	if (all_zero(in, PF_SLOT_SIZE))
		return 0;
	if (PF_SUM_MISMATCH(pf_le64(in + 40), slot_sum(hdr, in)))
		return PF_CORRUPT("slot checksum");
	s->seq = pf_le64(in);
	s->size = pf_le64(in + 8);
	s->index_off = pf_le64(in + 16);
	s->index_len = pf_le32(in + 24);
	s->nblocks = pf_le32(in + 28);
	s->index_sum = pf_le64(in + 32);
	if (s->seq == 0)
		return PF_CORRUPT("slot seq 0");
	return 1;
}

uint64_t pf_fmt_index_len(uint64_t n, unsigned nmodels)
{
	return PF_INDEX_HEAD + (uint64_t)nmodels * PF_MODEL_ID_SIZE + n * PF_ENTRY_SIZE;
}

void pf_fmt_index_encode(const pf_block_entry *e, uint64_t n,
			 const uint8_t (*models)[PF_MODEL_ID_SIZE], unsigned nmodels,
			 uint8_t *out)
{
	uint8_t *base = out + PF_INDEX_HEAD + (size_t)nmodels * PF_MODEL_ID_SIZE;

	memset(out, 0, PF_INDEX_HEAD);
	pf_put_le16(out, (uint16_t)nmodels);
	if (nmodels)
		memcpy(out + PF_INDEX_HEAD, models, (size_t)nmodels * PF_MODEL_ID_SIZE);
	for (uint64_t i = 0; i < n; i++) {
		uint8_t *p = base + i * PF_ENTRY_SIZE;

		pf_put_le64(p, e[i].offset);
		pf_put_le32(p + 8, e[i].stored_len);
		p[12] = e[i].codec;
		p[13] = e[i].model;
		pf_put_le16(p + 14, 0);
		pf_put_le64(p + 16, e[i].checksum);
	}
}

/* Checks one entry against format.md §3. */
static int entry_check(const pf_block_entry *e, uint32_t plain_len,
		       unsigned models, uint64_t file_len)
{
	if (e->codec > PF_CODEC_MAX_ID)
		return PF_CORRUPT("unknown codec id");
	if (e->model > models)
		return PF_CORRUPT("model slot out of range");
	if ((e->codec == PF_CODEC_LEARNED) != (e->model != 0))
		return PF_CORRUPT("model slot on a block of another codec");
	if (e->codec == PF_CODEC_ZERO)
		return e->offset || e->stored_len || e->checksum
			       ? PF_CORRUPT("zero block with data")
			       : 0;
	if (e->codec == PF_CODEC_RAW && e->stored_len != plain_len)
		return PF_CORRUPT("raw block length");
	if (e->stored_len == 0 || e->stored_len > pf_codec_bound(plain_len))
		return PF_CORRUPT("stored length");
	if (e->offset < PF_DATA_START || e->offset > file_len ||
	    e->stored_len > file_len - e->offset)
		return PF_CORRUPT("block extent outside the container");
	return 0;
}

int pf_fmt_index_decode(const uint8_t *in, const pf_slot *s, unsigned shift,
			uint64_t file_len, pf_block_entry *e,
			uint8_t (*model_ids)[PF_MODEL_ID_SIZE], unsigned *nmodels)
{
	unsigned models = pf_le16(in);
	uint64_t head = PF_INDEX_HEAD + (uint64_t)models * PF_MODEL_ID_SIZE;

	if (models > PF_MODELS_MAX)
		return PF_CORRUPT("too many models");
	if (s->index_len != head + (uint64_t)s->nblocks * PF_ENTRY_SIZE)
		return PF_CORRUPT("index length");
	memcpy(model_ids, in + PF_INDEX_HEAD, (size_t)models * PF_MODEL_ID_SIZE);
	*nmodels = models;
	if (s->nblocks != pf_fmt_nblocks(s->size, shift))
		return PF_CORRUPT("block count does not match size");
	for (uint64_t i = 0; i < s->nblocks; i++) {
		const uint8_t *p = in + head + i * PF_ENTRY_SIZE;

		e[i].offset = pf_le64(p);
		e[i].stored_len = pf_le32(p + 8);
		e[i].codec = p[12];
		e[i].model = p[13];
		e[i].checksum = pf_le64(p + 16);
		PF_FORWARD(entry_check(&e[i], pf_fmt_block_len(s->size, shift, i),
				       models, file_len));
	}
	return 0;
}

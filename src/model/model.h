/* SPDX-License-Identifier: MIT */
/*
 * model.h - the model layer: a pretrained bitwise context-mixing (CM) model
 * driving a binary arithmetic coder, and its training.
 *
 * A model file holds a primed state learned offline from a sample of the
 * data (statistics tables, mixer weights, APM tables, hyper-parameters and a
 * format version). Every block is coded from that same starting state, so
 * any block decodes alone. Coding uses only integer arithmetic in code this
 * project owns: what the encoder predicts, the decoder predicts identically
 * on any x86-64 machine, with any thread count, forever. Float math (and
 * OpenBLAS) is used by training only, and its result is quantised into the
 * integer state the model file stores.
 *
 * Thread safety: a loaded pf_model is immutable and shared by all threads;
 * each thread codes with its own scratch state (created on first use).
 */
#ifndef PF_MODEL_H
#define PF_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct pf_model pf_model;

/* Coding levels: fast uses fewer contexts; max adds a neural predictor to
 * default (about 4x slower). A block decodes with the model it was made with. */
enum pf_model_level {
	PF_MODEL_LEVEL_FAST = 0,
	PF_MODEL_LEVEL_DEFAULT = 1,
	PF_MODEL_LEVEL_MAX = 2
};

/*
 * Parses and validates a model file image (untrusted bytes: every size,
 * count and table is range-checked). `data` is borrowed (typically a
 * read-only mmap of the file) and must outlive the model.
 * @return 0; -EIO corrupt or truncated; -ENOTSUP unknown format version;
 *         -ENOMEM.
 */
int pf_model_load(const void *data, size_t len, pf_model **out);
void pf_model_free(pf_model *model); /* NULL is ok */

/* Encodes plain with the model. @return stored length; -ENOSPC when the
 * output would exceed out_cap (callers pass the size they would accept and
 * fall back to another codec); -ENOMEM; -EINVAL for len >= 4 GiB. */
ssize_t pf_model_encode(const pf_model *model, const void *plain, size_t len,
			void *out, size_t out_cap);

/* Decodes exactly plain_len bytes. Never reads past stored_len or writes
 * past plain_len on hostile input. @return 0, -EIO, -ENOMEM. */
int pf_model_decode(const pf_model *model, const void *stored, size_t stored_len,
		    void *plain, size_t plain_len);

/* Progress callback for training: done of total bytes; may be NULL. */
typedef void (*pf_model_progress_fn)(void *arg, uint64_t done, uint64_t total);

/* Level max's loss curve: after step of steps, the bits per byte of the
 * network's output plus half the CM's logit (what the network learns to
 * correct) on the positions just trained on and on held-out ones. */
typedef void (*pf_model_loss_fn)(void *arg, uint64_t step, uint64_t steps,
				 double train_bpb, double held_bpb);

#define PF_MODEL_DICT_MAX ((size_t)8 << 20)
#define PF_MODEL_NET_WIDTH_MIN 32u
#define PF_MODEL_NET_WIDTH_MAX 256u
#define PF_MODEL_NET_WIDTH_STEP 32u /* widths are multiples of it */
#define PF_MODEL_NET_RANK_STEP 16u  /* embedding widths: multiples of it, */
#define PF_MODEL_NET_RANK_MAX 64u   /* at most this and the network's width */

typedef struct pf_model_train_opts {
	enum pf_model_level level;
	unsigned table_bits;  /* log2 slots per context table; 0 = default */
	/* Bytes of the sample's end stored in the model for the match model
	 * to match into (a format 3 image); 0 = none (format 2). More than
	 * the sample or PF_MODEL_DICT_MAX is cut to that. */
	size_t dict_bytes;
	/* Level max: the network's first layer width, a multiple of 32 in
	 * PF_MODEL_NET_WIDTH_MIN..MAX; 0 = the default (64). */
	unsigned net_width;
	/* Level max: the width of the network's embedding rows, a multiple of
	 * PF_MODEL_NET_RANK_STEP up to PF_MODEL_NET_RANK_MAX and net_width;
	 * 0 = a quarter of net_width. The rows are most of the network's
	 * bytes: narrower ones predict a little worse for fewer bytes. */
	unsigned net_rank;
	/* Level max: take the network from this model instead of training
	 * it again; it must have been trained on the same sample with the
	 * same width (priorctl's run with a slice reuses the run without).
	 * NULL = train. */
	const pf_model *net_from;
	/* Level max: the network also reads the previous three bytes, the
	 * previous word and the column (format 6's context features): a
	 * larger model that pays on prose (docs/neural.md). */
	bool net_context;
	pf_model_progress_fn progress;
	void *progress_arg;
	pf_model_loss_fn loss; /* may be NULL */
	void *loss_arg;
} pf_model_train_opts;

/* log2 table slots for a model that will serve `logical` bytes: about one
 * slot per 2048 of them, within 10..20 (the rule and its measurement:
 * src/priorctl/cmd_train.c). */
unsigned pf_model_table_bits_for(uint64_t logical);

/*
 * Trains a model on sample[0..len) (may be 0 bytes: a cold model) and
 * returns the model file image in *image (caller frees with free()).
 * Repeatable for a given sample, options, machine and BLAS thread count;
 * decoding depends only on the image it returns, never on how it was made.
 * @return 0, -ENOMEM, -EINVAL.
 */
int pf_model_train(const void *sample, size_t len, const pf_model_train_opts *opts,
		   void **image, size_t *image_len);

/* Level the model was trained for, and the bytes of its file image. */
enum pf_model_level pf_model_get_level(const pf_model *model);

/* What a loaded model's image says about its make (docs/model.md). */
typedef struct pf_model_shape {
	unsigned version;     /* image format: 2, 3, 4, 5 and 6 (with a network), 7, 8 */
	unsigned table_bits;  /* the image's tables: 2^table_bits slots per context */
	unsigned code_bits;   /* blocks code with tables of up to 2^code_bits */
	unsigned stride;      /* of the strided contexts */
	uint32_t slice_bytes; /* training data kept for the match model; 0: none */
	unsigned net_width;   /* the network's first layer; 0: none */
	unsigned net_rank;    /* its embeddings' width (format 6); 0: net_width */
	bool net_tokens;      /* it has the token features (format 6) */
	bool net_context;     /* it has the context features (format 6) */
	bool net_match;       /* it has the match feature (format 6) */
	bool units;           /* contexts for data in 16-bit units (format 7) */
	bool net_indirect;    /* the network has the indirect features (format 6) */
	bool net_recent;      /* and the recent tokens feature (format 6) */
	bool net_token_out;   /* and output rows per byte of a token (format 6) */
	bool fastq;           /* contexts for FASTQ quality lines (format 8) */
} pf_model_shape;
void pf_model_get_shape(const pf_model *model, pf_model_shape *shape);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * model_bench.c - measures the learned codec on one file: trains on the
 * first 10% (at most 8 MiB), codes up to N independent 256 KiB blocks spread
 * over the rest, checks each round trip and compares with zstd -19 on the
 * same blocks; or (--mem) the memory each decode thread needs beyond a
 * shared model. Not built by make; build it from the sources (docs/model.md):
 *   gcc -O2 -std=gnu11 -D_GNU_SOURCE -Isrc -Iinclude \
 *       $(pkg-config --cflags openblas) contrib/bench/model_bench.c \
 *       src/model/model_*.c src/common/pf_log.c -o /tmp/model_bench \
 *       $(pkg-config --libs openblas libzstd) -lpthread -lm
 * or against a build's libprior (contrib/bench/codec.sh does this):
 *   gcc -O2 -std=gnu11 -D_GNU_SOURCE -Isrc -Iinclude contrib/bench/model_bench.c \
 *       -o /tmp/model_bench -LBUILD/lib/.libs -Wl,-rpath,BUILD/lib/.libs -lprior -lzstd -lpthread
 *
 * Usage: model_bench FILE [blocks] [fast|default|max] [table_bits] [dict_bytes]
 * dict_bytes: the slice of the sample stored in the model for the match
 * model (pf_model_train_opts.dict_bytes; 0, the default, for none).
 * MODEL_BENCH_SAMPLE=BYTES trains on the first BYTES (at most half the
 * file) instead of the first 10%. MODEL_BENCH_NET=H1 sets level max's
 * network width; its loss curve goes to stderr. MODEL_BENCH_CONTEXT=1 gives
 * it the context features (pf_model_train_opts.net_context).
 * Prints one line: file, sample bytes, model bytes, coded bytes, bits/byte
 * (model, zstd -19), train/encode/decode MB/s (CPU time, best of 3 runs per
 * block), block start cost.
 *
 * Usage: model_bench --mem MODEL_FILE FILE THREADS [blocks]
 * Maps MODEL_FILE as the store does, has a child process encode `blocks`
 * (default 4) blocks of FILE, then THREADS threads each decode and check all
 * of them at once. Prints key=value: the model file's bytes, the RSS the
 * loaded model added, and the peak RSS the decode threads added (VmHWM after
 * they ran minus VmRSS before they started, the peak reset in between), in
 * total and per thread: coder state, output buffer, stack, malloc arena.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "common/pf_common.h"
#include "model/model.h"

#define BLOCK (256u * 1024)
#define STORED_CAP (2 * BLOCK + 64)
#define SAMPLE_MAX (8u << 20)
#define REPEAT 3

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint8_t *file_load(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		return NULL;
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		return NULL;
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Offset of block b of n spread evenly over data[first, len), rounded up
 * to 4 KiB as the store's blocks are aligned: strided data (token shards,
 * PCM) then starts each block in phase, as it does through the mount. */
static size_t block_off(size_t first, size_t len, size_t b, size_t n)
{
	size_t span = len - first > BLOCK ? len - first - BLOCK : 0;
	size_t off = first + (n > 1 ? span / (n - 1) * b : 0);

	return (off + 4095) & ~(size_t)4095;
}

/* ---- the default mode: ratio and speed against zstd -19 -------------------- */

struct bench_sum {
	size_t coded, zcoded, plain;
	double t_enc, t_dec;
};

/* Codes one block REPEAT times (best time counts: other processes share the
 * cores) and adds it to s. @return 0, or 1 when the round trip failed. */
static int bench_block(const pf_model *model, const uint8_t *in, size_t n, uint8_t *out,
		       uint8_t *back, uint8_t *zout, struct bench_sum *s)
{
	double t, best_enc = 0, best_dec = 0;
	ssize_t sz = 0;

	for (int r = 0, rc = 0; r < REPEAT; r++) {
		t = now();
		sz = pf_model_encode(model, in, n, out, STORED_CAP);
		t = now() - t;
		best_enc = r == 0 || t < best_enc ? t : best_enc;
		t = now();
		rc = sz < 0 ? -1 : pf_model_decode(model, out, (size_t)sz, back, n);
		t = now() - t;
		best_dec = r == 0 || t < best_dec ? t : best_dec;
		if (rc || memcmp(back, in, n))
			return 1;
	}
	s->t_enc += best_enc;
	s->t_dec += best_dec;
	s->coded += (size_t)sz;
	s->plain += n;
	s->zcoded += ZSTD_compress(zout, ZSTD_compressBound(BLOCK), in, n, 19);
	return 0;
}

static int bench_run(const char *path, const uint8_t *data, size_t len, size_t n_blocks,
		     const pf_model_train_opts *opts)
{
	size_t img_len, sample = len / 10 < SAMPLE_MAX ? len / 10 : SAMPLE_MAX;
	const char *want = getenv("MODEL_BENCH_SAMPLE");
	uint8_t *out = malloc(STORED_CAP), *back = malloc(BLOCK);
	uint8_t *zout = malloc(ZSTD_compressBound(BLOCK));
	struct bench_sum s = { 0 };
	double t, t_train, t_start;
	pf_model *model;
	void *img;

	if (want && strtoull(want, NULL, 10) < len / 2)
		sample = strtoull(want, NULL, 10);
	t = now();
	if (!out || !back || !zout || pf_model_train(data, sample, opts, &img, &img_len) ||
	    pf_model_load(img, img_len, &model))
		return 1;
	t_train = now() - t;
	/* block start cost: coding one byte is all start */
	t = now();
	for (int i = 0; i < 20; i++)
		pf_model_encode(model, data, 1, out, 64);
	t_start = (now() - t) / 20;
	for (size_t b = 0; b < n_blocks; b++) {
		size_t off = block_off(sample, len, b, n_blocks);
		size_t n = len - off < BLOCK ? len - off : BLOCK;

		if (off >= len)
			break;
		if (bench_block(model, data + off, n, out, back, zout, &s)) {
			fprintf(stderr, "%s: block %zu: round trip failed\n", path, b);
			return 1;
		}
	}
	printf("%s\tsample=%zu\tmodel=%zu\tplain=%zu\tcm=%.3f\tzstd19=%.3f\tratio=%.3f\t"
	       "train=%.2fMB/s\tenc=%.2fMB/s\tdec=%.2fMB/s\tstart=%.2fms (cpu time)\n",
	       path, sample, img_len, s.plain, 8.0 * s.coded / s.plain,
	       8.0 * s.zcoded / s.plain, (double)s.coded / s.zcoded, sample / t_train / 1e6,
	       s.plain / s.t_enc / 1e6, s.plain / s.t_dec / 1e6, t_start * 1e3);
	pf_model_free(model);
	free(img);
	free(out);
	free(back);
	free(zout);
	return 0;
}

/* ---- --mem: resident memory of decode threads ------------------------------ */

/* One coded block in the shared mapping the encoding child fills. */
struct mem_block {
	size_t off, n;
	ssize_t stored_len;
	uint8_t stored[STORED_CAP];
};

struct mem_run {
	const pf_model *model;
	const uint8_t *data;
	const struct mem_block *blk;
	size_t n_blocks;
	pthread_barrier_t all_decoded;
};

struct mem_thread {
	pthread_t tid;
	struct mem_run *run;
	double cpu;
	int rc;
};

/* A field of /proc/self/status in KiB, or -1. */
static long status_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	size_t flen = strlen(field);
	char line[256];
	long v = -1;

	while (f && v < 0 && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, flen) && line[flen] == ':')
			v = strtol(line + flen + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

/* Makes VmHWM the current VmRSS (Linux >= 4.0). @return 0 or -1. */
static int peak_reset(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY), rc;

	if (fd < 0)
		return -1;
	rc = write(fd, "5", 1) == 1 ? 0 : -1;
	close(fd);
	return rc;
}

/* Maps the model file read-only and loads it, as the store does. */
static int mem_model_map(const char *path, pf_model **model, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	void *map;

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*len = (size_t)st.st_size;
	map = mmap(NULL, *len, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -1;
	return pf_model_load(map, *len, model) ? -1 : 0; /* the map stays, as in a mount */
}

/* Encodes the blocks in a child process, so that none of the encoder's
 * memory (its own coder state) is ever part of this process. */
static int mem_encode(const pf_model *model, const uint8_t *data, struct mem_block *blk,
		      size_t n_blocks)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		for (size_t b = 0; b < n_blocks; b++) {
			blk[b].stored_len = pf_model_encode(model, data + blk[b].off, blk[b].n,
							    blk[b].stored, STORED_CAP);
			if (blk[b].stored_len < 0)
				_exit(1);
		}
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	return 0;
}

static void *mem_decode(void *arg)
{
	struct mem_thread *t = arg;
	const struct mem_run *run = t->run;
	uint8_t *plain = malloc(BLOCK);
	double t0 = now();

	t->rc = plain ? 0 : -1;
	for (size_t b = 0; !t->rc && b < run->n_blocks; b++) {
		const struct mem_block *k = &run->blk[b];

		if (pf_model_decode(run->model, k->stored, (size_t)k->stored_len, plain, k->n) ||
		    memcmp(plain, run->data + k->off, k->n))
			t->rc = -1;
	}
	t->cpu = now() - t0;
	/* every thread's coder state is alive until all have decoded */
	pthread_barrier_wait(&t->run->all_decoded);
	free(plain);
	return NULL;
}

/* Runs n_threads decoders at once. @return 0, or -1 when one failed. */
static int mem_threads(struct mem_run *run, struct mem_thread *th, int n_threads)
{
	int rc = 0, started = 0;

	if (pthread_barrier_init(&run->all_decoded, NULL, (unsigned)n_threads))
		return -1;
	for (; started < n_threads; started++) {
		th[started].run = run;
		if (pthread_create(&th[started].tid, NULL, mem_decode, &th[started]))
			break;
	}
	if (started < n_threads) { /* the started ones would wait at the barrier forever */
		fprintf(stderr, "model_bench: cannot start thread %d\n", started + 1);
		_exit(1);
	}
	for (int i = 0; i < n_threads; i++) {
		pthread_join(th[i].tid, NULL);
		rc |= th[i].rc;
	}
	pthread_barrier_destroy(&run->all_decoded);
	return rc;
}

static volatile uint8_t touch_sink; /* reads that the compiler must keep */

/* Fills blk with n blocks spread over the file; touches the coded bytes so
 * that they are resident before the threads start. */
static int mem_prepare(struct mem_run *run, struct mem_block *blk, size_t len)
{

	for (size_t b = 0; b < run->n_blocks; b++) {
		blk[b].off = block_off(0, len, b, run->n_blocks);
		blk[b].n = len - blk[b].off < BLOCK ? len - blk[b].off : BLOCK;
	}
	if (mem_encode(run->model, run->data, blk, run->n_blocks))
		return -1;
	for (size_t b = 0; b < run->n_blocks; b++)
		for (ssize_t i = 0; i < blk[b].stored_len; i += 4096)
			touch_sink = blk[b].stored[i];
	return 0;
}

static int mem_main(int argc, char **argv)
{
	int n_threads = argc > 4 ? atoi(argv[4]) : 0;
	struct mem_run run = { .n_blocks = argc > 5 ? strtoul(argv[5], NULL, 10) : 4 };
	struct mem_thread th[64] = { 0 };
	struct mem_block *blk;
	size_t len, model_len;
	long rss0, rss_model, base, peak;
	pf_model *model;
	double cpu = 0, plain = 0;

	if (argc < 5 || n_threads < 1 || n_threads > 64 || run.n_blocks < 1 ||
	    run.n_blocks > 1024 || !(run.data = file_load(argv[3], &len)) || len == 0) {
		fprintf(stderr, "usage: model_bench --mem MODEL_FILE FILE THREADS(1-64) [blocks]\n");
		return 2;
	}
	rss0 = status_kib("VmRSS");
	if (mem_model_map(argv[2], &model, &model_len)) {
		fprintf(stderr, "model_bench: %s: cannot map or load the model\n", argv[2]);
		return 1;
	}
	rss_model = status_kib("VmRSS") - rss0;
	run.model = model;
	blk = mmap(NULL, run.n_blocks * sizeof(*blk), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (blk == MAP_FAILED || mem_prepare(&run, blk, len)) {
		fprintf(stderr, "model_bench: %s: encoding failed\n", argv[3]);
		return 1;
	}
	run.blk = blk;
	base = status_kib("VmRSS");
	if (peak_reset()) {
		perror("model_bench: /proc/self/clear_refs");
		return 1;
	}
	if (mem_threads(&run, th, n_threads)) {
		fprintf(stderr, "model_bench: %s: decode round trip failed\n", argv[3]);
		return 1;
	}
	peak = status_kib("VmHWM");
	for (int i = 0; i < n_threads; i++)
		cpu += th[i].cpu;
	for (size_t b = 0; b < run.n_blocks; b++)
		plain += (double)n_threads * blk[b].n;
	printf("model_bytes=%zu\tmodel_rss_kib=%ld\tthreads=%d\tbase_kib=%ld\tpeak_kib=%ld\t"
	       "added_kib=%ld\tper_thread_kib=%ld\tdec_mbps_cpu=%.2f\n",
	       model_len, rss_model, n_threads, base, peak, peak - base,
	       (peak - base) / n_threads, plain / cpu / 1e6);
	return 0;
}

static void loss_print(void *arg, uint64_t step, uint64_t steps, double train_bpb,
		       double held_bpb)
{
	(void)arg;
	fprintf(stderr, "net step %llu/%llu: train %.4f held-out %.4f bits/byte\n",
		(unsigned long long)step, (unsigned long long)steps, train_bpb, held_bpb);
}

int main(int argc, char **argv)
{
	pf_model_train_opts opts = { 0 };
	size_t len, n_blocks = argc > 2 ? strtoul(argv[2], NULL, 10) : 4;
	uint8_t *data;
	int rc;

	if (argc > 1 && !strcmp(argv[1], "--mem"))
		return mem_main(argc, argv);
	if (argc < 2 || !(data = file_load(argv[1], &len))) {
		fprintf(stderr, "usage: model_bench FILE [blocks] [fast|default|max] [table_bits] "
				"[dict_bytes]\n"
				"       model_bench --mem MODEL_FILE FILE THREADS [blocks]\n");
		return 2;
	}
	opts.level = PF_MODEL_LEVEL_DEFAULT;
	if (argc > 3 && !strcmp(argv[3], "fast"))
		opts.level = PF_MODEL_LEVEL_FAST;
	else if (argc > 3 && !strcmp(argv[3], "max"))
		opts.level = PF_MODEL_LEVEL_MAX;
	opts.net_width = getenv("MODEL_BENCH_NET") ? (unsigned)atoi(getenv("MODEL_BENCH_NET")) : 0;
	opts.net_context = getenv("MODEL_BENCH_CONTEXT") != NULL;
	opts.loss = loss_print;
	opts.table_bits = argc > 4 ? (unsigned)atoi(argv[4]) : 0;
	opts.dict_bytes = argc > 5 ? strtoull(argv[5], NULL, 10) : 0;
	if (getenv("MODEL_BENCH_DEBUG"))
		pf_log_set_level(PF_LOG_DEBUG);
	rc = bench_run(argv[1], data, len, n_blocks, &opts);
	free(data);
	return rc;
}

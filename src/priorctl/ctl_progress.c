/* SPDX-License-Identifier: MIT */
/*
 * ctl_progress.c - the one-line progress bar long priorctl commands show on
 * a terminal: label, bar, bytes done of total, MB/s and time left.
 *
 * Drawn on stderr only when it is a terminal, so logs and pipes get no
 * escape codes. Workers add bytes with an atomic counter; a redraw happens
 * at most every 200 ms, claimed by one thread with a compare-and-swap on the
 * next draw time, and written under the stdio lock of stderr so that it
 * never interleaves with a message (pctl_err() clears the bar first).
 */
#include "priorctl/priorctl.h"

#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#define DRAW_EVERY_NS 200000000 /* 5 redraws a second at most */
#define BAR_WIDTH 24

/* The bar on screen, if any; both guarded by flockfile(stderr). */
static struct pctl_progress *active;
static bool drawn;

static int64_t elapsed_ns(const struct pctl_progress *p)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - p->start.tv_sec) * 1000000000 +
	       (now.tv_nsec - p->start.tv_nsec);
}

void pctl_progress_start(struct pctl_progress *p, const char *label,
			 uint64_t total)
{
	memset(p, 0, sizeof(*p));
	p->label = label;
	p->total = total;
	p->tty = isatty(STDERR_FILENO) == 1;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	atomic_store(&p->next_draw_ns, DRAW_EVERY_NS);
	flockfile(stderr);
	active = p;
	funlockfile(stderr);
}

/* "1:02:03" or "2:03": hours only when needed. */
static void format_eta(double seconds, char buf[24])
{
	uint64_t s = seconds > 0 && seconds < 360000 ? (uint64_t)seconds : 0;

	if (s >= 3600)
		snprintf(buf, 24, "%" PRIu64 ":%02u:%02u", s / 3600,
			 (unsigned)(s / 60 % 60), (unsigned)(s % 60));
	else
		snprintf(buf, 24, "%u:%02u", (unsigned)(s / 60),
			 (unsigned)(s % 60));
}

static void draw_locked(struct pctl_progress *p, int64_t ns)
{
	uint64_t done = atomic_load(&p->done), total = p->total;
	double secs = (double)ns / 1e9, rate = secs > 0 ? (double)done / secs : 0;
	char bar[BAR_WIDTH + 1], d[16], t[16], eta[24] = "?";
	unsigned fill = 0;

	if (done > total)
		total = done; /* a file grew while we read it */
	if (total)
		fill = (unsigned)((double)done / (double)total * BAR_WIDTH);
	memset(bar, '#', fill);
	memset(bar + fill, '-', BAR_WIDTH - fill);
	bar[BAR_WIDTH] = '\0';
	if (rate > 0)
		format_eta((double)(total - done) / rate, eta);
	fprintf(stderr, "\r%s [%s] %3u%% %s/%s %.1f MB/s ETA %s\033[K",
		p->label, bar, total ? (unsigned)(done * 100 / total) : 100,
		pctl_human_size(done, d), pctl_human_size(total, t), rate / 1e6,
		eta);
	fflush(stderr);
	drawn = true;
}

static void maybe_draw(struct pctl_progress *p)
{
	int64_t now, next;

	if (!p->tty)
		return;
	now = elapsed_ns(p);
	next = atomic_load(&p->next_draw_ns);
	/* One thread wins each redraw slot; the others go back to work. */
	if (now < next || !atomic_compare_exchange_strong(&p->next_draw_ns,
							  &next,
							  now + DRAW_EVERY_NS))
		return;
	flockfile(stderr);
	if (active == p)
		draw_locked(p, now);
	funlockfile(stderr);
}

void pctl_progress_add(struct pctl_progress *p, uint64_t bytes)
{
	atomic_fetch_add(&p->done, bytes);
	maybe_draw(p);
}

void pctl_progress_set(struct pctl_progress *p, uint64_t done)
{
	atomic_store(&p->done, done);
	maybe_draw(p);
}

void pctl_progress_clear_locked(void)
{
	if (!drawn)
		return;
	fputs("\r\033[K", stderr);
	drawn = false;
}

void pctl_progress_end(struct pctl_progress *p)
{
	flockfile(stderr);
	if (active == p) {
		pctl_progress_clear_locked();
		active = NULL;
	}
	funlockfile(stderr);
}

/* SPDX-License-Identifier: MIT */
/*
 * store_alloc.c - sorted, merged extent lists: a container's free space and
 * its quarantine of extents freed by the last commit (format.md §4).
 *
 * Lists stay short (free gaps inside one container), so a sorted array with
 * linear insertion is the plain choice.
 */
#include "store/store_int.h"

#include <stdlib.h>

static int extents_reserve(pf_extents *x, size_t n)
{
	pf_extent *v;
	size_t cap;

	if (n <= x->cap)
		return 0;
	cap = x->cap ? x->cap * 2 : 16;
	while (cap < n)
		cap *= 2;
	v = realloc(x->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	x->v = v;
	x->cap = cap;
	return 0;
}

/* Adds [off, off+len) (disjoint from every extent in x) keeping x sorted and
 * merging neighbours. */
int pf_extents_add(pf_extents *x, uint64_t off, uint64_t len)
{
	size_t i = 0;

	if (len == 0)
		return 0;
	while (i < x->n && x->v[i].off < off)
		i++;
	if (i > 0 && x->v[i - 1].off + x->v[i - 1].len == off) {
		x->v[i - 1].len += len;
		if (i < x->n && off + len == x->v[i].off) {
			x->v[i - 1].len += x->v[i].len;
			memmove(&x->v[i], &x->v[i + 1], (x->n - i - 1) * sizeof(*x->v));
			x->n--;
		}
		return 0;
	}
	if (i < x->n && off + len == x->v[i].off) {
		x->v[i].off = off;
		x->v[i].len += len;
		return 0;
	}
	PF_FORWARD(extents_reserve(x, x->n + 1));
	memmove(&x->v[i + 1], &x->v[i], (x->n - i) * sizeof(*x->v));
	x->v[i] = (pf_extent){ off, len };
	x->n++;
	return 0;
}

void pf_extents_clear(pf_extents *x)
{
	x->n = 0;
}

void pf_extents_free(pf_extents *x)
{
	free(x->v);
	*x = (pf_extents){ 0 };
}

uint64_t pf_extents_take(pf_extents *x, uint64_t len)
{
	for (size_t i = 0; i < x->n; i++) {
		uint64_t off = x->v[i].off;

		if (x->v[i].len < len)
			continue;
		x->v[i].off += len;
		x->v[i].len -= len;
		if (x->v[i].len == 0) {
			memmove(&x->v[i], &x->v[i + 1], (x->n - i - 1) * sizeof(*x->v));
			x->n--;
		}
		return off;
	}
	return 0;
}

int pf_extents_merge(pf_extents *dst, pf_extents *src)
{
	for (size_t i = 0; i < src->n; i++)
		PF_FORWARD(pf_extents_add(dst, src->v[i].off, src->v[i].len));
	pf_extents_clear(src);
	return 0;
}

void pf_extents_clip(pf_extents *x, uint64_t end)
{
	while (x->n && x->v[x->n - 1].off >= end)
		x->n--;
	if (x->n && x->v[x->n - 1].off + x->v[x->n - 1].len > end)
		x->v[x->n - 1].len = end - x->v[x->n - 1].off;
}

/* SPDX-License-Identifier: MIT */
/*
 * fuzz_sniff.c - fuzzes data-kind sniffing (src/priorctl/ctl_sniff.c), the
 * reader of every file's first bytes that priorctl train, import and stat
 * run: text and line shapes, FASTQ records and tar headers. The first byte
 * is the length of the file name (up to 63 bytes, cut at a NUL), the rest
 * is the head. Sniffing must never crash or read past the head, and must
 * name a kind.
 */
#define FUZZ_ENTRY fuzz_sniff_entry
#include "fuzz_helpers.h"

#include <string.h>

#include "priorctl/priorctl.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	size_t name_len = 0;
	char name[64];
	unsigned char *head;
	enum pctl_kind kind;

	if (size) {
		name_len = data[0] % 64;
		data++;
		size--;
	}
	if (name_len > size)
		name_len = size;
	memcpy(name, data, name_len);
	name[name_len] = '\0';
	data += name_len;
	size -= name_len;
	head = malloc(size ? size : 1); /* exactly the head, so ASan sees overreads */
	FUZZ_ASSERT(head);
	memcpy(head, data, size);
	kind = pctl_kind_sniff(name, head, size);
	FUZZ_ASSERT(kind < PCTL_KIND_COUNT);
	FUZZ_ASSERT(strcmp(pctl_kind_name(kind), "unknown") != 0);
	if (pctl_kind_by_name(name, &kind))
		FUZZ_ASSERT(kind < PCTL_KIND_COUNT);
	free(head);
	return 0;
}

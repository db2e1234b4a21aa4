/* SPDX-License-Identifier: MIT */
/* pf_sha256.h - SHA-256 (FIPS 180-4), the content address of model files. */
#ifndef PF_SHA256_H
#define PF_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define PF_SHA256_SIZE 32
#define PF_SHA256_HEX_SIZE 65 /* 64 hex digits and a NUL */

/* Hashes data[0..len) into out. */
void pf_sha256(const void *data, size_t len, uint8_t out[PF_SHA256_SIZE]);

/* Lower-case hex of a digest. */
void pf_sha256_hex(const uint8_t id[PF_SHA256_SIZE], char hex[PF_SHA256_HEX_SIZE]);

/* Parses 64 hex digits. @return 0 or -EINVAL. */
int pf_sha256_parse(const char *hex, uint8_t id[PF_SHA256_SIZE]);

#endif

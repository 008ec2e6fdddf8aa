/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Numbers from text, with one set of rules for the whole tree: the whole string must be the number
 * (no sign, no leading or trailing whitespace, no empty string), -EINVAL for anything else, -ERANGE
 * when it does not fit. Nothing is written to *ret on failure. */

#include <stdint.h>

#include "macro.h"

/* base 10, 8 or 16 (no "0x" prefix for 16: the caller knows which it reads). */
int safe_atou64_full(const char *s, unsigned base, uint64_t *ret);
static inline int safe_atou64(const char *s, uint64_t *ret) {
        return safe_atou64_full(s, 10, ret);
}
int safe_atou32(const char *s, uint32_t *ret);
int safe_atou16(const char *s, uint16_t *ret);
int safe_atou(const char *s, unsigned *ret);

/* A TCP or UDP port: 1 to 65535. */
int parse_port(const char *s, uint16_t *ret);

/* "4G", "512M", "1048576", "infinity" -> bytes: 1024-based suffixes K, M, G, T as systemd's unit
 * settings take them. "infinity" is UINT64_MAX; a number that reaches UINT64_MAX is -ERANGE, so the
 * two cannot be confused. */
int parse_size(const char *s, uint64_t *ret);

/* The number N of the line "KEY N" in TEXT (flat keyed files such as cgroup's *.events and
 * memory.oom_control): -ENODATA without such a line, -EINVAL if N is not a decimal uint64. */
int parse_keyed_u64(const char *text, const char *key, uint64_t *ret);

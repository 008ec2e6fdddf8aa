/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A growable byte buffer with a hard ceiling (curl's dynbuf "toobig"): every buffer a peer can fill
 * has one, so no peer can make the broker allocate without bound. */

#include "macro.h"

typedef struct Buf {
        char *data;
        size_t size;      /* bytes in use */
        size_t allocated; /* bytes allocated */
        size_t max;       /* ceiling: appending beyond it fails with -ENOBUFS */
} Buf;

#define BUF_INIT(m) ((Buf) { .max = (m) })

void buf_done(Buf *b);
/* -ENOBUFS when the result would exceed b->max (b is then unchanged), -ENOMEM on allocation failure. */
int buf_append(Buf *b, const void *data, size_t size);
int buf_printf(Buf *b, const char *fmt, ...) _printf_(2, 3);
/* Drops the first n bytes (n <= size). */
void buf_consume(Buf *b, size_t n);
static inline void buf_clear(Buf *b) {
        b->size = 0;
}
/* NUL-terminates the contents (not counted in size); needs room for one more byte below max. */
int buf_terminate(Buf *b);

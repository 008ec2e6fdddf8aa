/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <string.h>

#include "buf.h"

void buf_done(Buf *b) {
        free(b->data);
        b->data = NULL;
        b->size = b->allocated = 0;
}

static int buf_reserve(Buf *b, size_t extra) {
        size_t need, a;
        char *p;

        if (extra > b->max || b->size > b->max - extra)
                return -ENOBUFS;
        need = b->size + extra;
        if (need <= b->allocated)
                return 0;
        a = MAX(b->allocated * 2, (size_t) 256);
        while (a < need)
                a *= 2;
        /* Allocate one byte past the ceiling at most, for the terminating NUL. */
        a = MIN(a, b->max + 1);
        p = realloc(b->data, a);
        if (!p)
                return -ENOMEM;
        b->data = p;
        b->allocated = a;
        return 0;
}

int buf_append(Buf *b, const void *data, size_t size) {
        int r;

        if (size == 0)
                return 0;
        r = buf_reserve(b, size);
        if (r < 0)
                return r;
        memcpy(b->data + b->size, data, size);
        b->size += size;
        return 0;
}

int buf_printf(Buf *b, const char *fmt, ...) {
        size_t room = b->allocated - b->size;
        va_list ap;
        int n, r;

        /* Formatted once where it fits already (the common case: a buffer reused from the last
         * answer), else measured by that first try and formatted again after growing. */
        va_start(ap, fmt);
        n = vsnprintf(room > 0 ? b->data + b->size : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -EINVAL;
        if ((size_t) n < room && (size_t) n < b->max - b->size) {
                b->size += (size_t) n;
                return 0;
        }
        r = buf_reserve(b, (size_t) n + 1);
        if (r < 0)
                return r;
        va_start(ap, fmt);
        (void) vsnprintf(b->data + b->size, (size_t) n + 1, fmt, ap);
        va_end(ap);
        b->size += (size_t) n;
        return 0;
}

void buf_consume(Buf *b, size_t n) {
        if (n >= b->size) {
                b->size = 0;
                return;
        }
        memmove(b->data, b->data + n, b->size - n);
        b->size -= n;
}

int buf_terminate(Buf *b) {
        if (b->size + 1 > b->allocated) {
                char *p = realloc(b->data, b->size + 1);
                if (!p)
                        return -ENOMEM;
                b->data = p;
                b->allocated = b->size + 1;
        }
        b->data[b->size] = 0;
        return 0;
}

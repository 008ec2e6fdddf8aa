/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <string.h>

#include "diag.h"
#include "string-util.h"

static void diag_done(Diag *d) {
        free(d->file);
        free(d->path);
        free(d->message);
}

/* Control characters from a file (e.g. a quoted key "\e[2J") must not reach a terminal as such:
 * they are written as \xNN. Returns a new string. */
static char *escape_cc(const char *s) {
        size_t n = 0;
        char *r, *p;

        for (const char *c = s; *c; c++)
                n += ((unsigned char) *c < ' ' || *c == 127) ? 4 : 1;
        r = malloc(n + 1);
        if (!r)
                return NULL;
        p = r;
        for (const char *c = s; *c; c++)
                if ((unsigned char) *c < ' ' || *c == 127)
                        p += sprintf(p, "\\x%02x", (unsigned char) *c);
                else
                        *p++ = *c;
        *p = 0;
        return r;
}

int diag_addv(DiagList *l, DiagLevel level, const char *file, unsigned line, unsigned column, const char *path,
              const char *fmt, va_list ap) {
        _cleanup_free_ char *message = NULL, *f = NULL, *p = NULL;
        Diag *items;
        int r;

        if (level == DIAG_ERROR)
                l->n_errors++;
        else
                l->n_warnings++;
        if (l->n_items >= DIAG_LIST_MAX)
                return 0;

        r = vasprintf_safe(&message, fmt, ap);
        if (r < 0)
                return r;
        if (string_has_cc(message)) {
                char *e = escape_cc(message);
                if (!e)
                        return -ENOMEM;
                free(message);
                message = e;
        }
        f = file ? strdup(file) : NULL;
        p = path ? escape_cc(path) : NULL;
        if ((file && !f) || (path && !p))
                return -ENOMEM;

        items = reallocarray(l->items, l->n_items + 1, sizeof(Diag));
        if (!items)
                return -ENOMEM;
        l->items = items;
        l->items[l->n_items++] = (Diag) {
                .level = level,
                .file = TAKE_PTR(f),
                .line = line,
                .column = column,
                .path = TAKE_PTR(p),
                .message = TAKE_PTR(message),
        };
        return 0;
}

int diag_add(DiagList *l, DiagLevel level, const char *file, unsigned line, unsigned column, const char *path,
             const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = diag_addv(l, level, file, line, column, path, fmt, ap);
        va_end(ap);
        return r;
}

void diag_list_done(DiagList *l) {
        for (size_t i = 0; i < l->n_items; i++)
                diag_done(&l->items[i]);
        free(l->items);
        *l = (DiagList) {};
}

int diag_format(const Diag *d, char **ret) {
        const char *level = d->level == DIAG_WARNING ? "warning: " : "";
        const char *file = d->file ?: "<input>";

        if (d->line > 0 && d->path)
                return asprintf_safe(ret, "%s:%u:%u: %s: %s%s", file, d->line, d->column, d->path, level,
                                     d->message);
        if (d->line > 0)
                return asprintf_safe(ret, "%s:%u:%u: %s%s", file, d->line, d->column, level, d->message);
        if (d->path)
                return asprintf_safe(ret, "%s: %s: %s%s", file, d->path, level, d->message);
        return asprintf_safe(ret, "%s: %s%s", file, level, d->message);
}

void diag_list_print(const DiagList *l, FILE *f) {
        size_t total = l->n_errors + l->n_warnings;

        for (size_t i = 0; i < l->n_items; i++) {
                _cleanup_free_ char *s = NULL;

                if (diag_format(&l->items[i], &s) < 0)
                        fputs("(out of memory while formatting a diagnostic)\n", f);
                else
                        fprintf(f, "%s\n", s);
        }
        if (total > l->n_items)
                fprintf(f, "%zu more problems not shown\n", total - l->n_items);
}

void diag_report(DiagReporter *rep, DiagLevel level, unsigned line, unsigned column, const char *path,
                 const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = diag_addv(rep->diags, level, rep->file, line, column, path, fmt, ap);
        va_end(ap);
        if (r < 0 && rep->r >= 0)
                rep->r = r;
}

char *diag_path_key(DiagReporter *rep, const char *parent, const char *key) {
        char *s;

        if (asprintf_safe(&s, "%s%s%s", parent ?: "", parent ? "." : "", key) < 0) {
                rep->r = -ENOMEM;
                return NULL;
        }
        return s;
}

char *diag_path_index(DiagReporter *rep, const char *parent, size_t i) {
        char *s;

        if (asprintf_safe(&s, "%s[%zu]", parent, i) < 0) {
                rep->r = -ENOMEM;
                return NULL;
        }
        return s;
}

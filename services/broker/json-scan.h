/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Cursors over JSON text, for what the broker reads in every request and answer without building
 * json-c objects (a fifth of the broker's instructions per request once went to parsing answers,
 * bench/README.md): the members of an object, integers. Strings and nesting are followed, scalars are
 * checked for the bytes they may hold, not for their form. They never read past end. */

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "macro.h"

const char *json_skip_space(const char *p, const char *end) _pure_;

/* A member of an object: its key as the bytes between its quotes (compared as written, escapes not
 * decoded) and its value's text. */
typedef struct JsonMember {
        const char *key;
        size_t key_size;
        const char *value, *value_end;
} JsonMember;

static inline bool json_key_is(const JsonMember *m, const char *key) {
        return m->key_size == strlen(key) && memcmp(m->key, key, m->key_size) == 0;
}

/* Walks the members of the object at *p: 1 with *ret filled for each member, 0 after the last one
 * (*p then past the closing brace), -EBADMSG on malformed text. *p starts at the opening brace, and
 * first is true for the first call. */
int json_next_member(const char **p, const char *end, bool first, JsonMember *ret);

/* An integer as json-c types it (json_type_int): digits with an optional minus, nothing else; false
 * for anything else or a value beyond int64_t. */
bool json_integer(const char *p, const char *end, int64_t *ret);

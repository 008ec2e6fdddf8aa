/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "broker-caller.h"
#include "sandbox-name.h"
#include "string-util.h"

int broker_caller_identity(bool have_peer_uid, uid_t peer_uid, const HttpRequest *req, char **ret_identity,
                           bool *ret_is_sandbox) {
        const char *sandbox = http_request_header(req, BROKER_SANDBOX_HEADER);
        char *s;
        int r;

        if (have_peer_uid && peer_uid == 0 && sandbox) {
                if (http_request_header_count(req, BROKER_SANDBOX_HEADER) != 1 || !sandbox_name_is_valid(sandbox))
                        return -EBADMSG;
                s = strdup(sandbox);
                if (!s)
                        return -ENOMEM;
                *ret_identity = s;
                *ret_is_sandbox = true;
                return 0;
        }

        /* Anyone else's header is ignored: a sandbox could otherwise claim another's quota and name. */
        if (have_peer_uid)
                r = asprintf_safe(&s, "host:%u", (unsigned) peer_uid);
        else
                r = asprintf_safe(&s, "host:tcp");
        if (r < 0)
                return r;
        *ret_identity = s;
        *ret_is_sandbox = false;
        return 0;
}

void caller_table_done(CallerTable *t) {
        for (size_t i = 0; i < t->n_items; i++)
                free(t->items[i].identity);
        free(t->items);
        *t = (CallerTable) {};
}

static CallerCount *caller_find(const CallerTable *t, const char *identity) {
        for (size_t i = 0; i < t->n_items; i++)
                if (streq(t->items[i].identity, identity))
                        return &t->items[i];
        return NULL;
}

unsigned caller_count(const CallerTable *t, const char *identity) {
        CallerCount *c = caller_find(t, identity);
        return c ? c->n : 0;
}

int caller_acquire(CallerTable *t, const char *identity, unsigned max) {
        CallerCount *c = caller_find(t, identity), *a;

        if (c) {
                if (max > 0 && c->n >= max)
                        return -EBUSY;
                c->n++;
                return 0;
        }
        if (t->n_items >= CALLERS_MAX)
                return -EBUSY;
        a = reallocarray(t->items, t->n_items + 1, sizeof(CallerCount));
        if (!a)
                return -ENOMEM;
        t->items = a;
        t->items[t->n_items] = (CallerCount) { .identity = strdup(identity), .n = 1 };
        if (!t->items[t->n_items].identity)
                return -ENOMEM;
        t->n_items++;
        return 0;
}

void caller_release(CallerTable *t, const char *identity) {
        CallerCount *c = caller_find(t, identity);

        if (!c || c->n == 0)
                return;
        if (--c->n == 0) {
                free(c->identity);
                *c = t->items[--t->n_items];
        }
}

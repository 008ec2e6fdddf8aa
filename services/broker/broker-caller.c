/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "broker-caller.h"
#include "log.h"
#include "sandbox-name.h"
#include "string-util.h"

int broker_user_lookup_nss(const char *user, uid_t *ret_uid) {
        _cleanup_free_ char *buf = NULL;
        struct passwd pw, *result = NULL;
        size_t size = 1024;
        int r;

        for (;;) {
                free(buf);
                buf = malloc(size);
                if (!buf)
                        return -ENOMEM;
                r = getpwnam_r(user, &pw, buf, size, &result);
                if (r != ERANGE)
                        break;
                if (size >= 1024 * 1024)
                        return -ERANGE;
                size *= 2;
        }
        if (r > 0)
                return -r;
        if (!result)
                return -ESRCH;
        *ret_uid = result->pw_uid;
        return 0;
}

/* Whether PEER_UID is the uid of the proxy of sandbox NAME: the user is dynamic, so it exists (and
 * has this uid) only while openshell-proxy@NAME.service runs, and no other unit gets that uid then. */
static bool peer_is_sandbox_proxy(uid_t peer_uid, const char *name, BrokerUserLookup lookup) {
        _cleanup_free_ char *user = NULL;
        uid_t uid;
        int r;

        if (!lookup || !sandbox_name_is_valid(name)) {
                log_debug("Ignoring %s from uid %u: %s.", BROKER_SANDBOX_HEADER, (unsigned) peer_uid,
                          lookup ? "not a valid sandbox name" : "only root may send it here");
                return false;
        }
        r = sandbox_proxy_user_name(name, &user);
        if (r < 0)
                return false;
        r = lookup(user, &uid);
        if (r < 0) {
                log_debug_errno(r, "Ignoring %s: %s from uid %u, no user %s: %m", BROKER_SANDBOX_HEADER,
                                name, (unsigned) peer_uid, user);
                return false;
        }
        if (uid != peer_uid) {
                log_debug("Ignoring %s: %s from uid %u, the user %s is uid %u.", BROKER_SANDBOX_HEADER, name,
                          (unsigned) peer_uid, user, (unsigned) uid);
                return false;
        }
        return true;
}

int broker_caller_identity(bool have_peer_uid, uid_t peer_uid, const HttpRequest *req,
                           BrokerUserLookup lookup, char **ret_identity, bool *ret_is_sandbox) {
        const char *sandbox = http_request_header(req, BROKER_SANDBOX_HEADER);
        bool trusted = false;
        char *s;
        int r;

        /* Root is trusted whatever the header says (and gets 400 for a bad one); any other peer only
         * once its uid proves it is the proxy of the sandbox it names, so the lookup happens only then. */
        if (have_peer_uid && sandbox)
                trusted = peer_uid == 0 || peer_is_sandbox_proxy(peer_uid, sandbox, lookup);
        if (trusted) {
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

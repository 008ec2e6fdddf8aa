/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "broker-caller.h"
#include "json-util.h"
#include "log.h"
#include "sandbox-name.h"
#include "string-util.h"

int broker_userdb_reply_parse(const char *reply, const char *user, uid_t *ret_uid) {
        _cleanup_(json_object_putp) json_object *o = json_tokener_parse(reply);
        json_object *params, *record, *name, *uid, *error;
        int64_t v;

        if (!o || !json_object_is_type(o, json_type_object))
                return -EBADMSG;
        if (json_object_object_get_ex(o, "error", &error)) {
                const char *e = json_object_get_string(error);
                return e && streq(e, "io.systemd.UserDatabase.NoRecordFound") ? -ESRCH : -EIO;
        }
        if (!json_object_object_get_ex(o, "parameters", &params) ||
            !json_object_object_get_ex(params, "record", &record) ||
            !json_object_object_get_ex(record, "userName", &name) ||
            !json_object_object_get_ex(record, "uid", &uid) ||
            !json_object_is_type(name, json_type_string) || !json_object_is_type(uid, json_type_int))
                return -EBADMSG;
        /* Asked by name, so the record must be that name's. */
        if (!streq(json_object_get_string(name), user))
                return -EBADMSG;
        v = json_object_get_int64(uid);
        if (v <= 0 || v >= (int64_t) UINT32_MAX)
                return -EBADMSG;
        *ret_uid = (uid_t) v;
        return 0;
}

int broker_user_lookup_dynamic(const char *user, uid_t *ret_uid) {
        static const struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = BROKER_USERDB_DYNAMIC_USER };
        static const struct timeval tv = { .tv_sec = 1 };
        _cleanup_(json_object_putp) json_object *call = NULL, *params = NULL;
        _cleanup_close_ int fd = -EBADF;
        char reply[4096];
        const char *text;
        size_t n = 0;

        call = json_object_new_object();
        params = json_object_new_object();
        if (!call || !params || json_object_object_add(params, "userName", json_object_new_string(user)) < 0 ||
            json_object_object_add(params, "service", json_object_new_string("io.systemd.DynamicUser")) < 0 ||
            json_object_object_add(call, "method",
                                   json_object_new_string("io.systemd.UserDatabase.GetUserRecord")) < 0 ||
            json_object_object_add(call, "parameters", json_object_get(params)) < 0)
                return -ENOMEM;
        text = json_object_to_json_string_ext(call, JSON_C_TO_STRING_PLAIN);
        if (!text)
                return -ENOMEM;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* PID 1 answers at once; the bound only keeps a wedged manager from stalling the broker. */
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        /* A varlink message is a JSON object ended by a NUL byte. */
        if (send(fd, text, strlen(text) + 1, MSG_NOSIGNAL) != (ssize_t) strlen(text) + 1)
                return -EIO;
        while (n == 0 || reply[n - 1] != 0) {
                ssize_t k;

                if (n >= sizeof(reply))
                        return -EMSGSIZE;
                k = recv(fd, reply + n, sizeof(reply) - n, 0);
                if (k < 0)
                        return errno == EAGAIN ? -ETIMEDOUT : -errno;
                if (k == 0)
                        return -ECONNRESET;
                n += (size_t) k;
        }
        return broker_userdb_reply_parse(reply, user, ret_uid);
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

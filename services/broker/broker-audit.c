/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>

#include "broker-audit.h"
#include "string-util.h"

void audit_entry_done(AuditEntry *e) {
        buf_done(&e->text);
        e->n_fields = 0;
}

static int audit_field_end(AuditEntry *e) {
        if (e->n_fields >= AUDIT_FIELDS_MAX)
                return -ENOBUFS;
        e->end[e->n_fields++] = e->text.size;
        return 0;
}

static int audit_field(AuditEntry *e, const char *name, const char *value, size_t size) {
        int r = buf_append(&e->text, name, strlen(name));
        if (r >= 0)
                r = buf_append(&e->text, value, size);
        return r < 0 ? r : audit_field_end(e);
}

static int audit_field_str(AuditEntry *e, const char *name, const char *value) {
        return value ? audit_field(e, name, value, strlen(value)) : 0;
}

static int audit_field_int(AuditEntry *e, const char *name, int64_t value) {
        char s[sizeof("-9223372036854775808")];
        int n = snprintf(s, sizeof(s), "%" PRIi64, value);

        return audit_field(e, name, s, (size_t) n);
}

int audit_format(const AuditRecord *a, AuditEntry *e) {
        bool ok = a->status >= 200 && a->status < 400;
        const char *decision = ok ? "allow" : a->reason ? "deny" : "error";
        int path_size = (int) strcspn(a->path, "?");
        size_t start = 0;
        int r;

        buf_clear(&e->text);
        e->n_fields = 0;
        r = audit_field_str(e, "MESSAGE_ID=", BROKER_AUDIT_MESSAGE_ID);
        if (r >= 0)
                r = audit_field_int(e, "PRIORITY=", a->status >= 500 ? 4 : 6);
        /* Upstream's shorthand: API:INFERENCE [SEV] <status> <model> via <provider> <ms>ms [<METHOD path>] */
        if (r >= 0)
                r = buf_printf(&e->text,
                               "MESSAGE=API:INFERENCE [%s] %s %s via %s %" PRIu64 "ms [%s %.*s] "
                               "[caller:%s status:%d%s%s]",
                               ok ? "INFO" : "MED", ok ? "Success" : "Failure", strna(a->model),
                               a->backend ?: strna(a->provider), a->latency / USEC_PER_MSEC, a->method, path_size,
                               a->path, a->caller, a->status, a->reason ? " reason:" : "", a->reason ?: "");
        if (r >= 0)
                r = audit_field_end(e);
        if (r >= 0)
                r = audit_field_str(e, "OPENSHELL_EVENT=", "inference");
        if (r >= 0)
                r = audit_field_str(e, "OPENSHELL_DECISION=", decision);
        if (r >= 0)
                r = audit_field_str(e, "OPENSHELL_SANDBOX=", a->caller);
        if (r >= 0)
                r = audit_field_str(e, "OPENSHELL_ROUTE=", a->route);
        if (r >= 0)
                r = audit_field_str(e, "OPENSHELL_PROVIDER=", a->provider);
        if (r >= 0)
                r = audit_field_str(e, "OPENSHELL_MODEL=", a->model);
        if (r >= 0)
                r = audit_field_str(e, "OPENSHELL_BACKEND=", a->backend);
        if (r >= 0)
                r = audit_field_int(e, "OPENSHELL_STATUS=", a->status);
        if (r >= 0)
                r = audit_field_str(e, "OPENSHELL_METHOD=", a->method);
        if (r >= 0)
                r = audit_field(e, "OPENSHELL_PATH=", a->path, (size_t) path_size);
        if (r >= 0 && a->usage.in >= 0)
                r = audit_field_int(e, "OPENSHELL_TOKENS_IN=", a->usage.in);
        if (r >= 0 && a->usage.out >= 0)
                r = audit_field_int(e, "OPENSHELL_TOKENS_OUT=", a->usage.out);
        if (r >= 0)
                r = audit_field_int(e, "OPENSHELL_LATENCY_US=", (int64_t) a->latency);
        if (r >= 0 && a->ttfb > 0)
                r = audit_field_int(e, "OPENSHELL_TTFB_US=", (int64_t) a->ttfb);
        if (r >= 0)
                r = audit_field_str(e, "OPENSHELL_REASON=", a->reason);
        if (r < 0) {
                e->n_fields = 0;
                return r;
        }
        /* The buffer has found its size: only now can the fields point into it. */
        for (size_t i = 0; i < e->n_fields; i++) {
                e->iov[i] = (struct iovec) { .iov_base = e->text.data + start, .iov_len = e->end[i] - start };
                start = e->end[i];
        }
        return 0;
}

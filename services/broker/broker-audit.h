/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The journal fields of the audit event of one request: MESSAGE_ID, MESSAGE (upstream's one-line
 * shorthand) and OPENSHELL_* fields. No prompt or completion text is ever part of it. */

#include <stdbool.h>
#include <sys/uio.h>

#include "broker-usage.h"
#include "buf.h"
#include "time-util.h"

#define BROKER_AUDIT_MESSAGE_ID "45bed7cf28f74e09bb2dedc1232e9aab"
typedef struct AuditRecord {
        const char *caller;   /* sandbox name or host:UID */
        bool is_sandbox;
        const char *method, *path; /* the path's query, if any, is left out of the event */
        const char *route, *provider, *model, *backend;
        int status;
        TokenUsage usage;
        usec_t latency;       /* request received to answer complete */
        usec_t ttfb;          /* request received to the answer's head (0: none) */
        const char *reason;   /* for errors answered by the broker itself, else NULL */
} AuditRecord;
/* The fields are formatted into one buffer, kept from one event to the next, and sent as they lie
 * (sd_journal_sendv(e->iov, e->n_fields)): no allocation per field and request. */
#define AUDIT_FIELDS_MAX 20U
#define AUDIT_ENTRY_SIZE_MAX (64U * 1024U)
typedef struct AuditEntry {
        Buf text;
        size_t end[AUDIT_FIELDS_MAX]; /* where each field ends in text */
        struct iovec iov[AUDIT_FIELDS_MAX];
        size_t n_fields;
} AuditEntry;
#define AUDIT_ENTRY_INIT ((AuditEntry) { .text = BUF_INIT(AUDIT_ENTRY_SIZE_MAX) })
void audit_entry_done(AuditEntry *e);
/* On failure (-ENOBUFS beyond AUDIT_ENTRY_SIZE_MAX, -ENOMEM) e holds no field. */
int audit_format(const AuditRecord *a, AuditEntry *e);

/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for the broker's HTTP/1.1 request parser: feeds the input at once and in pieces (the
 * first byte chooses the piece size) and checks the parser's own invariants. Built as a libFuzzer
 * target with -Dfuzz=true (clang), and always as a replay program that meson runs over the corpus. */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "broker-caller.h"
#include "broker-endpoint.h"
#include "http-parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every proxy user exists with uid 1000: the peer below is trusted for whatever name it sends. */
static int fuzz_lookup(const char *user, uid_t *ret_uid) {
        (void) user;
        *ret_uid = 1000;
        return 0;
}

static int run(const char *data, size_t size, size_t step, HttpParser *p) {
        size_t off = 0;
        int r = 0;

        http_parser_init(p);
        while (off < size) {
                size_t n = MIN(step, size - off), consumed = 0;

                r = http_parser_feed(p, data + off, n, &consumed);
                if (consumed > n)
                        abort();
                off += consumed;
                if (r != 0)
                        break;
                if (consumed != n)
                        abort(); /* "more needed" must take everything */
        }
        if (r < 0 && (p->status < 400 || p->status > 505 || !p->error))
                abort();
        if (p->req.body.size > HTTP_BODY_SIZE_MAX || p->head.size > HTTP_HEAD_SIZE_MAX ||
            p->req.n_headers > HTTP_HEADERS_MAX)
                abort();
        if (r == 1) {
                /* A complete request is usable by the router. */
                InferenceProtocol proto;
                char *id = NULL;
                bool sb;

                if (!p->req.method || !p->req.path || p->req.path[0] != '/')
                        abort();
                (void) inference_classify(p->req.method, p->req.path, &proto);
                if (broker_caller_identity(true, 0, &p->req, NULL, &id, &sb) == 0)
                        free(id);
                if (broker_caller_identity(true, 1000, &p->req, fuzz_lookup, &id, &sb) == 0)
                        free(id);
        }
        return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        HttpParser a, b;
        size_t step;
        int ra, rb;

        if (size < 1)
                return 0;
        step = (size_t) data[0] % 17 + 1;
        ra = run((const char *) data + 1, size - 1, size, &a);
        rb = run((const char *) data + 1, size - 1, step, &b);
        /* The verdict does not depend on how the bytes arrive. */
        if (ra != rb || (ra < 0 && a.status != b.status))
                abort();
        if (ra == 1 && (a.req.body.size != b.req.body.size ||
                        (a.req.body.size > 0 && memcmp(a.req.body.data, b.req.body.data, a.req.body.size) != 0)))
                abort();
        http_parser_done(&a);
        http_parser_done(&b);
        return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "http-parser.h"
#include "check-util.h"
#include "string-util.h"

typedef struct Parsed {
        HttpParser p;
        int r;
        size_t consumed;
} Parsed;

/* Feeds s in pieces of step bytes (0: at once); returns the parser's last result. */
static int feed(HttpParser *p, const char *s, size_t len, size_t step, size_t *ret_consumed) {
        size_t off = 0, consumed = 0;
        int r = 0;

        if (step == 0)
                step = len ?: 1;
        while (off < len) {
                size_t n = MIN(step, len - off), c = 0;

                r = http_parser_feed(p, s + off, n, &c);
                consumed += c;
                if (r != 0)
                        break;
                ck_assert_uint_eq(c, n); /* more needed: everything is taken */
                off += n;
        }
        *ret_consumed = consumed;
        return r;
}

static int parse(HttpParser *p, const char *s, size_t step) {
        size_t consumed;
        http_parser_init(p);
        return feed(p, s, strlen(s), step, &consumed);
}

static void expect_error(const char *s, int err, int status) {
        HttpParser p;
        int r = parse(&p, s, 0);

        ck_assert_msg(r == err, "expected %d, got %d (%s) for: %s", err, r, p.error ?: "-", s);
        ck_assert_int_eq(p.status, status);
        ck_assert_ptr_nonnull(p.error);
        http_parser_done(&p);
        /* Byte by byte gives the same verdict. */
        r = parse(&p, s, 1);
        ck_assert_msg(r == err, "bytewise: expected %d, got %d for: %s", err, r, s);
        ck_assert_int_eq(p.status, status);
        http_parser_done(&p);
}

START_TEST(test_simple_get) {
        HttpParser p;
        const char *s = "GET /v1/models HTTP/1.1\r\nHost: inference.local\r\nAccept:  */*  \r\n\r\n";

        for (size_t step = 0; step <= 3; step++) {
                ck_assert_int_eq(parse(&p, s, step), 1);
                ck_assert_str_eq(p.req.method, "GET");
                ck_assert_str_eq(p.req.path, "/v1/models");
                ck_assert_uint_eq(p.req.version_minor, 1);
                ck_assert_uint_eq(p.req.n_headers, 2);
                ck_assert_str_eq(http_request_header(&p.req, "host"), "inference.local");
                ck_assert_str_eq(http_request_header(&p.req, "ACCEPT"), "*/*");
                ck_assert_ptr_null(http_request_header(&p.req, "Authorization"));
                ck_assert(p.req.keep_alive);
                ck_assert_uint_eq(p.req.body.size, 0);
                http_parser_done(&p);
        }
}
END_TEST

START_TEST(test_keep_alive_rules) {
        HttpParser p;

        ck_assert_int_eq(parse(&p, "GET / HTTP/1.0\r\n\r\n", 0), 1);
        ck_assert(!p.req.keep_alive);
        http_parser_done(&p);
        ck_assert_int_eq(parse(&p, "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 0), 1);
        ck_assert(p.req.keep_alive);
        http_parser_done(&p);
        ck_assert_int_eq(parse(&p, "GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, close\r\n\r\n", 0), 1);
        ck_assert(!p.req.keep_alive);
        http_parser_done(&p);
        ck_assert_int_eq(parse(&p, "GET / HTTP/1.1\r\nHost: x\r\nConnection: closed\r\n\r\n", 0), 1);
        ck_assert(p.req.keep_alive);
        http_parser_done(&p);
}
END_TEST

START_TEST(test_content_length_body) {
        HttpParser p;
        const char *s = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n{\"a\":\"xyz\"}";

        for (size_t step = 0; step <= 2; step++) {
                ck_assert_int_eq(parse(&p, s, step), 1);
                ck_assert(p.req.has_content_length);
                ck_assert_uint_eq(p.req.content_length, 11);
                ck_assert_uint_eq(p.req.body.size, 11);
                ck_assert(memcmp(p.req.body.data, "{\"a\":\"xyz\"}", 11) == 0);
                http_parser_done(&p);
        }
}
END_TEST

START_TEST(test_pipelined) {
        HttpParser p;
        const char *s = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhiGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
        size_t consumed = 0, first;
        int r;

        http_parser_init(&p);
        r = http_parser_feed(&p, s, strlen(s), &consumed);
        ck_assert_int_eq(r, 1);
        first = strlen("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
        ck_assert_uint_eq(consumed, first);
        ck_assert_str_eq(p.req.path, "/a");

        http_parser_reset(&p);
        r = http_parser_feed(&p, s + first, strlen(s) - first, &consumed);
        ck_assert_int_eq(r, 1);
        ck_assert_uint_eq(consumed, strlen(s) - first);
        ck_assert_str_eq(p.req.method, "GET");
        ck_assert_str_eq(p.req.path, "/b");
        ck_assert_uint_eq(p.req.body.size, 0);
        http_parser_done(&p);
}
END_TEST

START_TEST(test_pipelined_garbage_after_head) {
        HttpParser p;
        const char s[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.\0\0\0\r\n\r\n";
        size_t consumed = 0;

        /* Whatever follows a complete request is the next request's problem, not this one's. */
        http_parser_init(&p);
        ck_assert_int_eq(http_parser_feed(&p, s, sizeof(s) - 1, &consumed), 1);
        ck_assert_uint_eq(consumed, strlen("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
        http_parser_reset(&p);
        ck_assert_int_eq(http_parser_feed(&p, s + consumed, sizeof(s) - 1 - consumed, &consumed), -EBADMSG);
        ck_assert_str_eq(p.error, "NUL byte in request head");
        http_parser_done(&p);
}
END_TEST

START_TEST(test_leading_crlf_tolerated) {
        HttpParser p;

        ck_assert_int_eq(parse(&p, "\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 0), 1);
        ck_assert_str_eq(p.req.path, "/");
        http_parser_done(&p);
}
END_TEST

START_TEST(test_chunked_body) {
        HttpParser p;
        const char *s = "POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
                        "4;ext=1\r\n{\"a\"\r\n"
                        "A\r\n:\"01234567\r\n"
                        "1 \r\n}\r\n"
                        "0\r\nX-Trailer: yes\r\n\r\n";

        for (size_t step = 0; step <= 3; step++) {
                ck_assert_int_eq(parse(&p, s, step), 1);
                ck_assert(p.req.chunked);
                ck_assert_uint_eq(p.req.body.size, 15);
                ck_assert(memcmp(p.req.body.data, "{\"a\":\"01234567}", 15) == 0);
                http_parser_done(&p);
        }
}
END_TEST

START_TEST(test_expect_continue) {
        HttpParser p;
        size_t consumed;
        const char *s = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                        "Content-Length: 2\r\n\r\n";

        http_parser_init(&p);
        ck_assert_int_eq(feed(&p, s, strlen(s), 0, &consumed), 0);
        ck_assert(http_parser_head_done(&p));
        ck_assert(p.req.expect_continue);
        ck_assert_int_eq(feed(&p, "{}", 2, 0, &consumed), 1);
        http_parser_done(&p);
}
END_TEST

START_TEST(test_absolute_form) {
        HttpParser p;

        ck_assert_int_eq(parse(&p, "GET http://inference.local/v1/models?x=1 HTTP/1.1\r\n"
                                   "Host: inference.local\r\n\r\n", 0),
                         1);
        ck_assert_str_eq(p.req.path, "/v1/models?x=1");
        http_parser_done(&p);
}
END_TEST

START_TEST(test_malformed_400) {
        static const char *const cases[] = {
                "GET / HTTP/1.1\r\n\r\n",                                     /* no Host */
                "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",                /* two Host */
                "GET  / HTTP/1.1\r\nHost: x\r\n\r\n",                          /* empty target */
                "GET /\r\nHost: x\r\n\r\n",                                   /* no version */
                "GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
                "GET / FTP/1.1\r\nHost: x\r\n\r\n",
                "GET / HTTP/1.10\r\nHost: x\r\n\r\n",
                "G(T / HTTP/1.1\r\nHost: x\r\n\r\n",                          /* bad method */
                "GET foo HTTP/1.1\r\nHost: x\r\n\r\n",                        /* bad target */
                "GET http://host HTTP/1.1\r\nHost: x\r\n\r\n",                /* absolute without path */
                "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",               /* obs-fold */
                "GET / HTTP/1.1\r\nHost : x\r\n\r\n",                         /* space before colon */
                "GET / HTTP/1.1\r\nHost x\r\n\r\n",                           /* no colon */
                "GET / HTTP/1.1\r\n: x\r\nHost: x\r\n\r\n",                   /* empty name */
                "GET / HTTP/1.1\nHost: x\r\n\r\n",                            /* bare LF */
                "GET / HTTP/1.1\r\nHost: x\n\n",                              /* bare LF */
                "GET / HTTP/1.1\r\nHost: x\r\nX: a\x01" "b\r\n\r\n",          /* control character */
                "GET / HTTP/1.1\r\nHost: x\r\nX: a\x7f\r\n\r\n",              /* DEL */
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1a\r\n\r\n",
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n",
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n",
                "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n;x\r\n",
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n",
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2 x\r\nab\r\n",
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n",
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                expect_error(cases[i], -EBADMSG, 400);
}
END_TEST

START_TEST(test_nul_in_head) {
        HttpParser p;
        size_t consumed;
        const char s[] = "GET / HTTP/1.1\r\nHost: x\0y\r\n\r\n";

        http_parser_init(&p);
        ck_assert_int_eq(feed(&p, s, sizeof(s) - 1, 0, &consumed), -EBADMSG);
        ck_assert_int_eq(p.status, 400);
        http_parser_done(&p);
}
END_TEST

START_TEST(test_version_505) {
        expect_error("GET / HTTP/2.0\r\nHost: x\r\n\r\n", -EPROTONOSUPPORT, 505);
        expect_error("GET / HTTP/0.9\r\nHost: x\r\n\r\n", -EPROTONOSUPPORT, 505);
}
END_TEST

START_TEST(test_transfer_coding_501) {
        expect_error("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", -EOPNOTSUPP, 501);
        expect_error("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", -EOPNOTSUPP, 501);
        expect_error("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                     -EOPNOTSUPP, 501);
}
END_TEST

START_TEST(test_body_limits_413) {
        HttpParser p;
        _cleanup_free_ char *s = NULL, *body = NULL;
        size_t consumed;

        /* Exactly the limit is fine... */
        body = malloc(HTTP_BODY_SIZE_MAX);
        ck_assert_ptr_nonnull(body);
        memset(body, 'x', HTTP_BODY_SIZE_MAX);
        ck_assert_int_ge(asprintf_safe(&s, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %u\r\n\r\n",
                                       HTTP_BODY_SIZE_MAX),
                         0);
        http_parser_init(&p);
        ck_assert_int_eq(feed(&p, s, strlen(s), 0, &consumed), 0);
        ck_assert_int_eq(feed(&p, body, HTTP_BODY_SIZE_MAX, 0, &consumed), 1);
        ck_assert_uint_eq(p.req.body.size, HTTP_BODY_SIZE_MAX);
        http_parser_done(&p);
        free(s);
        s = NULL;

        /* ... one byte more is refused from the header alone. */
        ck_assert_int_ge(asprintf_safe(&s, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %u\r\n\r\n",
                                       HTTP_BODY_SIZE_MAX + 1), 0);
        expect_error(s, -EFBIG, 413);
        expect_error("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", -EBADMSG, 400);

        /* Chunked: a chunk that does not fit, and a size with too many digits. */
        expect_error("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\na00001\r\n", -EFBIG, 413);
        expect_error("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n", -EFBIG,
                     413);
}
END_TEST

START_TEST(test_chunked_total_413) {
        HttpParser p;
        _cleanup_free_ char *chunk = NULL;
        const char *head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
        size_t consumed, n = 1024 * 1024;
        int r = 0;

        chunk = malloc(n + 32);
        ck_assert_ptr_nonnull(chunk);
        http_parser_init(&p);
        ck_assert_int_eq(feed(&p, head, strlen(head), 0, &consumed), 0);
        /* Ten chunks of 1 MiB fill 10 MiB exactly; the eleventh is refused by its size line. */
        for (int i = 0; i < 11 && r == 0; i++) {
                int l = snprintf(chunk, 32, "%zx\r\n", n);
                memset(chunk + l, 'y', n);
                memcpy(chunk + l + n, "\r\n", 2);
                r = feed(&p, chunk, (size_t) l + n + 2, 0, &consumed);
                if (i < 10)
                        ck_assert_int_eq(r, 0);
        }
        ck_assert_int_eq(r, -EFBIG);
        ck_assert_int_eq(p.status, 413);
        http_parser_done(&p);
}
END_TEST

START_TEST(test_too_many_chunks_413) {
        HttpParser p;
        const char *head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
        size_t consumed;
        int r = 0;

        http_parser_init(&p);
        ck_assert_int_eq(feed(&p, head, strlen(head), 0, &consumed), 0);
        for (unsigned i = 0; i <= HTTP_CHUNKS_MAX && r == 0; i++)
                r = feed(&p, "1\r\na\r\n", 6, 0, &consumed);
        ck_assert_int_eq(r, -EFBIG);
        ck_assert_int_eq(p.status, 413);
        ck_assert_uint_eq(p.req.body.size, HTTP_CHUNKS_MAX);
        http_parser_done(&p);
}
END_TEST

START_TEST(test_head_limits_431) {
        _cleanup_free_ char *s = NULL, *big = NULL;
        size_t n = HTTP_HEAD_SIZE_MAX;

        big = malloc(n + 1);
        ck_assert_ptr_nonnull(big);
        memset(big, 'a', n);
        big[n] = 0;
        ck_assert_int_ge(asprintf_safe(&s, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", big), 0);
        expect_error(s, -EMSGSIZE, 431);
        free(s);
        s = NULL;

        /* A head that never ends is refused at the limit, not buffered. */
        ck_assert_int_ge(asprintf_safe(&s, "GET /%s", big), 0);
        expect_error(s, -EMSGSIZE, 431);
        free(s);
        s = NULL;

        {
                _cleanup_free_ char *h = NULL;
                char *t;

                ck_assert_int_ge(asprintf_safe(&h, "GET / HTTP/1.1\r\nHost: x\r\n"), 0);
                for (unsigned i = 0; i < HTTP_HEADERS_MAX; i++) {
                        ck_assert_int_ge(asprintf_safe(&t, "%sX-%u: v\r\n", h, i), 0);
                        free(h);
                        h = t;
                }
                ck_assert_int_ge(asprintf_safe(&s, "%s\r\n", h), 0);
                expect_error(s, -EMSGSIZE, 431);
        }
}
END_TEST

START_TEST(test_headers_max_ok) {
        HttpParser p;
        _cleanup_free_ char *h = NULL, *s = NULL;
        char *t;

        ck_assert_int_ge(asprintf_safe(&h, "GET / HTTP/1.1\r\nHost: x\r\n"), 0);
        for (unsigned i = 1; i < HTTP_HEADERS_MAX; i++) {
                ck_assert_int_ge(asprintf_safe(&t, "%sX-%u: v\r\n", h, i), 0);
                free(h);
                h = t;
        }
        ck_assert_int_ge(asprintf_safe(&s, "%s\r\n", h), 0);
        ck_assert_int_eq(parse(&p, s, 0), 1);
        ck_assert_uint_eq(p.req.n_headers, HTTP_HEADERS_MAX);
        http_parser_done(&p);
}
END_TEST

START_TEST(test_chunk_line_and_trailer_limits) {
        _cleanup_free_ char *s = NULL, *ext = NULL, *trailer = NULL;

        ext = malloc(HTTP_CHUNK_LINE_MAX + 1);
        ck_assert_ptr_nonnull(ext);
        memset(ext, 'e', HTTP_CHUNK_LINE_MAX);
        ext[HTTP_CHUNK_LINE_MAX] = 0;
        ck_assert_int_ge(asprintf_safe(&s, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                           "1;%s\r\n", ext),
                         0);
        expect_error(s, -EBADMSG, 400);
        free(s);
        s = NULL;

        ck_assert_int_ge(asprintf_safe(&s, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                           "0\r\nX: %s\r\n", ext),
                         0);
        expect_error(s, -EMSGSIZE, 431);
}
END_TEST

START_TEST(test_error_is_sticky) {
        HttpParser p;
        size_t consumed;

        ck_assert_int_eq(parse(&p, "GET / HTTP/1.1\r\n\r\n", 0), -EBADMSG);
        ck_assert_int_eq(http_parser_feed(&p, "x", 1, &consumed), -EBADMSG);
        ck_assert_uint_eq(consumed, 0);
        ck_assert_int_eq(p.status, 400);
        http_parser_reset(&p);
        ck_assert_int_eq(feed(&p, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, 0, &consumed), 1);
        http_parser_done(&p);
}
END_TEST

START_TEST(test_status_reason) {
        ck_assert_str_eq(http_status_reason(413), "Content Too Large");
        ck_assert_str_eq(http_status_reason(431), "Request Header Fields Too Large");
        ck_assert_str_eq(http_status_reason(299), "OK");
        ck_assert_str_eq(http_status_reason(599), "Unknown");
}
END_TEST

/* The byte buffer under the parser and the answers: formatting into room already there, growing for
 * more, and the ceiling (a byte is kept for the terminating NUL) never passed. */
START_TEST(test_buf_printf) {
        _cleanup_(buf_done) Buf b = BUF_INIT(16);

        ck_assert_int_eq(buf_printf(&b, "%s-%d", "ab", 7), 0);
        ck_assert_uint_eq(b.size, 4);
        ck_assert_int_eq(buf_printf(&b, "%s", "0123456789"), 0); /* formatted into the room there */
        ck_assert_uint_eq(b.size, 14);
        ck_assert_int_eq(buf_terminate(&b), 0);
        ck_assert_str_eq(b.data, "ab-70123456789");
        ck_assert_int_eq(buf_printf(&b, "%s", "x"), 0);           /* 15 bytes + NUL: at the ceiling */
        ck_assert_int_eq(buf_printf(&b, "%s", "y"), -ENOBUFS);
        ck_assert_uint_eq(b.size, 15);
        ck_assert_int_eq(buf_terminate(&b), 0);
        ck_assert_str_eq(b.data, "ab-70123456789x");

        buf_clear(&b);
        ck_assert_int_eq(buf_printf(&b, "%s", "0123456789abcdefg"), -ENOBUFS); /* 17 > 15 */
        ck_assert_uint_eq(b.size, 0);
        ck_assert_int_eq(buf_printf(&b, "%d", 123456789), 0);
        ck_assert_int_eq(buf_terminate(&b), 0);
        ck_assert_str_eq(b.data, "123456789");
}
END_TEST

START_TEST(test_connect_authority_form) {
        HttpParser p;
        size_t consumed;
        static const char req[] = "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n\x16\x03";

        /* not a proxy's parser: refused as before */
        ck_assert_int_eq(parse(&p, "CONNECT a.b:443 HTTP/1.1\r\nHost: a.b\r\n\r\n", 0), -EBADMSG);
        ck_assert_int_eq(p.status, 400);
        http_parser_done(&p);

        http_parser_init(&p);
        p.accept_connect = true;
        ck_assert_int_eq(feed(&p, req, sizeof(req) - 1, 0, &consumed), 1);
        ck_assert(p.req.connect);
        ck_assert_str_eq(p.req.target, "api.example.com:443");
        ck_assert_ptr_null(p.req.path);
        ck_assert(!p.req.keep_alive);
        ck_assert_uint_eq(consumed, sizeof(req) - 3); /* the tunnel's first bytes stay unread */
        http_parser_reset(&p);
        ck_assert(p.accept_connect); /* kept across requests */
        /* no Host needed; content framing refused; other target forms refused */
        ck_assert_int_eq(feed(&p, "CONNECT [::1]:80 HTTP/1.0\r\n\r\n", 29, 1, &consumed), 1);
        http_parser_reset(&p);
        ck_assert_int_eq(feed(&p, "CONNECT a.b:1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 45, 0, &consumed), -EBADMSG);
        http_parser_reset(&p);
        ck_assert_int_eq(feed(&p, "CONNECT /x HTTP/1.1\r\n\r\n", 23, 0, &consumed), -EBADMSG);
        http_parser_reset(&p);
        ck_assert_int_eq(feed(&p, "CONNECT http://a.b/ HTTP/1.1\r\n\r\n", 32, 0, &consumed), -EBADMSG);
        http_parser_done(&p);
}
END_TEST

START_TEST(test_authority_parse) {
        static const struct {
                const char *in;
                uint16_t def;
                const char *host;
                uint16_t port;
        } good[] = {
                { "example.com:443", 0, "example.com", 443 },
                { "EXAMPLE.com:8080", 0, "example.com", 8080 },
                { "10.0.0.1:22", 0, "10.0.0.1", 22 },
                { "[2001:db8::1]:443", 0, "2001:db8::1", 443 },
                { "[::1]", 80, "::1", 80 },
                { "example.com", 80, "example.com", 80 },
                { "a_b-c.d:65535", 0, "a_b-c.d", 65535 },
        };
        static const struct {
                const char *in;
                uint16_t def;
        } bad[] = {
                { "example.com", 0 }, /* port required */
                { "example.com:", 0 },
                { "example.com:0", 0 },
                { "example.com:65536", 0 },
                { "example.com:443x", 0 },
                { "example.com:+443", 0 },
                { ":443", 0 },
                { "user@example.com:443", 0 },
                { "exa mple.com:443", 0 },
                { "exa%41mple.com:443", 0 },
                { "[::1:443", 0 },
                { "[::1]443", 0 },
                { "[fe80::1%eth0]:443", 0 },
                { "[1.2.3.4]:443", 0 },
                { "::1:443", 0 },
                { "", 80 },
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_free_ char *h = NULL;
                uint16_t port = 0;

                ck_assert_msg(http_authority_parse(good[i].in, strlen(good[i].in), good[i].def, &h, &port) == 0, "%s",
                              good[i].in);
                ck_assert_str_eq(h, good[i].host);
                ck_assert_uint_eq(port, good[i].port);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *h = (char *) "untouched";
                uint16_t port = 7;

                ck_assert_msg(http_authority_parse(bad[i].in, strlen(bad[i].in), bad[i].def, &h, &port) == -EINVAL,
                              "%s", bad[i].in);
                ck_assert_str_eq(h, "untouched");
                ck_assert_uint_eq(port, 7);
        }
        /* length-delimited: what follows is not looked at */
        {
                _cleanup_free_ char *h = NULL;
                uint16_t port;
                ck_assert_int_eq(http_authority_parse("a.b:1/rest", 5, 0, &h, &port), 0);
                ck_assert_str_eq(h, "a.b");
                ck_assert_uint_eq(port, 1);
        }
}
END_TEST

START_TEST(test_absolute_target_parse) {
        HttpUrl u = { .port = 9 };

        ck_assert_int_eq(http_absolute_target_parse("http://Example.com/a?b=c", &u), 0);
        ck_assert(!u.https);
        ck_assert_str_eq(u.host, "example.com");
        ck_assert_uint_eq(u.port, 80);
        ck_assert_str_eq(u.path, "/a?b=c");
        http_url_done(&u);
        ck_assert_int_eq(http_absolute_target_parse("https://[::1]:8443/", &u), 0);
        ck_assert(u.https);
        ck_assert_str_eq(u.host, "::1");
        ck_assert_uint_eq(u.port, 8443);
        http_url_done(&u);

        u.port = 9;
        ck_assert_int_eq(http_absolute_target_parse("http://example.com", &u), -EINVAL);     /* no path */
        ck_assert_int_eq(http_absolute_target_parse("http://example.com?x", &u), -EINVAL);
        ck_assert_int_eq(http_absolute_target_parse("http://a@example.com/", &u), -EINVAL); /* userinfo */
        ck_assert_int_eq(http_absolute_target_parse("http://example.com/#f", &u), -EINVAL);
        ck_assert_int_eq(http_absolute_target_parse("ftp://example.com/", &u), -EINVAL);
        ck_assert_int_eq(http_absolute_target_parse("/relative", &u), -EINVAL);
        ck_assert_int_eq(http_absolute_target_parse("http:///x", &u), -EINVAL);
        ck_assert_uint_eq(u.port, 9);
        ck_assert_ptr_null(u.host);
}
END_TEST

/* The strings of *h point into the parsed buffer: it outlives the call. */
static char response_buf[8192];

static int response(const char *s, bool head, HttpResponseHead *h) {
        size_t n = strlen(s);

        ck_assert_uint_lt(n, sizeof(response_buf));
        memcpy(response_buf, s, n);
        return http_response_head_parse(response_buf, n, head, h);
}

START_TEST(test_response_head) {
        HttpResponseHead h;

        ck_assert_int_eq(response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\n", false, &h), 0);
        ck_assert_uint_eq(h.status, 200);
        ck_assert(h.has_content_length && h.content_length == 5 && !h.chunked && !h.until_eof && !h.close);
        ck_assert_uint_eq(h.n_headers, 2);

        ck_assert_int_eq(response("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", false, &h), 0);
        ck_assert(h.chunked && !h.until_eof);
        ck_assert_int_eq(response("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, &h), 0);
        ck_assert(!h.chunked && h.until_eof);
        ck_assert_int_eq(response("HTTP/1.1 200 OK\r\n\r\n", false, &h), 0);
        ck_assert(h.until_eof);
        ck_assert_int_eq(response("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false, &h), 0);
        ck_assert(h.close);
        ck_assert_int_eq(response("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", false, &h), 0);
        ck_assert(h.close);
        /* no body, whatever the fields say */
        ck_assert_int_eq(response("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", true, &h), 0);
        ck_assert(!h.has_content_length && !h.until_eof && !h.chunked);
        ck_assert_int_eq(response("HTTP/1.1 304 Not Modified\r\n\r\n", false, &h), 0);
        ck_assert(!h.until_eof);
        ck_assert_int_eq(response("HTTP/1.1 204 No Content\r\n\r\n", false, &h), 0);
        ck_assert(!h.until_eof);
        ck_assert_int_eq(response("HTTP/1.1 100 Continue\r\n\r\n", false, &h), 0);
        ck_assert_uint_eq(h.status, 100);
        ck_assert_int_eq(response("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", false, &h), 0); /* no reason */
        ck_assert_str_eq(h.reason, "");
        ck_assert_int_eq(response("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", false, &h), 0);

        h.status = 777;
        ck_assert_int_eq(response("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", false, &h),
                         -EBADMSG);
        ck_assert_int_eq(response("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", false, &h),
                         -EBADMSG);
        ck_assert_int_eq(response("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, &h), -EBADMSG);
        ck_assert_int_eq(response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n",
                                  false, &h), -EBADMSG);
        ck_assert_int_eq(response("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, &h), -EBADMSG);
        ck_assert_int_eq(response("HTTP/2 200 OK\r\n\r\n", false, &h), -EBADMSG);
        ck_assert_int_eq(response("HTTP/1.1 2000 OK\r\n\r\n", false, &h), -EBADMSG);
        ck_assert_int_eq(response("HTTP/1.1 099 x\r\n\r\n", false, &h), -EBADMSG);
        ck_assert_int_eq(response("HTTP/1.1 200 OK\nX: y\r\n\r\n", false, &h), -EBADMSG);
        ck_assert_int_eq(response("HTTP/1.1 200 OK\r\n folded\r\n\r\n", false, &h), -EBADMSG);
        ck_assert_int_eq(response("HTTP/1.1 200 OK\r\n", false, &h), -EBADMSG);
        ck_assert_uint_eq(h.status, 777); /* untouched on failure */
}
END_TEST

START_TEST(test_response_too_many_fields) {
        _cleanup_free_ char *s = NULL;
        Buf b = BUF_INIT(64 * 1024);
        HttpResponseHead h;

        ck_assert_int_ge(buf_printf(&b, "HTTP/1.1 200 OK\r\n"), 0);
        for (unsigned i = 0; i <= HTTP_HEADERS_MAX; i++)
                ck_assert_int_ge(buf_printf(&b, "X-%u: y\r\n", i), 0);
        ck_assert_int_ge(buf_printf(&b, "\r\n"), 0);
        ck_assert_int_ge(buf_terminate(&b), 0);
        s = b.data;
        ck_assert_int_eq(http_response_head_parse(s, b.size, false, &h), -EMSGSIZE);
}
END_TEST

START_TEST(test_hop_by_hop) {
        ck_assert(http_hop_by_hop_header("connection", NULL));
        ck_assert(http_hop_by_hop_header("Keep-Alive", NULL));
        ck_assert(http_hop_by_hop_header("Transfer-Encoding", NULL));
        ck_assert(http_hop_by_hop_header("Upgrade", NULL));
        ck_assert(http_hop_by_hop_header("Proxy-Authorization", NULL));
        ck_assert(http_hop_by_hop_header("proxy-connection", NULL));
        ck_assert(!http_hop_by_hop_header("Authorization", NULL));
        ck_assert(!http_hop_by_hop_header("X-Hop", NULL));
        ck_assert(http_hop_by_hop_header("X-Hop", "keep-alive, x-hop"));
        ck_assert(!http_hop_by_hop_header("X-Hop2", "keep-alive, x-hop"));
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("broker-http");
        TCase *tc = tcase_create("parser");

        tcase_add_test(tc, test_simple_get);
        tcase_add_test(tc, test_keep_alive_rules);
        tcase_add_test(tc, test_content_length_body);
        tcase_add_test(tc, test_pipelined);
        tcase_add_test(tc, test_pipelined_garbage_after_head);
        tcase_add_test(tc, test_leading_crlf_tolerated);
        tcase_add_test(tc, test_chunked_body);
        tcase_add_test(tc, test_expect_continue);
        tcase_add_test(tc, test_absolute_form);
        tcase_add_test(tc, test_connect_authority_form);
        tcase_add_test(tc, test_authority_parse);
        tcase_add_test(tc, test_absolute_target_parse);
        tcase_add_test(tc, test_response_head);
        tcase_add_test(tc, test_response_too_many_fields);
        tcase_add_test(tc, test_hop_by_hop);
        tcase_add_test(tc, test_malformed_400);
        tcase_add_test(tc, test_nul_in_head);
        tcase_add_test(tc, test_version_505);
        tcase_add_test(tc, test_transfer_coding_501);
        tcase_add_test(tc, test_body_limits_413);
        tcase_add_test(tc, test_chunked_total_413);
        tcase_add_test(tc, test_too_many_chunks_413);
        tcase_add_test(tc, test_head_limits_431);
        tcase_add_test(tc, test_headers_max_ok);
        tcase_add_test(tc, test_chunk_line_and_trailer_limits);
        tcase_add_test(tc, test_error_is_sticky);
        tcase_add_test(tc, test_status_reason);
        tcase_add_test(tc, test_buf_printf);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}

/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A bounded, incremental HTTP/1.1 request parser (RFC 9112) for the broker. It never logs and never
 * allocates beyond its ceilings: the request head (request line + headers) is at most
 * HTTP_HEAD_SIZE_MAX bytes with at most HTTP_HEADERS_MAX fields, a body (Content-Length or chunked) at
 * most HTTP_BODY_SIZE_MAX bytes in at most HTTP_CHUNKS_MAX chunks (the limits upstream OpenShell uses
 * for inference.local, openshell/SPEC.md §2.9 and §7). Anything ambiguous is refused rather than
 * guessed: obsolete line folding, bare LF, whitespace before a colon, Content-Length together with
 * Transfer-Encoding, repeated Content-Length or Host, transfer codings other than chunked. */

#include <stdint.h>

#include "buf.h"

#define HTTP_HEAD_SIZE_MAX (16U * 1024U)
#define HTTP_HEADERS_MAX 100U
#define HTTP_BODY_SIZE_MAX (10U * 1024U * 1024U)
#define HTTP_CHUNKS_MAX 4096U
#define HTTP_CHUNK_LINE_MAX 1024U

typedef enum HttpParseState {
        HTTP_PARSE_HEAD,
        HTTP_PARSE_BODY,
        HTTP_PARSE_CHUNK_SIZE,
        HTTP_PARSE_CHUNK_DATA,
        HTTP_PARSE_CHUNK_DATA_END,
        HTTP_PARSE_TRAILER,
        HTTP_PARSE_DONE,
        HTTP_PARSE_ERROR,
        _HTTP_PARSE_STATE_MAX,
        _HTTP_PARSE_STATE_INVALID = -EINVAL,
} HttpParseState;

typedef struct HttpHeader {
        const char *name; /* as sent; compare case-insensitively */
        const char *value; /* without surrounding whitespace */
} HttpHeader;

typedef struct HttpRequest {
        const char *method;
        const char *target;    /* as sent: origin-form "/path?query", or absolute-form */
        const char *path;      /* origin-form of target (absolute-form reduced to its path) */
        unsigned version_minor; /* HTTP/1.x */
        HttpHeader headers[HTTP_HEADERS_MAX];
        size_t n_headers;
        bool keep_alive;
        bool chunked;
        bool expect_continue;
        bool has_content_length;
        uint64_t content_length;
        Buf body;
} HttpRequest;

typedef struct HttpParser {
        HttpParseState state;
        Buf head; /* the request head; header strings point into it */
        HttpRequest req;
        uint64_t remaining; /* body or chunk bytes still expected */
        unsigned n_chunks;
        Buf line;           /* chunk-size or trailer line being read */
        size_t trailer_size;
        int status;         /* on error: the HTTP status to answer (400, 413, 431, 501, 505) */
        const char *error;  /* on error: a short reason, static string */
} HttpParser;

void http_parser_init(HttpParser *p);
void http_parser_done(HttpParser *p);
/* Forgets the request parsed so far, keeping allocations: for the next request on a connection. */
void http_parser_reset(HttpParser *p);

/* Feeds bytes. Returns 1 once a complete request is parsed (bytes after it are not consumed: they
 * belong to the next, pipelined request), 0 if more input is needed, or a negative errno with
 * p->status and p->error set: -EBADMSG (400), -EFBIG (413), -EMSGSIZE (431), -EOPNOTSUPP (501),
 * -EPROTONOSUPPORT (505), -ENOMEM. *ret_consumed is always set. */
int http_parser_feed(HttpParser *p, const char *data, size_t size, size_t *ret_consumed);

/* True once the head is parsed (the body may still be outstanding). */
static inline bool http_parser_head_done(const HttpParser *p) {
        return p->state != HTTP_PARSE_HEAD && p->state != HTTP_PARSE_ERROR;
}

/* The value of the first header with this name (case-insensitive), or NULL. */
const char *http_request_header(const HttpRequest *r, const char *name) _pure_;
size_t http_request_header_count(const HttpRequest *r, const char *name) _pure_;

bool http_token_char(char c) _pure_;
const char *http_status_reason(int status) _pure_;

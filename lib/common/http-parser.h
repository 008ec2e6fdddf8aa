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
        const char *target;    /* as sent: origin-form "/path?query", absolute-form, or (CONNECT only)
                                * authority-form "host:port" */
        const char *path;      /* origin-form of target (absolute-form reduced to its path); NULL for CONNECT */
        bool connect;          /* a CONNECT request: target is authority-form, there is no content */
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
        bool accept_connect; /* a proxy's parser: CONNECT with an authority-form target is a request
                              * (others refuse it as a malformed target, so req.path is never NULL) */
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

/* The authority "host:port" of a CONNECT target or an absolute URI (RFC 3986 §3.2), as a proxy must
 * read it: host is a DNS name (letters, digits, '-', '_', '.'), an IPv4 literal or a bracketed IPv6
 * literal without zone; no userinfo; port decimal 1..65535, or default_port when absent (0: the port is
 * required). *ret_host is lowercased and without brackets. -EINVAL for anything else. */
int http_authority_parse(const char *s, size_t len, uint16_t default_port, char **ret_host, uint16_t *ret_port);

typedef struct HttpUrl {
        bool https;
        char *host;       /* as http_authority_parse() returns it */
        uint16_t port;    /* 80 or 443 when the URI gives none */
        const char *path; /* "/path?query" inside the target parsed */
} HttpUrl;

void http_url_done(HttpUrl *u);
/* An absolute-form request target "http://host[:port]/path" (or https://). No fragment, no userinfo.
 * -EINVAL for anything else; *ret untouched then. */
int http_absolute_target_parse(const char *target, HttpUrl *ret);

/* The head of a response a proxy relays (status line and fields), with what frames its body. */
typedef struct HttpResponseHead {
        unsigned status;
        unsigned version_minor;
        const char *reason;
        HttpHeader headers[HTTP_HEADERS_MAX];
        size_t n_headers;
        bool chunked;            /* Transfer-Encoding ends in chunked */
        bool has_content_length;
        uint64_t content_length;
        bool close;              /* Connection: close, or HTTP/1.0 without keep-alive */
        bool until_eof;          /* the body ends when the connection does (no length, not chunked) */
} HttpResponseHead;

/* Parses a complete response head in place: head holds size bytes ending with the empty line
 * ("\r\n\r\n") and one more byte of room for a NUL. The strings of *ret point into head. A response
 * to HEAD, a 1xx, 204 or 304 has no body whatever its fields say (request_was_head tells the first).
 * -EBADMSG for a malformed or ambiguous head (both Content-Length and Transfer-Encoding, differing
 * Content-Lengths, bare LF, NUL, folding), -EMSGSIZE for too many fields. */
int http_response_head_parse(char *head, size_t size, bool request_was_head, HttpResponseHead *ret);
const char *http_response_header(const HttpResponseHead *h, const char *name) _pure_;

/* True for the fields that describe one connection rather than the message (RFC 9110 §7.6.1), which
 * a proxy must not forward: Connection, Keep-Alive, Proxy-Connection, TE, Trailer,
 * Transfer-Encoding, Upgrade; and the Proxy-* fields meant for the proxy itself. Fields named in
 * connection_list (the value of Connection:, may be NULL) count too. */
bool http_hop_by_hop_header(const char *name, const char *connection_list) _pure_;

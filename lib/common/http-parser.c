/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "http-parser.h"

void http_parser_init(HttpParser *p) {
        *p = (HttpParser) {
                .state = HTTP_PARSE_HEAD,
                .head = BUF_INIT(HTTP_HEAD_SIZE_MAX),
                .line = BUF_INIT(HTTP_CHUNK_LINE_MAX),
                .req.body = BUF_INIT(HTTP_BODY_SIZE_MAX),
        };
}

void http_parser_done(HttpParser *p) {
        buf_done(&p->head);
        buf_done(&p->line);
        buf_done(&p->req.body);
}

void http_parser_reset(HttpParser *p) {
        Buf head = p->head, line = p->line, body = p->req.body;
        bool accept_connect = p->accept_connect;

        buf_clear(&head);
        buf_clear(&line);
        buf_clear(&body);
        *p = (HttpParser) {
                .state = HTTP_PARSE_HEAD,
                .accept_connect = accept_connect,
                .head = head,
                .line = line,
                .req.body = body,
        };
}

static int fail(HttpParser *p, int status, const char *error) {
        p->state = HTTP_PARSE_ERROR;
        p->status = status;
        p->error = error;
        switch (status) {
        case 413:
                return -EFBIG;
        case 431:
                return -EMSGSIZE;
        case 501:
                return -EOPNOTSUPP;
        case 505:
                return -EPROTONOSUPPORT;
        case 500:
                return -ENOMEM;
        default:
                return -EBADMSG;
        }
}

bool http_token_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                (c != 0 && strchr("!#$%&'*+-.^_`|~", c));
}

static bool field_value_char(unsigned char c) {
        return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool target_char(unsigned char c) {
        return c > 0x20 && c != 0x7f;
}

/* Comma-separated list membership, case-insensitive, for Connection:. */
static bool list_has_token(const char *list, const char *token) {
        size_t n = strlen(token);

        for (const char *s = list; *s;) {
                size_t l;

                s += strspn(s, " \t,");
                l = strcspn(s, ",");
                while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t'))
                        l--;
                if (l == n && strncasecmp(s, token, n) == 0)
                        return true;
                s += strcspn(s, ",");
        }
        return false;
}

static int parse_request_line(HttpParser *p, char *line) {
        HttpRequest *r = &p->req;
        char *sp1, *sp2, *version;

        sp1 = strchr(line, ' ');
        if (!sp1 || sp1 == line)
                return fail(p, 400, "malformed request line");
        *sp1 = 0;
        for (const char *c = line; *c; c++)
                if (!http_token_char(*c))
                        return fail(p, 400, "malformed request method");
        r->method = line;

        r->target = sp1 + 1;
        sp2 = strchr(r->target, ' ');
        if (!sp2 || sp2 == r->target)
                return fail(p, 400, "malformed request line");
        *sp2 = 0;
        for (const char *c = r->target; *c; c++)
                if (!target_char((unsigned char) *c))
                        return fail(p, 400, "malformed request target");
        if (streq(r->method, "CONNECT") && p->accept_connect) {
                /* authority-form only (RFC 9112 §3.2.3); checked by http_authority_parse() later */
                if (r->target[0] == '/' || strstr(r->target, "://"))
                        return fail(p, 400, "CONNECT needs an authority-form target");
                r->connect = true;
        } else if (r->target[0] == '/')
                r->path = r->target;
        else if (strncasecmp(r->target, "http://", 7) == 0 || strncasecmp(r->target, "https://", 8) == 0) {
                const char *authority = strstr(r->target, "://") + 3;
                r->path = strchr(authority, '/');
                if (!r->path || r->path == authority)
                        return fail(p, 400, "malformed request target");
        } else
                return fail(p, 400, "malformed request target");

        version = sp2 + 1;
        if (streq(version, "HTTP/1.1"))
                r->version_minor = 1;
        else if (streq(version, "HTTP/1.0"))
                r->version_minor = 0;
        else if (strlen(version) == 8 && strneq(version, "HTTP/", 5) && version[5] >= '0' && version[5] <= '9' &&
                 version[6] == '.' && version[7] >= '0' && version[7] <= '9')
                return fail(p, 505, "HTTP version not supported");
        else
                return fail(p, 400, "malformed request line");
        return 0;
}

/* One "name: value" line, split in place; returns 0, or the HTTP status to answer with *ret_error set. */
static int parse_field_line(char *line, HttpHeader *headers, size_t *n_headers, const char **ret_error) {
        char *colon, *value, *end;

        if (line[0] == ' ' || line[0] == '\t')
                return *ret_error = "obsolete header line folding", 400;
        colon = strchr(line, ':');
        if (!colon || colon == line)
                return *ret_error = "malformed header field", 400;
        *colon = 0;
        for (const char *c = line; *c; c++)
                if (!http_token_char(*c))
                        return *ret_error = "malformed header field name", 400;

        value = colon + 1;
        value += strspn(value, " \t");
        end = value + strlen(value);
        while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
        *end = 0;
        for (const char *c = value; *c; c++)
                if (!field_value_char((unsigned char) *c))
                        return *ret_error = "control character in header field value", 400;

        if (*n_headers >= HTTP_HEADERS_MAX)
                return *ret_error = "too many header fields", 431;
        headers[(*n_headers)++] = (HttpHeader) { .name = line, .value = value };
        return 0;
}

static int parse_header_line(HttpParser *p, char *line) {
        const char *error = NULL;
        int status;

        status = parse_field_line(line, p->req.headers, &p->req.n_headers, &error);
        return status == 0 ? 0 : fail(p, status, error);
}

static int parse_content_length(const char *s, uint64_t *ret) {
        uint64_t v = 0;

        if (isempty(s) || strlen(s) > 19)
                return -EINVAL;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t) (*s - '0');
        }
        *ret = v;
        return 0;
}

/* Interprets the header fields that frame the message. */
static int parse_framing(HttpParser *p) {
        HttpRequest *r = &p->req;
        const char *te, *cl, *connection, *expect;

        if (http_request_header_count(r, "Host") > 1)
                return fail(p, 400, "more than one Host header field");
        if (r->connect) {
                /* A tunnel request has no content (RFC 9110 §9.3.6): framing fields make it ambiguous.
                 * Host is not required: the target names the authority, and some clients omit it. */
                if (http_request_header(r, "Content-Length") || http_request_header(r, "Transfer-Encoding"))
                        return fail(p, 400, "CONNECT with content");
                r->keep_alive = false;
                p->state = HTTP_PARSE_DONE;
                return 0;
        }
        if (r->version_minor == 1 && http_request_header_count(r, "Host") == 0)
                return fail(p, 400, "missing Host header field");

        te = http_request_header(r, "Transfer-Encoding");
        cl = http_request_header(r, "Content-Length");
        if (te && cl)
                return fail(p, 400, "both Content-Length and Transfer-Encoding");
        if (te) {
                if (r->version_minor == 0)
                        return fail(p, 400, "Transfer-Encoding in an HTTP/1.0 request");
                if (http_request_header_count(r, "Transfer-Encoding") > 1 || strcasecmp(te, "chunked") != 0)
                        return fail(p, 501, "transfer coding not supported");
                r->chunked = true;
        }
        if (cl) {
                if (http_request_header_count(r, "Content-Length") > 1)
                        return fail(p, 400, "more than one Content-Length header field");
                if (parse_content_length(cl, &r->content_length) < 0)
                        return fail(p, 400, "malformed Content-Length");
                if (r->content_length > HTTP_BODY_SIZE_MAX)
                        return fail(p, 413, "request body too large");
                r->has_content_length = true;
        }

        connection = http_request_header(r, "Connection");
        if (r->version_minor == 1)
                r->keep_alive = !(connection && list_has_token(connection, "close"));
        else
                r->keep_alive = connection && list_has_token(connection, "keep-alive");

        expect = http_request_header(r, "Expect");
        r->expect_continue = expect && strcasecmp(expect, "100-continue") == 0;

        if (r->chunked)
                p->state = HTTP_PARSE_CHUNK_SIZE;
        else if (r->content_length > 0) {
                p->state = HTTP_PARSE_BODY;
                p->remaining = r->content_length;
        } else
                p->state = HTTP_PARSE_DONE;
        return 0;
}

static int parse_head(HttpParser *p) {
        char *s = p->head.data, *eol;
        bool first = true;
        int r;

        /* The head ends with an empty line; each line ends with CRLF (checked by the caller). */
        for (;;) {
                eol = strstr(s, "\r\n");
                if (!eol)
                        return fail(p, 400, "malformed request head");
                if (eol == s)
                        break;
                *eol = 0;
                r = first ? parse_request_line(p, s) : parse_header_line(p, s);
                if (r < 0)
                        return r;
                first = false;
                s = eol + 2;
        }
        if (first)
                return fail(p, 400, "empty request");
        return parse_framing(p);
}

static int feed_head(HttpParser *p, const char *data, size_t size, size_t *consumed) {
        size_t old, n, from, limit;
        const char *end;
        int r;

        /* Empty lines before a request line are tolerated (RFC 9112 §2.2), e.g. a CRLF some clients
         * send after a body. */
        while (p->head.size == 0 && *consumed < size && (data[*consumed] == '\r' || data[*consumed] == '\n'))
                (*consumed)++;
        data += *consumed;
        size -= *consumed;
        if (size == 0)
                return 0;

        old = p->head.size;
        n = MIN(size, p->head.max - old);
        if (n > 0) {
                r = buf_append(&p->head, data, n);
                if (r < 0)
                        return fail(p, 500, "out of memory");
        }

        from = old >= 3 ? old - 3 : 0;
        end = memmem(p->head.data + from, p->head.size - from, "\r\n\r\n", 4);
        /* Only the head's own bytes are checked: what follows it belongs to the body or to the next
         * request. */
        limit = end ? (size_t) (end - p->head.data) + 4 : p->head.size;
        for (size_t i = old; i < limit; i++) {
                char c = p->head.data[i];
                if (c == 0)
                        return fail(p, 400, "NUL byte in request head");
                if (c == '\n' && (i == 0 || p->head.data[i - 1] != '\r'))
                        return fail(p, 400, "bare LF in request head");
        }
        if (!end) {
                if (p->head.size >= p->head.max)
                        return fail(p, 431, "request header fields too large");
                *consumed += n;
                return 0;
        }

        p->head.size = (size_t) (end - p->head.data) + 4;
        *consumed += p->head.size - old;
        r = buf_terminate(&p->head);
        if (r < 0)
                return fail(p, 500, "out of memory");
        return parse_head(p);
}

/* Reads a CRLF-terminated line into p->line; returns 1 when complete (CRLF stripped, NUL-terminated). */
static int feed_line(HttpParser *p, const char *data, size_t size, size_t *consumed, int too_long_status) {
        while (*consumed < size) {
                char c = data[(*consumed)++];

                if (c == '\n') {
                        if (p->line.size == 0 || p->line.data[p->line.size - 1] != '\r')
                                return fail(p, 400, "bare LF in chunked body");
                        p->line.size--;
                        if (buf_terminate(&p->line) < 0)
                                return fail(p, 500, "out of memory");
                        return 1;
                }
                if (c == 0)
                        return fail(p, 400, "NUL byte in chunked body");
                if (buf_append(&p->line, &c, 1) < 0)
                        return too_long_status == 431 ? fail(p, 431, "trailer field too large")
                                                      : fail(p, 400, "chunk size line too long");
        }
        return 0;
}

static int parse_chunk_size(HttpParser *p) {
        const char *s = p->line.data;
        uint64_t v = 0;
        size_t digits = 0;

        for (; *s; s++, digits++) {
                int d;

                if (*s >= '0' && *s <= '9')
                        d = *s - '0';
                else if (*s >= 'a' && *s <= 'f')
                        d = *s - 'a' + 10;
                else if (*s >= 'A' && *s <= 'F')
                        d = *s - 'A' + 10;
                else
                        break;
                if (digits >= 15)
                        return fail(p, 413, "chunk too large");
                v = v * 16 + (uint64_t) d;
        }
        if (digits == 0)
                return fail(p, 400, "malformed chunk size");
        /* Chunk extensions are allowed and ignored; they must still be printable. */
        s += strspn(s, " \t");
        if (*s && *s != ';')
                return fail(p, 400, "malformed chunk size");
        for (; *s; s++)
                if (!field_value_char((unsigned char) *s))
                        return fail(p, 400, "malformed chunk extension");

        buf_clear(&p->line);
        if (v == 0) {
                p->state = HTTP_PARSE_TRAILER;
                return 0;
        }
        if (++p->n_chunks > HTTP_CHUNKS_MAX)
                return fail(p, 413, "too many chunks");
        if (v > HTTP_BODY_SIZE_MAX - p->req.body.size)
                return fail(p, 413, "request body too large");
        p->remaining = v;
        p->state = HTTP_PARSE_CHUNK_DATA;
        return 0;
}

int http_parser_feed(HttpParser *p, const char *data, size_t size, size_t *ret_consumed) {
        size_t consumed = 0;
        int r = 0;

        while (r >= 0) {
                switch (p->state) {

                case HTTP_PARSE_HEAD:
                        r = feed_head(p, data, size, &consumed);
                        if (r >= 0 && p->state == HTTP_PARSE_HEAD)
                                goto out; /* needs more */
                        break;

                case HTTP_PARSE_BODY:
                case HTTP_PARSE_CHUNK_DATA: {
                        size_t n = (size_t) MIN((uint64_t) (size - consumed), p->remaining);

                        if (n == 0)
                                goto out;
                        if (buf_append(&p->req.body, data + consumed, n) < 0) {
                                r = fail(p, 500, "out of memory");
                                break;
                        }
                        consumed += n;
                        p->remaining -= n;
                        if (p->remaining == 0)
                                p->state = p->state == HTTP_PARSE_BODY ? HTTP_PARSE_DONE : HTTP_PARSE_CHUNK_DATA_END;
                        break;
                }

                case HTTP_PARSE_CHUNK_SIZE:
                        r = feed_line(p, data, size, &consumed, 400);
                        if (r == 0)
                                goto out;
                        if (r > 0)
                                r = parse_chunk_size(p);
                        break;

                case HTTP_PARSE_CHUNK_DATA_END:
                        r = feed_line(p, data, size, &consumed, 400);
                        if (r == 0)
                                goto out;
                        if (r > 0) {
                                if (p->line.size != 0)
                                        r = fail(p, 400, "chunk data longer than its size");
                                else
                                        p->state = HTTP_PARSE_CHUNK_SIZE;
                        }
                        break;

                case HTTP_PARSE_TRAILER:
                        r = feed_line(p, data, size, &consumed, 431);
                        if (r == 0)
                                goto out;
                        if (r > 0) {
                                /* Trailer fields are read, bounded, and dropped: nothing upstream
                                 * needs them. */
                                p->trailer_size += p->line.size + 2;
                                if (p->line.size == 0)
                                        p->state = HTTP_PARSE_DONE;
                                else if (p->trailer_size > HTTP_HEAD_SIZE_MAX)
                                        r = fail(p, 431, "trailer fields too large");
                                else if (!strchr(p->line.data, ':') || p->line.data[0] == ' ' ||
                                         p->line.data[0] == '\t')
                                        r = fail(p, 400, "malformed trailer field");
                                buf_clear(&p->line);
                        }
                        break;

                case HTTP_PARSE_DONE:
                        *ret_consumed = consumed;
                        return 1;

                case HTTP_PARSE_ERROR:
                default:
                        *ret_consumed = consumed;
                        return fail(p, p->status ?: 400, p->error ?: "malformed request");
                }
                if (consumed >= size && p->state != HTTP_PARSE_DONE && p->state != HTTP_PARSE_ERROR && r >= 0)
                        goto out;
        }
        *ret_consumed = consumed;
        return r;
out:
        *ret_consumed = consumed;
        return 0;
}

const char *http_request_header(const HttpRequest *r, const char *name) {
        for (size_t i = 0; i < r->n_headers; i++)
                if (strcasecmp(r->headers[i].name, name) == 0)
                        return r->headers[i].value;
        return NULL;
}

size_t http_request_header_count(const HttpRequest *r, const char *name) {
        size_t n = 0;

        for (size_t i = 0; i < r->n_headers; i++)
                if (strcasecmp(r->headers[i].name, name) == 0)
                        n++;
        return n;
}

const char *http_status_reason(int status) {
        switch (status) {
        case 100: return "Continue";
        case 200: return "OK";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 413: return "Content Too Large";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 505: return "HTTP Version Not Supported";
        default: return status >= 200 && status < 300 ? "OK" : "Unknown";
        }
}

static bool reg_name_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                c == '.' || c == '_';
}

int http_authority_parse(const char *s, size_t len, uint16_t default_port, char **ret_host, uint16_t *ret_port) {
        const char *host, *port = NULL, *end = s + len;
        size_t host_len;
        unsigned v = 0;
        char *h;

        if (len == 0 || memchr(s, '@', len) || memchr(s, 0, len))
                return -EINVAL;
        if (s[0] == '[') {
                const char *close = memchr(s, ']', len);
                unsigned char a[16];
                char buf[INET6_ADDRSTRLEN];

                if (!close || (size_t) (close - s - 1) >= sizeof(buf))
                        return -EINVAL;
                host = s + 1;
                host_len = (size_t) (close - host);
                memcpy(buf, host, host_len);
                buf[host_len] = 0;
                if (inet_pton(AF_INET6, buf, a) != 1)
                        return -EINVAL;
                if (close + 1 < end) {
                        if (close[1] != ':')
                                return -EINVAL;
                        port = close + 2;
                }
        } else {
                const char *colon = memchr(s, ':', len);

                host = s;
                host_len = colon ? (size_t) (colon - s) : len;
                if (host_len == 0 || host_len > 253)
                        return -EINVAL;
                for (size_t i = 0; i < host_len; i++)
                        if (!reg_name_char(host[i]))
                                return -EINVAL;
                if (colon)
                        port = colon + 1;
        }

        if (port) {
                if (port >= end || end - port > 5)
                        return -EINVAL;
                for (const char *c = port; c < end; c++) {
                        if (*c < '0' || *c > '9')
                                return -EINVAL;
                        v = v * 10 + (unsigned) (*c - '0');
                }
                if (v == 0 || v > 65535)
                        return -EINVAL;
        } else if (default_port == 0)
                return -EINVAL;
        else
                v = default_port;

        h = strndup(host, host_len);
        if (!h)
                return -ENOMEM;
        for (char *c = h; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                        *c = (char) (*c - 'A' + 'a');
        *ret_host = h;
        *ret_port = (uint16_t) v;
        return 0;
}

void http_url_done(HttpUrl *u) {
        u->host = mfree(u->host);
}

int http_absolute_target_parse(const char *target, HttpUrl *ret) {
        HttpUrl u = {};
        const char *authority, *path;
        int r;

        if (strncasecmp(target, "http://", 7) == 0)
                authority = target + 7;
        else if (strncasecmp(target, "https://", 8) == 0) {
                u.https = true;
                authority = target + 8;
        } else
                return -EINVAL;
        path = authority + strcspn(authority, "/?#");
        if (*path != '/' || strchr(path, '#'))
                return -EINVAL;
        for (const char *c = target; *c; c++)
                if (!target_char((unsigned char) *c))
                        return -EINVAL;
        r = http_authority_parse(authority, (size_t) (path - authority), u.https ? 443 : 80, &u.host, &u.port);
        if (r < 0)
                return r;
        u.path = path;
        *ret = u;
        return 0;
}

static bool token_list_last_is(const char *list, const char *token) {
        const char *last = strrchr(list, ',');
        size_t n;

        last = last ? last + 1 : list;
        last += strspn(last, " \t");
        n = strcspn(last, " \t;");
        return n == strlen(token) && strncasecmp(last, token, n) == 0;
}

const char *http_response_header(const HttpResponseHead *h, const char *name) {
        for (size_t i = 0; i < h->n_headers; i++)
                if (strcasecmp(h->headers[i].name, name) == 0)
                        return h->headers[i].value;
        return NULL;
}

static int response_framing(HttpResponseHead *h, bool request_was_head) {
        const char *te = NULL, *connection;
        bool have_cl = false;
        uint64_t cl = 0;

        for (size_t i = 0; i < h->n_headers; i++) {
                const HttpHeader *f = &h->headers[i];

                if (strcasecmp(f->name, "Transfer-Encoding") == 0) {
                        if (te)
                                return -EBADMSG; /* a list split over fields: refused, not merged */
                        te = f->value;
                } else if (strcasecmp(f->name, "Content-Length") == 0) {
                        uint64_t v;

                        if (parse_content_length(f->value, &v) < 0 || (have_cl && v != cl))
                                return -EBADMSG;
                        have_cl = true;
                        cl = v;
                }
        }
        if (te && have_cl)
                return -EBADMSG;

        connection = http_response_header(h, "Connection");
        if (h->version_minor == 1)
                h->close = connection && list_has_token(connection, "close");
        else
                h->close = !(connection && list_has_token(connection, "keep-alive"));

        if (request_was_head || h->status < 200 || h->status == 204 || h->status == 304)
                return 0; /* no body */
        if (te) {
                if (h->version_minor == 0)
                        return -EBADMSG;
                if (token_list_last_is(te, "chunked"))
                        h->chunked = true;
                else
                        h->until_eof = true;
        } else if (have_cl) {
                h->has_content_length = true;
                h->content_length = cl;
        } else
                h->until_eof = true;
        return 0;
}

int http_response_head_parse(char *head, size_t size, bool request_was_head, HttpResponseHead *ret) {
        HttpResponseHead resp = {}, *h = &resp;
        char *s = head, *eol, *line_end;
        const char *error;
        int r;

        if (size < 4 || memcmp(head + size - 4, "\r\n\r\n", 4) != 0)
                return -EBADMSG;
        for (size_t i = 0; i < size; i++)
                if (head[i] == 0 || (head[i] == '\n' && (i == 0 || head[i - 1] != '\r')))
                        return -EBADMSG;
        head[size] = 0;

        /* status-line = HTTP-version SP 3DIGIT SP [ reason-phrase ] */
        eol = strstr(s, "\r\n");
        *eol = 0;
        if (strlen(s) < 12 || !strneq(s, "HTTP/1.", 7) || (s[7] != '0' && s[7] != '1') || s[8] != ' ' ||
            s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9' ||
            (s[12] != ' ' && s[12] != 0))
                return -EBADMSG;
        h->version_minor = (unsigned) (s[7] - '0');
        h->status = (unsigned) ((s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0'));
        h->reason = s[12] ? s + 13 : s + 12;
        for (const char *c = h->reason; *c; c++)
                if (!field_value_char((unsigned char) *c))
                        return -EBADMSG;

        for (s = eol + 2; (line_end = strstr(s, "\r\n")) && line_end != s; s = line_end + 2) {
                int status;

                *line_end = 0;
                status = parse_field_line(s, h->headers, &h->n_headers, &error);
                if (status == 431)
                        return -EMSGSIZE;
                if (status != 0)
                        return -EBADMSG;
        }

        r = response_framing(h, request_was_head);
        if (r < 0)
                return r;
        *ret = resp;
        return 0;
}

bool http_hop_by_hop_header(const char *name, const char *connection_list) {
        static const char *const fixed[] = {
                "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade",
        };

        for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
                if (strcasecmp(name, fixed[i]) == 0)
                        return true;
        if (strncasecmp(name, "Proxy-", 6) == 0)
                return true;
        return connection_list && list_has_token(connection_list, name);
}

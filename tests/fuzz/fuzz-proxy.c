/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for what openshell-proxy parses beyond the HTTP request parser: the request target of a
 * proxy request (CONNECT authority-form and absolute-form), the head of an upstream response it relays,
 * the identification service's reply, and what inspection reads from an agent: the path and query a
 * request is decided on, the tunnel classification, the inference.local pattern table. The first byte
 * picks the parser; the rest is its input.
 * Checks the parsers' own promises: outputs only on success, hosts lowercase and without brackets,
 * ports in range, framing flags consistent. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http-parser.h"
#include "proxy-identify.h"
#include "proxy-inference.h"
#include "proxy-l7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_host(const char *h) {
        if (!h || !*h || strchr(h, '[') || strchr(h, ']') || strchr(h, '@'))
                abort();
        for (const char *c = h; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                        abort();
}

static void fuzz_authority(const char *s, size_t n) {
        char *host = NULL;
        uint16_t port = 0;

        if (http_authority_parse(s, n, (n & 1) ? 0 : 443, &host, &port) >= 0) {
                check_host(host);
                if (port == 0)
                        abort();
                free(host);
        } else if (host || port)
                abort();
}

static void fuzz_absolute(const char *s) {
        HttpUrl u = {};

        if (http_absolute_target_parse(s, &u) >= 0) {
                check_host(u.host);
                if (!u.path || u.path[0] != '/' || u.port == 0 || u.path < s || u.path > s + strlen(s))
                        abort();
                http_url_done(&u);
        } else if (u.host)
                abort();
}

static void fuzz_response(const char *data, size_t size) {
        HttpResponseHead *h = calloc(1, sizeof(HttpResponseHead));
        char *copy = malloc(size + 1);
        int r;

        if (!h || !copy)
                abort();
        memcpy(copy, data, size);
        r = http_response_head_parse(copy, size, size & 1, h);
        if (r >= 0) {
                if (h->status < 100 || h->status > 599 || h->n_headers > HTTP_HEADERS_MAX)
                        abort();
                if ((h->chunked + h->has_content_length + h->until_eof) > 1)
                        abort();
                for (size_t i = 0; i < h->n_headers; i++)
                        if (!h->headers[i].name || !h->headers[i].value)
                                abort();
        } else if (h->status != 0)
                abort();
        free(copy);
        free(h);
}

static void fuzz_identify(const char *data, size_t size) {
        ProxyIdentity id = {};
        char *error = NULL;
        int r;

        r = proxy_identify_reply_parse(data, size, &id, &error);
        if (r >= 0) {
                if (!id.exe || id.exe[0] != '/' || id.pid == 0 || error)
                        abort();
                proxy_identity_done(&id);
        } else if (r == -EREMOTEIO) {
                if (!error || id.exe)
                        abort();
                free(error);
        } else if (error || id.exe)
                abort();
}

/* Path, query and classification: decoded paths hold no control characters nor dot segments. */
static void fuzz_l7(const char *s, size_t n) {
        char *path = NULL, *query = NULL;
        L7QueryParam *q = NULL;
        size_t n_q = 0;
        int t;

        t = proxy_tunnel_classify(s, n, n & 1);
        if (t != -EAGAIN && (t < 0 || t >= _PROXY_TUNNEL_PROTOCOL_MAX))
                abort();
        if (proxy_l7_path(s, n & 2, &path, &query) >= 0) {
                if (path[0] != '/' || strstr(path, "/../") || strstr(path, "/./"))
                        abort();
                for (const char *c = path; *c; c++)
                        if ((unsigned char) *c < 0x20 || *c == 0x7f)
                                abort();
                if (proxy_l7_query_parse(query, &q, &n_q) >= 0) {
                        if (n_q > PROXY_L7_QUERY_MAX)
                                abort();
                        proxy_l7_query_free(q, n_q);
                }
                free(path);
                free(query);
        } else if (path || query)
                abort();
}

static void fuzz_inference(const char *s) {
        const char *sp = strchr(s, ' ');
        char *method;
        const char *p;

        if (!sp)
                return;
        method = strndup(s, (size_t) (sp - s));
        if (!method)
                abort();
        p = proxy_inference_match(method, sp + 1);
        if (p && strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
                abort();
        if (p && strncmp(sp + 1, "/v1/", 4) != 0 && strncmp(sp + 1, "/model/", 7) != 0)
                abort();
        free(method);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s;

        if (size < 1 || size > 64 * 1024)
                return 0;
        s = malloc(size);
        if (!s)
                abort();
        memcpy(s, data + 1, size - 1);
        s[size - 1] = 0;
        switch (data[0] % 6) {
        case 0:
                fuzz_authority(s, size - 1);
                break;
        case 1:
                if (!memchr(data + 1, 0, size - 1))
                        fuzz_absolute(s);
                break;
        case 2:
                fuzz_response(s, size - 1);
                break;
        case 3:
                fuzz_identify(s, size - 1);
                break;
        case 4:
                if (!memchr(data + 1, 0, size - 1))
                        fuzz_l7(s, size - 1);
                break;
        case 5:
                fuzz_inference(s);
                break;
        }
        free(s);
        return 0;
}

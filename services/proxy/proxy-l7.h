/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The pure parts of L7 inspection (openshell/SPEC.md §2.8): what a CONNECT tunnel carries, the path
 * and query a request is decided on, and whether its authority is the tunnel's. No I/O, no logging. */

#include <stdint.h>

#include "policy-compile.h"

#define PROXY_L7_QUERY_MAX 64U

typedef enum ProxyTunnelProtocol {
        PROXY_TUNNEL_TLS,   /* a TLS record (handshake, 0x16) */
        PROXY_TUNNEL_HTTP1, /* what starts like an HTTP/1 request line */
        PROXY_TUNNEL_H2C,   /* the HTTP/2 prior-knowledge preface */
        PROXY_TUNNEL_OTHER,
        _PROXY_TUNNEL_PROTOCOL_MAX,
        _PROXY_TUNNEL_PROTOCOL_INVALID = -EINVAL,
} ProxyTunnelProtocol;

/* Classifies the first bytes of a tunnel; -EAGAIN if more bytes are needed to tell (only while they
 * could still be the h2c preface or a method name). final: no more bytes will come. */
int proxy_tunnel_classify(const void *data, size_t size, bool final);

/* The path a request is decided on, from an origin-form target "/path?query": percent-decoded, with
 * "%2F" kept encoded (and refused, -EPERM, unless allow_encoded_slash). -EINVAL for what no decision
 * should guess about: bad escapes, a decoded NUL or control character, "." or ".." segments, a
 * target not starting with '/'. *ret_query: the raw query (without '?'), or NULL. */
int proxy_l7_path(const char *target, bool allow_encoded_slash, char **ret_path, char **ret_query);

/* The query "a=1&b=x%20y" as decoded parameters (form rules: '+' is a space). At most
 * PROXY_L7_QUERY_MAX (-E2BIG beyond), -EINVAL for bad escapes. Free with proxy_l7_query_free(). */
int proxy_l7_query_parse(const char *query, L7QueryParam **ret, size_t *ret_n);
void proxy_l7_query_free(L7QueryParam *q, size_t n);

/* Whether the Host field (or the authority of an absolute-form target) names host:port, the tunnel's
 * CONNECT target; default_port is what an authority without port means (443 in TLS, 80 in clear). */
bool proxy_l7_authority_matches(const char *authority, const char *host, uint16_t port, uint16_t default_port);

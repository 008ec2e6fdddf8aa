/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What of a client's request goes to the backend: the URL, and the header lines (client credentials
 * stripped, the provider's injected). */

#include "broker-config.h"
#include "http-parser.h"

/* base "http://h:8000/v1" + path "/v1/chat/completions?x" -> "http://h:8000/v1/chat/completions?x". */
int upstream_url(const char *base, const char *path, char **ret);

/* Header lines ("Name: value") for the upstream request: only the provider type's pass-through
 * allowlist from the client, never its Authorization/X-Api-Key/Cookie/Host/hop-by-hop headers, plus
 * Content-Type, the provider's credential and its default headers. */
int upstream_headers(const Provider *prov, const HttpRequest *req, char ***ret);

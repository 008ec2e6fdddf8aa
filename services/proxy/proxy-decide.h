/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The pure part of openshell-proxy: what it answers and records for a decision, and the address safety
 * check (openshell/SPEC.md §2.7, §4.2). No I/O, no logging: the daemon (proxy.c) does those. */

#include <stdint.h>

#include "in-addr-util.h"
#include "policy-compile.h"

/* One journal entry per decision (units/catalog/openshell.catalog). */
#define PROXY_DECISION_MESSAGE_ID "5f1c8a3e0b7d4e2a9c6f1d3b8e0a7c42"
/* A summary of denials left out of the journal during a flood. */
#define PROXY_SUPPRESSED_MESSAGE_ID "a9d04e6b2c8f47f1b35e7a1c9d2f6e08"

/* Answered by the proxy itself, before any policy (SPEC.md §2.9). */
#define PROXY_INFERENCE_HOST "inference.local"

typedef enum ProxyDecision {
        PROXY_ALLOW,
        PROXY_DENY,  /* policy or address safety refused it: 403 */
        PROXY_ERROR, /* allowed, but could not be served (DNS, connect, inference.local): 5xx */
        PROXY_AUDIT, /* an L7 request enforce would refuse, forwarded because the endpoint only audits */
        PROXY_INSPECT_INFERENCE, /* a request to inference.local, answered through the broker or by the proxy */
        _PROXY_DECISION_MAX,
        _PROXY_DECISION_INVALID = -EINVAL,
} ProxyDecision;

typedef enum ProxyEngine {
        PROXY_ENGINE_POLICY,  /* the network_policies decision */
        PROXY_ENGINE_SSRF,    /* address safety */
        PROXY_ENGINE_PROXY,   /* the proxy itself: malformed requests, resolution, upstream failures */
        PROXY_ENGINE_L7,      /* the per-request decision of an inspected (rest) endpoint */
        PROXY_ENGINE_INFERENCE, /* inference.local interception */
        _PROXY_ENGINE_MAX,
        _PROXY_ENGINE_INVALID = -EINVAL,
} ProxyEngine;

typedef struct ProxyEvent {
        bool forward; /* one HTTP request: absolute-form, or inspected inside a tunnel (else CONNECT) */
        const char *method;     /* forward only */
        const char *url;        /* forward only: "http://host[:port]/path" (the query is never logged) */
        unsigned status;        /* the HTTP status answered, when it is known (0: not) */
        ProxyDecision decision;
        ProxyEngine engine;
        const char *binary;     /* NULL: not identified */
        uint64_t pid;           /* 0: not identified */
        const char *host;
        uint16_t port;
        const char *rule;       /* the network_policies key that matched, or NULL */
        const char *reason;     /* NULL for a plain allow */
} ProxyEvent;

const char *proxy_decision_to_string(ProxyDecision d) _const_;
const char *proxy_engine_to_string(ProxyEngine e) _const_;

/* Control-plane ports refused on every address (2379, 2380, 6443, 10250, 10255), as upstream. */
bool proxy_port_blocked(uint16_t port) _const_;

/* Upstream's one-line shorthand, e.g.
 * "NET:OPEN [MED] DENIED /usr/bin/curl(64) -> httpbin.org:443 [policy:- engine:policy] [reason:…]". */
int proxy_event_message(const ProxyEvent *ev, char **ret);
/* The journal fields of the decision (MESSAGE first), for log_journal_fields(). */
int proxy_event_fields(const ProxyEvent *ev, const char *sandbox, char ***ret);

/* {"error":"…","detail":"…"[,"reason":"…"]} with JSON string escaping; reason may be NULL. */
int proxy_json_body(const char *error, const char *detail, const char *reason, char **ret);
/* An L7 refusal: {"error":"policy_denied","detail":…,"reason":…,"method":…,"path":…}. */
int proxy_json_body_l7(const char *detail, const char *reason, const char *method, const char *path,
                       char **ret);
/* A complete HTTP/1.1 response with that JSON body and "Connection: close". */
int proxy_json_response(int status, const char *json, char **ret);

/* Address safety for one resolved (or literal) address of host, allowed by endpoint e: 0 if it may be
 * dialled, -EPERM with *ret_reason (upstream's wording) if not. Always refused: loopback, link-local,
 * unspecified, metadata, multicast, reserved. If e has allowed_ips, the address must be in one of
 * them. Otherwise a private address is allowed only when e names host exactly (no wildcard). */
int proxy_address_check(const PolicyEndpoint *e, const char *host, int family, const void *addr, char **ret_reason);

/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <string.h>

#include "buf.h"
#include "http-parser.h"
#include "proxy-decide.h"
#include "string-util.h"

const char *proxy_decision_to_string(ProxyDecision d) {
        static const char *const names[_PROXY_DECISION_MAX] = {
                [PROXY_ALLOW] = "allow",
                [PROXY_DENY] = "deny",
                [PROXY_ERROR] = "error",
                [PROXY_AUDIT] = "audit",
                [PROXY_INSPECT_INFERENCE] = "inspect_for_inference",
        };
        return d >= 0 && d < _PROXY_DECISION_MAX ? names[d] : NULL;
}

const char *proxy_engine_to_string(ProxyEngine e) {
        static const char *const names[_PROXY_ENGINE_MAX] = {
                [PROXY_ENGINE_POLICY] = "policy",       [PROXY_ENGINE_SSRF] = "ssrf",
                [PROXY_ENGINE_PROXY] = "proxy",         [PROXY_ENGINE_L7] = "l7",
                [PROXY_ENGINE_INFERENCE] = "inference",
        };
        return e >= 0 && e < _PROXY_ENGINE_MAX ? names[e] : NULL;
}

bool proxy_port_blocked(uint16_t port) {
        return port == 2379 || port == 2380 || port == 6443 || port == 10250 || port == 10255;
}

/* The URL without its query: queries may carry secrets and are never logged. */
static int url_without_query(const char *url, char **ret) {
        char *s = strndup(url, strcspn(url, "?"));

        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int proxy_event_message(const ProxyEvent *ev, char **ret) {
        _cleanup_free_ char *who = NULL, *what = NULL, *url = NULL, *reason = NULL, *status = NULL;
        const char *sev, *action;

        switch (ev->decision) {
        case PROXY_ALLOW:
                sev = "INFO", action = "ALLOWED";
                break;
        case PROXY_DENY:
                sev = "MED", action = "DENIED";
                break;
        case PROXY_ERROR:
                sev = "LOW", action = "FAILED";
                break;
        case PROXY_AUDIT:
                sev = "MED", action = "AUDITED";
                break;
        case PROXY_INSPECT_INFERENCE:
                sev = "INFO", action = "ROUTED";
                break;
        default:
                return -EINVAL;
        }

        if (ev->binary ? asprintf_safe(&who, "%s(%" PRIu64 ")", ev->binary, ev->pid) < 0 : !(who = strdup("-")))
                return -ENOMEM;
        if (ev->forward) {
                if (url_without_query(strempty(ev->url), &url) < 0 ||
                    asprintf_safe(&what, "HTTP:%s [%s] %s %s -> %s %s", strempty(ev->method), sev, action, who,
                                  strempty(ev->method), url) < 0)
                        return -ENOMEM;
        } else if (asprintf_safe(&what, "NET:OPEN [%s] %s %s -> %s%s%s:%u", sev, action, who,
                                 strchr(strempty(ev->host), ':') ? "[" : "", strempty(ev->host),
                                 strchr(strempty(ev->host), ':') ? "]" : "", ev->port) < 0)
                return -ENOMEM;
        if (ev->reason && asprintf_safe(&reason, " [reason:%s]", ev->reason) < 0)
                return -ENOMEM;
        if (ev->status > 0 && asprintf_safe(&status, " [status:%u]", ev->status) < 0)
                return -ENOMEM;
        return asprintf_safe(ret, "%s [policy:%s engine:%s]%s%s", what, ev->rule ?: "-",
                             proxy_engine_to_string(ev->engine), strempty(reason), strempty(status));
}

int proxy_event_fields(const ProxyEvent *ev, const char *sandbox, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *message = NULL;
        int r;

        r = proxy_event_message(ev, &message);
        if (r < 0)
                return r;
        if (strv_extendf(&l, "MESSAGE=%s", message) < 0 ||
            strv_extend(&l, "MESSAGE_ID=" PROXY_DECISION_MESSAGE_ID) < 0 ||
            strv_extendf(&l, "OPENSHELL_SANDBOX=%s", sandbox) < 0 ||
            strv_extend(&l, "OPENSHELL_EVENT=network") < 0 ||
            strv_extendf(&l, "OPENSHELL_DECISION=%s", proxy_decision_to_string(ev->decision)) < 0 ||
            strv_extendf(&l, "OPENSHELL_HOST=%s", strempty(ev->host)) < 0 ||
            strv_extendf(&l, "OPENSHELL_PORT=%u", ev->port) < 0 ||
            strv_extendf(&l, "OPENSHELL_BINARY=%s", ev->binary ?: "-") < 0 ||
            strv_extendf(&l, "OPENSHELL_POLICY=%s", ev->rule ?: "-") < 0 ||
            strv_extendf(&l, "OPENSHELL_ENGINE=%s", proxy_engine_to_string(ev->engine)) < 0)
                return -ENOMEM;
        if (ev->pid > 0 && strv_extendf(&l, "OPENSHELL_PID=%" PRIu64, ev->pid) < 0)
                return -ENOMEM;
        if (ev->reason && strv_extendf(&l, "OPENSHELL_REASON=%s", ev->reason) < 0)
                return -ENOMEM;
        if (ev->status > 0 && strv_extendf(&l, "OPENSHELL_STATUS=%u", ev->status) < 0)
                return -ENOMEM;
        if (ev->forward) {
                _cleanup_free_ char *url = NULL;

                if (url_without_query(strempty(ev->url), &url) < 0 ||
                    strv_extendf(&l, "OPENSHELL_METHOD=%s", strempty(ev->method)) < 0 ||
                    strv_extendf(&l, "OPENSHELL_URL=%s", url) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int json_string(Buf *b, const char *s) {
        int r = buf_append(b, "\"", 1);

        for (; r >= 0 && *s; s++) {
                unsigned char c = (unsigned char) *s;

                if (c == '"' || c == '\\')
                        r = buf_printf(b, "\\%c", c);
                else if (c < 0x20 || c == 0x7f)
                        r = buf_printf(b, "\\u%04x", c);
                else
                        r = buf_append(b, s, 1);
        }
        return r < 0 ? r : buf_append(b, "\"", 1);
}

/* Appends ,"NAME":VALUE (the first field without the comma); VALUE NULL appends nothing. */
static int json_field(Buf *b, const char *name, const char *value) {
        int r;

        if (!value)
                return 0;
        r = buf_append(b, b->size > 1 ? ",\"" : "\"", b->size > 1 ? 2 : 1);
        if (r >= 0)
                r = buf_append(b, name, strlen(name));
        if (r >= 0)
                r = buf_append(b, "\":", 2);
        return r < 0 ? r : json_string(b, value);
}

/* {"NAME":VALUE,...} from NULL-terminated name/value pairs; NULL values are left out. */
static int json_object_of(char **ret, const char *const *pairs) {
        Buf b = BUF_INIT(64 * 1024);
        int r;

        r = buf_append(&b, "{", 1);
        for (size_t i = 0; r >= 0 && pairs[i]; i += 2)
                r = json_field(&b, pairs[i], pairs[i + 1]);
        if (r >= 0)
                r = buf_append(&b, "}", 1);
        if (r >= 0)
                r = buf_terminate(&b);
        if (r < 0) {
                buf_done(&b);
                return r;
        }
        *ret = b.data;
        return 0;
}

int proxy_json_body(const char *error, const char *detail, const char *reason, char **ret) {
        return json_object_of(ret, (const char *const[]) { "error", error, "detail", detail, "reason",
                                                           reason, NULL });
}

int proxy_json_body_l7(const char *detail, const char *reason, const char *method, const char *path,
                       char **ret) {
        return json_object_of(ret, (const char *const[]) { "error", "policy_denied", "detail", detail, "reason",
                                                           reason, "method", method, "path", path, NULL });
}

int proxy_json_response(int status, const char *json, char **ret) {
        return asprintf_safe(ret,
                             "HTTP/1.1 %d %s\r\n"
                             "Content-Type: application/json\r\n"
                             "Content-Length: %zu\r\n"
                             "Connection: close\r\n"
                             "\r\n"
                             "%s",
                             status, http_status_reason(status), strlen(json), json);
}

static bool host_declared_exactly(const PolicyEndpoint *e, const char *host) {
        return !isempty(e->host) && !strchr(e->host, '*') && strcasecmp(e->host, host) == 0;
}

int proxy_address_check(const PolicyEndpoint *e, const char *host, int family, const void *addr, char **ret_reason) {
        char ip[INET6_ADDRSTRLEN];
        InAddrClass c;

        if (!inet_ntop(family, addr, ip, sizeof(ip)))
                return -EAFNOSUPPORT;
        c = in_addr_classify(family, addr);
        if (c < 0)
                return c;
        if (in_addr_class_always_blocked(c))
                return asprintf_safe(ret_reason, "resolves to always-blocked address") < 0 ? -ENOMEM : -EPERM;

        if (e->n_allowed_ips > 0) {
                for (size_t i = 0; i < e->n_allowed_ips; i++) {
                        Cidr cidr;

                        if (cidr_parse(e->allowed_ips[i].path, &cidr) >= 0 && cidr_contains(&cidr, family, addr))
                                return 0;
                }
                return asprintf_safe(ret_reason, "resolves to %s which is not in allowed_ips, connection rejected",
                                     ip) < 0 ? -ENOMEM : -EPERM;
        }
        if (c == IN_ADDR_PRIVATE && !host_declared_exactly(e, host))
                return asprintf_safe(ret_reason, "%s resolves to internal address %s, connection rejected", host,
                                     ip) < 0 ? -ENOMEM : -EPERM;
        return 0;
}

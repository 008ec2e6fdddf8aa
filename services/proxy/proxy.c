/* SPDX-License-Identifier: Apache-2.0 */
/* openshell-proxy: a sandbox's egress proxy (services/proxy/README.md).
 *
 * Runs unprivileged as openshell-proxy@NAME.service, in the host's network namespace, with its
 * listening sockets (127.0.0.1:3128 and [::1]:3128 inside the sandbox's namespace) passed by socket
 * activation. One sd-event loop, no threads of its own: name lookups go through getaddrinfo_a(), whose
 * helper threads only resolve and then write one byte to an eventfd the loop watches.
 *
 * Per client connection: read one request head (CONNECT host:port, or an absolute-form HTTP request),
 * learn the calling binary from the root side (--identify-socket), decide with the policy's egress
 * table, resolve the host, check every address (address safety), dial the checked address, then relay:
 * a CONNECT tunnel with splice() both ways, an HTTP request by rewriting its head and relaying the
 * response, request after request on a kept-alive connection. A CONNECT to a rest endpoint (with the
 * sandbox CA given) and CONNECT inference.local:443 are inspected instead: TLS terminated with a leaf
 * of the CA, each request decided (L7 rules) or matched (inference patterns) and sent on to the
 * upstream over verified TLS, or to the broker. Every decision is one journal entry. */

#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "buf.h"
#include "diag.h"
#include "fs-util.h"
#include "http-parser.h"
#include "log.h"
#include "main-func.h"
#include "parse-util.h"
#include "policy-compile.h"
#include "policy.h"
#include "proxy-decide.h"
#include "proxy-flood.h"
#include "proxy-identify.h"
#include "proxy-inference.h"
#include "proxy-l7.h"
#include "proxy-relay.h"
#include "proxy-tls.h"
#include "sandbox-name.h"
#include "string-util.h"

typedef uint64_t usec_t;
#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)

#define CONNECTIONS_MAX_DEFAULT 512U
#define BUFFERED_MAX_DEFAULT (UINT64_C(64) << 20)
#define LISTENERS_MAX 8U
#define CLIENT_IN_MAX (64U * 1024U)
#define HEAD_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define IDLE_TIMEOUT_USEC (300 * USEC_PER_SEC)
#define KEEPALIVE_TIMEOUT_USEC (60 * USEC_PER_SEC)
#define RESOLVE_TIMEOUT_USEC (5 * USEC_PER_SEC)
#define CONNECT_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define IDENTIFY_TIMEOUT_USEC (2 * USEC_PER_SEC)
#define FLOOD_PERIOD_USEC (10 * USEC_PER_SEC)
#define FLOOD_BURST 5U
#define FLOOD_HOSTS_MAX 256U
#define ADDRESSES_MAX 16U
#define LINGER_TIMEOUT_USEC (2 * USEC_PER_SEC)

typedef struct Proxy Proxy;
typedef struct Conn Conn;
typedef struct Lookup Lookup;

/* A loaded policy; connections hold a reference, so a reload never pulls the table from under one. */
typedef struct PolicyGen {
        unsigned n_ref;
        Policy *policy;
        PolicyEgress egress;
} PolicyGen;

typedef enum ConnState {
        CONN_REQUEST,   /* reading a request (head, and body of a forwarded request) */
        CONN_IDENTIFY,  /* request read, waiting for the calling binary */
        CONN_RESOLVE,   /* decided allow, waiting for the addresses */
        CONN_DIAL,      /* connecting to a checked address */
        CONN_TUNNEL,    /* CONNECT relay */
        CONN_RESPONSE,  /* forward: request sent, response head being read, then its body relayed */
        CONN_REPLY,     /* the proxy's own answer is being written; close after */
        CONN_LINGER,    /* answer written: dropping what the client still sends until it closes */
        CONN_INSPECT,   /* an inspected tunnel (L7 rest endpoint, inference.local): see InspectState */
} ConnState;

/* An inspected tunnel: after "200 Connection Established" the agent's TLS is terminated (or its
 * HTTP/1 read in clear) and each request is decided on its own, then sent to the upstream (the pinned
 * address, over TLS when the agent spoke TLS) or, for inference.local, to the broker. */
typedef enum InspectState {
        INSPECT_NONE,
        INSPECT_PEEK,               /* writing the 200, then reading the first bytes: TLS, HTTP/1, other */
        INSPECT_CLIENT_HANDSHAKE,   /* TLS with the agent, with the leaf for the CONNECT host */
        INSPECT_UPSTREAM_HANDSHAKE, /* TLS with the upstream, verified */
        INSPECT_REQUEST,            /* reading one request from the agent */
        INSPECT_SEND,               /* writing it to the upstream (or broker) */
        INSPECT_RESPONSE_HEAD,      /* reading the response head */
        INSPECT_RESPONSE_BODY,      /* relaying its body as it comes */
        INSPECT_ANSWER,             /* the proxy's own answer, then the end */
} InspectState;

/* One getaddrinfo_a() request. It belongs to the proxy, not to the connection: glibc's helper thread
 * writes into it until it completes, so a connection that goes away only detaches itself. */
struct Lookup {
        Proxy *proxy;
        Lookup *prev, *next;
        Conn *conn;
        char *name;
        struct addrinfo hints;
        struct gaicb cb;
        struct sigevent sev;
};

struct Conn {
        Proxy *proxy;
        Conn *prev, *next;
        int fd, upstream_fd;
        sd_event_source *io, *upstream_io, *timer;
        ConnState state;
        usec_t deadline, last_activity;
        PolicyGen *gen;
        HttpParser parser;
        Buf in;            /* client bytes read but not parsed yet (pipelined requests) */
        uint64_t buffered; /* this connection's share of proxy->buffered */
        bool keep_alive;

        /* the calling binary */
        int identify_fd;
        sd_event_source *identify_io, *identify_timer;
        bool identify_done;
        ProxyIdentity identity;
        char *identify_error;

        /* the request being decided */
        bool forward, head_request;
        char *method, *url, *host, *rule;
        uint16_t port;
        const PolicyEndpoint *endpoint;
        Lookup *lookup;
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } addrs[ADDRESSES_MAX];
        socklen_t addr_lens[ADDRESSES_MAX];
        size_t n_addrs, next_addr;

        /* relaying */
        Pump c2u, u2c;
        Buf resp_head;
        HttpResponseHead *resp;
        bool resp_until_eof;

        /* inspection */
        bool inspect_wanted; /* CONNECT to a rest endpoint, TLS termination configured */
        bool inference;      /* inference.local: requests go to the broker */
        char *audit_reason;  /* forwarded request that enforce would refuse (audit endpoint) */
        InspectState inspect;
        ProxyStream cs, us;    /* the agent's side and the upstream's (or broker's) side */
        Buf l7_out;            /* for the agent: the 200, responses, the proxy's answers */
        Buf l7_up;             /* the request head for the upstream (its body is sent from the parser's) */
        size_t l7_body_sent;   /* bytes of the request body written to the upstream */
        uint64_t l7_left;      /* response body bytes still to relay; UINT64_MAX: until the upstream ends */
        bool l7_close;         /* the agent's connection ends after this response */
        bool upstream_used;    /* a response came on this upstream connection already */
        char *upstream_error;  /* TLS to the upstream failed: the next request is answered 502 */
        uint32_t cwant, uwant; /* what the inspection waits for on either side */
};

struct Proxy {
        sd_event *event;
        char *sandbox, *policy_path, *identify_socket;
        char *ca_cert_path, *ca_key_path, *broker_socket;
        ProxyTls *tls; /* NULL: no TLS termination (no L7 over TLS, no inference.local) */
        PolicyGen *gen;
        sd_event_source *listeners[LISTENERS_MAX];
        size_t n_listeners;
        Conn *conns;
        unsigned n_conns, max_conns;
        uint64_t buffered, max_buffered; /* request bodies held by all connections, and the cap */
        Lookup *lookups;
        int lookup_efd;
        sd_event_source *lookup_io;
        FloodLimiter flood;
        sd_event_source *flood_timer;
        usec_t head_timeout, idle_timeout;
};

static usec_t now_usec(Proxy *p) {
        uint64_t t = 0;

        (void) sd_event_now(p->event, CLOCK_MONOTONIC, &t);
        return t;
}

/* ---- policy generations ---- */

static PolicyGen *policy_gen_unref(PolicyGen *g) {
        if (!g || --g->n_ref > 0)
                return NULL;
        free(g->egress.entries);
        policy_free(g->policy);
        free(g);
        return NULL;
}

static PolicyGen *policy_gen_ref(PolicyGen *g) {
        g->n_ref++;
        return g;
}

static int proxy_load_policy(Proxy *p) {
        _cleanup_(diag_list_done) DiagList diags = {};
        _cleanup_(policy_freep) Policy *policy = NULL;
        PolicyGen *g;
        int r;

        r = policy_load_file(p->policy_path, &policy, &diags);
        if (r < 0) {
                for (size_t i = 0; i < diags.n_items; i++) {
                        _cleanup_free_ char *s = NULL;
                        if (diag_format(&diags.items[i], &s) >= 0)
                                log_error("%s", s);
                }
                return log_error_errno(r, "Failed to load policy %s: %m", p->policy_path);
        }
        g = calloc(1, sizeof(PolicyGen));
        if (!g)
                return log_oom();
        r = policy_egress_build(policy, &g->egress);
        if (r < 0) {
                free(g);
                return log_error_errno(r, "Failed to build the egress table of %s: %m", p->policy_path);
        }
        g->policy = TAKE_PTR(policy);
        g->n_ref = 1;
        policy_gen_unref(p->gen);
        p->gen = g;
        log_info("Loaded policy %s: %zu egress entries.", p->policy_path, g->egress.n_entries);
        return 0;
}

/* ---- audit ---- */

static void proxy_audit(Proxy *p, const ProxyEvent *ev) {
        _cleanup_strv_free_ char **fields = NULL;
        int r;

        /* Refusals are what a looping agent floods; every request that goes through is recorded. */
        if (ev->decision == PROXY_DENY || ev->decision == PROXY_ERROR) {
                r = flood_admit(&p->flood, strempty(ev->host));
                if (r == 0)
                        return; /* counted; summarised at the end of the period */
        }
        r = proxy_event_fields(ev, p->sandbox, &fields);
        if (r < 0) {
                log_oom();
                return;
        }
        (void) log_journal_fields(ev->decision == PROXY_ALLOW ? LOG_INFO : LOG_NOTICE, fields);
}

static int on_flood_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Proxy *p = userdata;
        FloodSummary *sums = NULL;
        size_t n = 0;

        if (flood_end_period(&p->flood, &sums, &n) < 0)
                log_oom();
        for (size_t i = 0; i < n; i++) {
                _cleanup_strv_free_ char **f = NULL;

                if (strv_extendf(&f, "MESSAGE=NET:OPEN [MED] DENIED %" PRIu64 " more denials to %s suppressed",
                                 sums[i].suppressed, sums[i].host ?: "other hosts") < 0 ||
                    strv_extend(&f, "MESSAGE_ID=" PROXY_SUPPRESSED_MESSAGE_ID) < 0 ||
                    strv_extendf(&f, "OPENSHELL_SANDBOX=%s", p->sandbox) < 0 ||
                    strv_extend(&f, "OPENSHELL_EVENT=network") < 0 ||
                    strv_extend(&f, "OPENSHELL_DECISION=deny") < 0 ||
                    strv_extendf(&f, "OPENSHELL_HOST=%s", sums[i].host ?: "*") < 0 ||
                    strv_extendf(&f, "OPENSHELL_SUPPRESSED=%" PRIu64, sums[i].suppressed) < 0) {
                        log_oom();
                        continue;
                }
                (void) log_journal_fields(LOG_NOTICE, f);
        }
        flood_summaries_free(sums, n);
        return sd_event_source_set_time(s, usec + FLOOD_PERIOD_USEC);
}

/* ---- connections ---- */

static void lookup_detach(Lookup *l);

static Conn *conn_free(Conn *c) {
        if (!c)
                return NULL;
        if (c->proxy) {
                if (c->prev)
                        c->prev->next = c->next;
                else
                        c->proxy->conns = c->next;
                if (c->next)
                        c->next->prev = c->prev;
                c->proxy->n_conns--;
                c->proxy->buffered -= c->buffered;
        }
        if (c->lookup)
                lookup_detach(c->lookup);
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->upstream_io);
        sd_event_source_disable_unref(c->timer);
        sd_event_source_disable_unref(c->identify_io);
        sd_event_source_disable_unref(c->identify_timer);
        safe_close(c->fd);
        safe_close(c->upstream_fd);
        safe_close(c->identify_fd);
        http_parser_done(&c->parser);
        buf_done(&c->in);
        buf_done(&c->resp_head);
        free(c->resp);
        pump_done(&c->c2u);
        pump_done(&c->u2c);
        proxy_stream_done(&c->cs);
        proxy_stream_done(&c->us);
        buf_done(&c->l7_out);
        buf_done(&c->l7_up);
        free(c->audit_reason);
        free(c->upstream_error);
        proxy_identity_done(&c->identity);
        free(c->identify_error);
        free(c->method);
        free(c->url);
        free(c->host);
        free(c->rule);
        policy_gen_unref(c->gen);
        return mfree(c);
}

static void conn_set_deadline(Conn *c, usec_t timeout) {
        c->deadline = timeout > 0 ? now_usec(c->proxy) + timeout : 0;
        if (c->deadline == 0)
                (void) sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
        else {
                (void) sd_event_source_set_time(c->timer, c->deadline);
                (void) sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
        }
}

static int conn_update_events(Conn *c);
static void conn_linger(Conn *c);
static void conn_relay(Conn *c);
static void conn_inspect_start(Conn *c);
static void conn_inspect_run(Conn *c);

/* Answers with the proxy's own response and closes once it is written. */
static void conn_reply_json(Conn *c, int status, const char *json) {
        _cleanup_free_ char *resp = NULL;

        (void) sd_event_source_set_enabled(c->upstream_io, SD_EVENT_OFF);
        c->upstream_fd = safe_close(c->upstream_fd);
        if (!json || proxy_json_response(status, json, &resp) < 0) {
                log_oom();
                c->state = CONN_REPLY;
                (void) conn_free(c);
                return;
        }
        /* Nothing more moves between the two sides: only the answer goes to the client. */
        pump_done(&c->c2u);
        pump_done(&c->u2c);
        pump_init(&c->u2c, -EBADF, c->fd);
        if (buf_append(&c->u2c.pending, resp, strlen(resp)) < 0) {
                (void) conn_free(c);
                return;
        }
        c->state = CONN_REPLY;
        conn_set_deadline(c, c->proxy->head_timeout);
        conn_relay(c);
}

static void conn_reply(Conn *c, int status, const char *error, const char *detail, const char *reason) {
        _cleanup_free_ char *json = NULL;

        if (proxy_json_body(error, detail, reason, &json) < 0)
                json = mfree(json);
        conn_reply_json(c, status, json);
}

/* The audit entry of c's current decision; FORWARD: written as a request (METHOD and URL), STATUS:
 * the answer's, 0 when none. */
static void conn_audit(Conn *c, bool forward, ProxyDecision d, ProxyEngine engine, const char *reason,
                       unsigned status) {
        ProxyEvent ev = {
                .forward = forward,
                .method = c->method,
                .url = c->url,
                .status = status,
                .decision = d,
                .engine = engine,
                .binary = c->identity.exe,
                .pid = c->identity.pid,
                .host = c->host,
                .port = c->port,
                .rule = c->rule,
                .reason = reason,
        };
        proxy_audit(c->proxy, &ev);
}

static void conn_event(Conn *c, ProxyDecision d, ProxyEngine engine, const char *reason) {
        conn_audit(c, c->forward, d, engine, reason, 0);
}

static void conn_deny(Conn *c, ProxyEngine engine, const char *error, const char *reason) {
        _cleanup_free_ char *detail = NULL;

        conn_event(c, PROXY_DENY, engine, reason);
        if (c->forward ? asprintf_safe(&detail, "%s %s:%u not permitted by policy", c->method, c->host, c->port) < 0
                       : asprintf_safe(&detail, "CONNECT %s:%u not permitted by policy", c->host, c->port) < 0) {
                (void) conn_free(c);
                return;
        }
        conn_reply(c, 403, error, detail, reason);
}

static void conn_fail(Conn *c, int status, const char *error, const char *detail, const char *reason) {
        conn_event(c, PROXY_ERROR, PROXY_ENGINE_PROXY, reason);
        conn_reply(c, status, error, detail, reason);
}

static int conn_update_events(Conn *c) {
        uint32_t client = 0, upstream = 0;
        int r;

        switch (c->state) {
        case CONN_REQUEST:
        case CONN_LINGER:
                client = EPOLLIN;
                break;
        case CONN_IDENTIFY:
        case CONN_RESOLVE:
                break;
        case CONN_DIAL:
                upstream = EPOLLOUT;
                break;
        case CONN_TUNNEL:
        case CONN_RESPONSE:
        case CONN_REPLY:
                if (c->c2u.want_read)
                        client |= EPOLLIN;
                if (c->c2u.want_write)
                        upstream |= EPOLLOUT;
                if (c->u2c.want_read || (c->state == CONN_RESPONSE && c->resp == NULL))
                        upstream |= EPOLLIN;
                if (c->u2c.want_write)
                        client |= EPOLLOUT;
                break;
        case CONN_INSPECT:
                client = c->cwant | (c->cs.out.size > 0 ? EPOLLOUT : 0);
                upstream = c->uwant | (c->us.out.size > 0 ? EPOLLOUT : 0);
                /* while a request is with the upstream, an agent that hangs up ends it at once */
                if (c->inspect >= INSPECT_SEND && c->inspect <= INSPECT_RESPONSE_BODY)
                        client |= EPOLLRDHUP;
                break;
        }
        r = sd_event_source_set_io_events(c->io, client);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->io, client ? SD_EVENT_ON : SD_EVENT_OFF);
        if (r >= 0 && c->upstream_io) {
                r = sd_event_source_set_io_events(c->upstream_io, upstream);
                if (r >= 0)
                        r = sd_event_source_set_enabled(c->upstream_io, upstream ? SD_EVENT_ON : SD_EVENT_OFF);
        }
        return r;
}

/* ---- identification of the calling binary ---- */

static void conn_decide(Conn *c);

static void conn_identify_finish(Conn *c, const char *error) {
        c->identify_io = sd_event_source_disable_unref(c->identify_io);
        c->identify_timer = sd_event_source_disable_unref(c->identify_timer);
        c->identify_fd = safe_close(c->identify_fd);
        if (error && !c->identify_error)
                c->identify_error = strdup(error);
        c->identify_done = true;
        if (c->state == CONN_IDENTIFY)
                conn_decide(c);
}

static int on_identify_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Conn *c = userdata;
        char buf[PROXY_IDENTIFY_REPLY_MAX];
        _cleanup_free_ char *error = NULL;
        ssize_t n;
        int r;

        n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) {
                conn_identify_finish(c, n == 0 ? "identification service closed the connection"
                                               : "identification service failed");
                return 0;
        }
        r = proxy_identify_reply_parse(buf, (size_t) n, &c->identity, &error);
        if (r == -EREMOTEIO)
                conn_identify_finish(c, error);
        else if (r < 0)
                conn_identify_finish(c, "malformed reply from the identification service");
        else
                conn_identify_finish(c, NULL);
        return 0;
}

static int on_identify_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        conn_identify_finish(userdata, "identification service timed out");
        return 0;
}

static void conn_identify_start(Conn *c, const struct sockaddr *peer, socklen_t peer_len) {
        struct sockaddr_un un = { .sun_family = AF_UNIX };
        _cleanup_free_ char *req = NULL;
        int r;

        if (!c->proxy->identify_socket) {
                conn_identify_finish(c, "no identification service configured");
                return;
        }
        if (strlen(c->proxy->identify_socket) >= sizeof(un.sun_path) ||
            proxy_identify_request(peer, peer_len, &req) < 0) {
                conn_identify_finish(c, "cannot ask the identification service");
                return;
        }
        strcpy(un.sun_path, c->proxy->identify_socket);
        c->identify_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (c->identify_fd < 0 || connect(c->identify_fd, (struct sockaddr *) &un, sizeof(un)) < 0 ||
            send(c->identify_fd, req, strlen(req), MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t) strlen(req)) {
                log_debug_errno(errno, "Failed to ask the identification service: %m");
                conn_identify_finish(c, "identification service unreachable");
                return;
        }
        r = sd_event_add_io(c->proxy->event, &c->identify_io, c->identify_fd, EPOLLIN, on_identify_io, c);
        if (r >= 0)
                r = sd_event_add_time_relative(c->proxy->event, &c->identify_timer, CLOCK_MONOTONIC,
                                               IDENTIFY_TIMEOUT_USEC, 0, on_identify_timeout, c);
        if (r < 0)
                conn_identify_finish(c, "identification failed");
}

/* ---- name resolution ---- */

static void lookup_free(Lookup *l) {
        Proxy *p = l->proxy;

        if (l->prev)
                l->prev->next = l->next;
        else
                p->lookups = l->next;
        if (l->next)
                l->next->prev = l->prev;
        if (l->cb.ar_result)
                freeaddrinfo(l->cb.ar_result);
        free(l->name);
        free(l);
}

static void lookup_detach(Lookup *l) {
        l->conn->lookup = NULL;
        l->conn = NULL;
        /* glibc may still be resolving: the Lookup is freed when it reports completion. */
        if (gai_cancel(&l->cb) == EAI_ALLDONE || gai_error(&l->cb) != EAI_INPROGRESS)
                lookup_free(l);
}

/* Runs in glibc's helper thread: only tells the loop that some lookup finished. */
static void lookup_notify(union sigval v) {
        uint64_t one = 1;

        (void) !write(v.sival_int, &one, sizeof(one));
}

static void conn_dial_next(Conn *c);

static void conn_addresses_ready(Conn *c, const struct addrinfo *ai) {
        _cleanup_free_ char *reason = NULL;

        c->n_addrs = 0;
        for (; ai && c->n_addrs < ADDRESSES_MAX; ai = ai->ai_next) {
                const void *a;
                int r;

                if (ai->ai_family == AF_INET && ai->ai_addrlen >= sizeof(struct sockaddr_in))
                        a = &((struct sockaddr_in *) ai->ai_addr)->sin_addr;
                else if (ai->ai_family == AF_INET6 && ai->ai_addrlen >= sizeof(struct sockaddr_in6))
                        a = &((struct sockaddr_in6 *) ai->ai_addr)->sin6_addr;
                else
                        continue;
                /* Every address must pass: a name that resolves to one blocked address is refused, so
                 * which address the kernel or a retry would use never matters. */
                r = proxy_address_check(c->endpoint, c->host, ai->ai_family, a, &reason);
                if (r == -EPERM) {
                        conn_deny(c, PROXY_ENGINE_SSRF, "ssrf_denied", reason);
                        return;
                }
                if (r < 0) {
                        conn_fail(c, 500, "internal_error", "address check failed", NULL);
                        return;
                }
                memcpy(&c->addrs[c->n_addrs], ai->ai_addr, ai->ai_addrlen);
                c->addr_lens[c->n_addrs] = ai->ai_addrlen;
                if (ai->ai_family == AF_INET)
                        c->addrs[c->n_addrs].in.sin_port = htons(c->port);
                else
                        c->addrs[c->n_addrs].in6.sin6_port = htons(c->port);
                c->n_addrs++;
        }
        if (c->n_addrs == 0) {
                _cleanup_free_ char *r = NULL;
                (void) asprintf_safe(&r, "DNS resolution failed for %s:%u", c->host, c->port);
                conn_fail(c, 502, "dns_failed", r ?: "DNS resolution failed", r);
                return;
        }
        if (c->audit_reason)
                conn_event(c, PROXY_AUDIT, PROXY_ENGINE_L7, c->audit_reason);
        else
                conn_event(c, PROXY_ALLOW, PROXY_ENGINE_POLICY, NULL);
        c->next_addr = 0;
        conn_dial_next(c);
}

static int on_lookup_done(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Proxy *p = userdata;
        uint64_t v;

        (void) !read(fd, &v, sizeof(v));
        for (Lookup *l = p->lookups, *next; l; l = next) {
                int e = gai_error(&l->cb);
                Conn *c = l->conn;

                next = l->next;
                if (e == EAI_INPROGRESS)
                        continue;
                if (!c) {
                        lookup_free(l);
                        continue;
                }
                c->lookup = NULL;
                if (e != 0) {
                        _cleanup_free_ char *reason = NULL;
                        (void) asprintf_safe(&reason, "DNS resolution failed for %s:%u", c->host, c->port);
                        lookup_free(l);
                        conn_fail(c, 502, "dns_failed", reason ?: "DNS resolution failed", reason);
                        continue;
                }
                conn_addresses_ready(c, l->cb.ar_result);
                lookup_free(l);
                /* conn_addresses_ready() may have freed other lookups' connections, never lookups. */
        }
        return 0;
}

static void conn_resolve(Conn *c) {
        struct gaicb *list[1];
        unsigned char buf[16];
        Lookup *l;
        int r;

        /* An IP literal is checked as it is: no lookup. */
        if (inet_pton(AF_INET, c->host, buf) == 1 || inet_pton(AF_INET6, c->host, buf) == 1) {
                struct addrinfo hints = { .ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_STREAM }, *ai = NULL;

                if (getaddrinfo(c->host, NULL, &hints, &ai) != 0 || !ai) {
                        conn_fail(c, 502, "dns_failed", "invalid address", "invalid address");
                        return;
                }
                conn_addresses_ready(c, ai);
                freeaddrinfo(ai);
                return;
        }

        l = calloc(1, sizeof(Lookup));
        if (!l || !(l->name = strdup(c->host))) {
                free(l);
                conn_fail(c, 500, "internal_error", "out of memory", NULL);
                return;
        }
        l->proxy = c->proxy;
        l->hints = (struct addrinfo) { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                       .ai_flags = AI_ADDRCONFIG };
        l->cb = (struct gaicb) { .ar_name = l->name, .ar_request = &l->hints };
        l->sev = (struct sigevent) { .sigev_notify = SIGEV_THREAD, .sigev_notify_function = lookup_notify,
                                     .sigev_value.sival_int = c->proxy->lookup_efd };
        list[0] = &l->cb;
        r = getaddrinfo_a(GAI_NOWAIT, list, 1, &l->sev);
        if (r != 0) {
                free(l->name);
                free(l);
                conn_fail(c, 502, "dns_failed", "DNS resolution could not start", gai_strerror(r));
                return;
        }
        l->next = c->proxy->lookups;
        if (l->next)
                l->next->prev = l;
        c->proxy->lookups = l;
        l->conn = c;
        c->lookup = l;
        c->state = CONN_RESOLVE;
        conn_set_deadline(c, RESOLVE_TIMEOUT_USEC);
        (void) conn_update_events(c);
}

/* ---- dialling and relaying ---- */

static int on_upstream_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);

static void conn_dial_next(Conn *c) {
        int r;

        c->upstream_io = sd_event_source_disable_unref(c->upstream_io);
        c->upstream_fd = safe_close(c->upstream_fd);
        if (c->next_addr >= c->n_addrs) {
                _cleanup_free_ char *detail = NULL;
                (void) asprintf_safe(&detail, "connection to %s:%u failed", c->host, c->port);
                conn_fail(c, 502, "upstream_unreachable", detail ?: "connection failed", detail);
                return;
        }
        c->upstream_fd = socket(c->addrs[c->next_addr].sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                                IPPROTO_TCP);
        if (c->upstream_fd < 0) {
                conn_fail(c, 500, "internal_error", "cannot create a socket", NULL);
                return;
        }
        /* The address dialled is the one checked: no second lookup anywhere. */
        r = connect(c->upstream_fd, &c->addrs[c->next_addr].sa, c->addr_lens[c->next_addr]);
        c->next_addr++;
        if (r < 0 && errno != EINPROGRESS) {
                conn_dial_next(c);
                return;
        }
        r = sd_event_add_io(c->proxy->event, &c->upstream_io, c->upstream_fd, EPOLLOUT, on_upstream_io, c);
        if (r < 0) {
                conn_fail(c, 500, "internal_error", "cannot watch a socket", NULL);
                return;
        }
        c->state = CONN_DIAL;
        conn_set_deadline(c, CONNECT_TIMEOUT_USEC);
        (void) conn_update_events(c);
}

/* The request head sent upstream: origin-form target, the URL's authority as Host, no hop-by-hop or
 * Proxy-* fields, the body (read whole by the parser, chunked or not) with its length. */
static int conn_build_upstream_request(Conn *c, const HttpUrl *u, Buf *out) {
        const HttpRequest *req = &c->parser.req;
        const char *connection = http_request_header(req, "Connection");
        bool default_port = c->port == 80;
        int r;

        r = buf_printf(out, "%s %s HTTP/1.1\r\nHost: %s%s%s", req->method, u->path,
                       strchr(u->host, ':') ? "[" : "", u->host, strchr(u->host, ':') ? "]" : "");
        if (r >= 0 && !default_port)
                r = buf_printf(out, ":%u", c->port);
        if (r >= 0)
                r = buf_append(out, "\r\n", 2);
        for (size_t i = 0; r >= 0 && i < req->n_headers; i++) {
                const HttpHeader *h = &req->headers[i];

                if (http_hop_by_hop_header(h->name, connection) || strcasecmp(h->name, "Host") == 0 ||
                    strcasecmp(h->name, "Content-Length") == 0 || strcasecmp(h->name, "Expect") == 0)
                        continue;
                r = buf_printf(out, "%s: %s\r\n", h->name, h->value);
        }
        if (r >= 0 && (req->has_content_length || req->chunked || req->body.size > 0))
                r = buf_printf(out, "Content-Length: %zu\r\n", req->body.size);
        if (r >= 0)
                r = buf_append(out, "Connection: close\r\n\r\n", 21);
        if (r >= 0 && req->body.size > 0)
                r = buf_append(out, req->body.data, req->body.size);
        return r;
}

static void conn_connected(Conn *c) {
        int r;

        if (!c->forward && c->inspect_wanted) {
                conn_inspect_start(c);
                return;
        }
        pump_init(&c->c2u, c->fd, c->upstream_fd);
        pump_init(&c->u2c, c->upstream_fd, c->fd);
        if (!c->forward) {
                static const char established[] = "HTTP/1.1 200 Connection Established\r\n\r\n";

                r = buf_append(&c->u2c.pending, established, sizeof(established) - 1);
                /* Bytes the client sent after its CONNECT head (a TLS ClientHello) go first. */
                if (r >= 0 && c->in.size > 0)
                        r = buf_append(&c->c2u.pending, c->in.data, c->in.size);
                buf_clear(&c->in);
                if (r < 0 || pump_start(&c->c2u, UINT64_MAX, true) < 0 || pump_start(&c->u2c, UINT64_MAX, true) < 0) {
                        (void) conn_free(c);
                        return;
                }
                c->state = CONN_TUNNEL;
        } else {
                HttpUrl u = {};

                r = http_absolute_target_parse(c->parser.req.target, &u);
                if (r >= 0) {
                        c->c2u.pending.max = HTTP_HEAD_SIZE_MAX * 2 + HTTP_BODY_SIZE_MAX;
                        r = conn_build_upstream_request(c, &u, &c->c2u.pending);
                }
                http_url_done(&u);
                if (r < 0) {
                        conn_fail(c, 500, "internal_error", "cannot build the upstream request", NULL);
                        return;
                }
                /* Nothing more is read from the client until the response is relayed. */
                c->c2u.reading = false;
                c->resp = mfree(c->resp);
                buf_clear(&c->resp_head);
                c->state = CONN_RESPONSE;
        }
        c->last_activity = now_usec(c->proxy);
        conn_set_deadline(c, c->proxy->idle_timeout);
        conn_relay(c);
}

static void conn_next_request(Conn *c);

/* The response is relayed completely: either the next request on this connection, or the end. */
static void conn_response_done(Conn *c) {
        if (!c->keep_alive || c->resp_until_eof || c->resp->close) {
                (void) conn_free(c);
                return;
        }
        conn_next_request(c);
}

/* The response head passed on: without hop-by-hop fields (chunked framing is kept as it is relayed
 * unchanged), with "Connection: close" when the client connection ends after this response. */
static int response_head_render(const HttpResponseHead *h, bool close, Buf *out) {
        const char *connection = http_response_header(h, "Connection");
        int r;

        r = buf_printf(out, "HTTP/1.1 %u %s\r\n", h->status, h->reason);
        for (size_t i = 0; r >= 0 && i < h->n_headers; i++)
                if (!http_hop_by_hop_header(h->headers[i].name, connection) ||
                    (h->chunked && strcasecmp(h->headers[i].name, "Transfer-Encoding") == 0))
                        r = buf_printf(out, "%s: %s\r\n", h->headers[i].name, h->headers[i].value);
        if (r >= 0 && close)
                r = buf_append(out, "Connection: close\r\n", 19);
        if (r >= 0)
                r = buf_append(out, "\r\n", 2);
        return r;
}

/* Reads the upstream response head (userspace: it is rewritten), then relays the body by splice(). */
static int conn_read_response_head(Conn *c) {
        _cleanup_free_ HttpResponseHead *h = NULL;
        const char *end;
        size_t head_len, extra;
        bool close;
        ssize_t n;
        int r;

        for (;;) {
                char buf[4096];

                /* What is buffered first (an interim response may be followed by the final one), then
                 * more from the upstream. */
                end = c->resp_head.size > 0 ? memmem(c->resp_head.data, c->resp_head.size, "\r\n\r\n", 4) : NULL;
                if (!end) {
                        if (c->resp_head.size >= c->resp_head.max - 1)
                                return -EMSGSIZE;
                        n = recv(c->upstream_fd, buf, MIN(sizeof(buf), c->resp_head.max - 1 - c->resp_head.size),
                                 MSG_DONTWAIT);
                        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                                return 0;
                        if (n <= 0)
                                return -EPIPE;
                        c->last_activity = now_usec(c->proxy);
                        r = buf_append(&c->resp_head, buf, (size_t) n);
                        if (r < 0)
                                return r;
                        continue;
                }
                head_len = (size_t) (end - c->resp_head.data) + 4;
                h = calloc(1, sizeof(HttpResponseHead));
                if (!h)
                        return -ENOMEM;
                /* parse in a copy: the bytes after the head are body and must stay intact */
                {
                        _cleanup_free_ char *copy = malloc(head_len + 1);
                        if (!copy)
                                return -ENOMEM;
                        memcpy(copy, c->resp_head.data, head_len);
                        r = http_response_head_parse(copy, head_len, c->head_request, h);
                        if (r < 0)
                                return r;
                        if (h->status == 101)
                                return -EPROTO; /* Upgrade is hop-by-hop and was not forwarded */

                        /* A body whose end only the upstream's close or its chunk framing marks ends
                         * this client connection too: the proxy does not re-frame it. */
                        close = h->status >= 200 && (!c->keep_alive || h->until_eof || h->chunked);
                        r = response_head_render(h, close, &c->u2c.pending);
                        if (r < 0)
                                return r;
                        /* The strings of h point into copy: keep only the framing. */
                        for (size_t i = 0; i < h->n_headers; i++)
                                h->headers[i] = (HttpHeader) {};
                        h->reason = NULL;
                }
                extra = c->resp_head.size - head_len;
                if (h->status < 200) {
                        /* interim response (100, 103): relayed, then the real one follows */
                        buf_consume(&c->resp_head, head_len);
                        h = mfree(h);
                        continue;
                }
                if (h->has_content_length && extra > h->content_length)
                        return -EBADMSG; /* bytes beyond the body: never passed on as a next response */
                r = buf_append(&c->u2c.pending, c->resp_head.data + head_len, extra);
                if (r < 0)
                        return r;
                buf_clear(&c->resp_head);
                c->resp_until_eof = h->until_eof || h->chunked;
                r = pump_start(&c->u2c,
                               h->has_content_length ? h->content_length - extra
                               : c->resp_until_eof ? UINT64_MAX : 0,
                               false);
                if (r < 0)
                        return r;
                c->resp = TAKE_PTR(h);
                return 0;
        }
}

static void conn_relay(Conn *c) {
        uint64_t moved = 0;
        int r;

        if (c->state == CONN_RESPONSE && !c->resp) {
                r = conn_read_response_head(c);
                if (r < 0) {
                        if (c->u2c.pending.size == 0) {
                                _cleanup_free_ char *detail = NULL;
                                (void) asprintf_safe(&detail, "invalid or no response from %s:%u", c->host, c->port);
                                conn_fail(c, 502, "upstream_unreachable", strna(detail), NULL);
                        } else
                                (void) conn_free(c);
                        return;
                }
        }

        r = pump_run(&c->c2u, &moved);
        if (r >= 0)
                r = pump_run(&c->u2c, &moved);
        if (r < 0) {
                log_debug_errno(r, "Relay for %s:%u ended: %m", strna(c->host), c->port);
                (void) conn_free(c);
                return;
        }
        if (moved > 0)
                c->last_activity = now_usec(c->proxy);

        switch (c->state) {
        case CONN_TUNNEL:
                if (pump_finished(&c->c2u) && pump_finished(&c->u2c)) {
                        (void) conn_free(c);
                        return;
                }
                break;
        case CONN_RESPONSE:
                if (c->resp && pump_finished(&c->u2c)) {
                        if (c->u2c.limit > 0 && c->u2c.limit != UINT64_MAX) {
                                (void) conn_free(c); /* truncated by the upstream */
                                return;
                        }
                        conn_response_done(c);
                        return;
                }
                break;
        case CONN_REPLY:
                if (c->u2c.pending.size == 0) {
                        conn_linger(c);
                        return;
                }
                break;
        default:
                break;
        }
        if (conn_update_events(c) < 0)
                (void) conn_free(c);
}

static int on_upstream_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Conn *c = userdata;

        if (c->state == CONN_INSPECT) {
                conn_inspect_run(c);
                return 0;
        }
        if (c->state == CONN_DIAL) {
                int error = 0;
                socklen_t len = sizeof(error);

                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0 || error != 0) {
                        log_debug_errno(error, "Failed to connect to %s:%u: %m", c->host, c->port);
                        conn_dial_next(c);
                        return 0;
                }
                conn_connected(c);
                return 0;
        }
        conn_relay(c);
        return 0;
}

/* ---- inspected tunnels: L7 rest endpoints and inference.local ---- */

typedef enum Step {
        STEP_GONE = -1, /* the connection was freed or handed over (linger): touch nothing */
        STEP_WAIT = 0,  /* blocked: cwant/uwant say on what */
        STEP_AGAIN = 1, /* progress: run the next step */
} Step;

#define INSPECT_STEPS_MAX 64U
#define INFERENCE_DENIED_JSON "{\"error\":\"connection not allowed by policy\"}"
#define INFERENCE_UNAVAILABLE_JSON "{\"error\":\"inference service unavailable\"}"
#define INFERENCE_ERROR_JSON "{\"error\":\"inference service error\"}"

static Step inspect_gone(Conn *c) {
        (void) conn_free(c);
        return STEP_GONE;
}

/* One journal entry for one request inside the tunnel, written as upstream writes TLS-terminated
 * requests: http://host[:port]/path. */
static void inspect_event(Conn *c, ProxyDecision d, ProxyEngine engine, const char *reason, unsigned status) {
        conn_audit(c, true, d, engine, reason, status);
}

/* The proxy's own answer inside the tunnel; the connection ends once it is written. */
static Step inspect_answer(Conn *c, int status, const char *json) {
        _cleanup_free_ char *resp = NULL;

        if (!json || proxy_json_response(status, json, &resp) < 0)
                return inspect_gone(c);
        c->upstream_io = sd_event_source_disable_unref(c->upstream_io);
        c->upstream_fd = safe_close(c->upstream_fd);
        c->us.fd = -EBADF;
        buf_clear(&c->l7_out);
        if (buf_append(&c->l7_out, resp, strlen(resp)) < 0)
                return inspect_gone(c);
        c->inspect = INSPECT_ANSWER;
        conn_set_deadline(c, c->proxy->head_timeout);
        return STEP_AGAIN;
}

static Step inspect_answer_error(Conn *c, int status, const char *error, const char *detail,
                                 const char *reason) {
        _cleanup_free_ char *json = NULL;

        if (proxy_json_body(error, detail, reason, &json) < 0)
                return inspect_gone(c);
        return inspect_answer(c, status, json);
}

/* Writes what is queued for the agent. STEP_AGAIN once all of it is on the socket. */
static Step inspect_write_client(Conn *c) {
        int r;

        while (c->l7_out.size > 0) {
                ssize_t n = proxy_stream_write(&c->cs, c->l7_out.data, c->l7_out.size);

                if (n == -EAGAIN) {
                        c->cwant |= c->cs.wait;
                        return STEP_WAIT;
                }
                if (n < 0)
                        return inspect_gone(c);
                buf_consume(&c->l7_out, (size_t) n);
                c->last_activity = now_usec(c->proxy);
        }
        r = proxy_stream_flush(&c->cs);
        if (r == -EAGAIN) {
                c->cwant |= EPOLLOUT;
                return STEP_WAIT;
        }
        return r < 0 ? inspect_gone(c) : STEP_AGAIN;
}

static Step inspect_request(Conn *c);

/* Parses what the agent sent. */
static Step inspect_feed(Conn *c) {
        size_t consumed = 0;
        int r;

        r = http_parser_feed(&c->parser, c->in.data, c->in.size, &consumed);
        buf_consume(&c->in, consumed);
        c->proxy->buffered += c->parser.req.body.size - c->buffered;
        c->buffered = c->parser.req.body.size;
        if (r >= 0 && c->proxy->buffered > c->proxy->max_buffered)
                return inspect_answer_error(c, 503, "proxy_busy",
                                            "too much request data held by the proxy; retry later", NULL);
        if (r < 0) {
                conn_event(c, PROXY_ERROR, PROXY_ENGINE_PROXY, strna(c->parser.error));
                return inspect_answer_error(c, c->parser.status ?: 400,
                                            c->parser.status == 431 ? "header_too_large" : "bad_request",
                                            strna(c->parser.error), NULL);
        }
        if (r == 0) {
                if (c->parser.req.expect_continue && http_parser_head_done(&c->parser) &&
                    c->parser.state != HTTP_PARSE_DONE) {
                        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

                        if (buf_append(&c->l7_out, cont, sizeof(cont) - 1) < 0)
                                return inspect_gone(c);
                        c->parser.req.expect_continue = false;
                }
                return STEP_AGAIN;
        }
        return inspect_request(c);
}

/* Ready for the next request on the tunnel (bytes the agent pipelined are parsed first). */
static Step inspect_next_request(Conn *c) {
        c->proxy->buffered -= c->buffered;
        c->buffered = 0;
        http_parser_reset(&c->parser);
        c->parser.accept_connect = false;
        c->method = mfree(c->method);
        c->url = mfree(c->url);
        c->resp = mfree(c->resp);
        buf_clear(&c->resp_head);
        buf_clear(&c->l7_up);
        c->inspect = INSPECT_REQUEST;
        conn_set_deadline(c, KEEPALIVE_TIMEOUT_USEC);
        if (c->in.size > 0) {
                conn_set_deadline(c, c->proxy->head_timeout);
                return inspect_feed(c);
        }
        return STEP_AGAIN;
}

/* The request for the upstream: origin-form as the agent sent it, its (checked) Host, without
 * hop-by-hop and Proxy-* fields, the body whole with its length. For the broker (contract in
 * README.md): Host inference.local, the sandbox's name in X-OpenShell-Sandbox (never the agent's),
 * and one request per broker connection. */
static int inspect_build_request(Conn *c) {
        const HttpRequest *req = &c->parser.req;
        const char *connection = http_request_header(req, "Connection");
        int r;

        r = buf_printf(&c->l7_up, "%s %s HTTP/1.1\r\n", req->method, req->path);
        if (r >= 0 && c->inference)
                r = buf_printf(&c->l7_up, "Host: " PROXY_INFERENCE_HOST "\r\nX-OpenShell-Sandbox: %s\r\n",
                               c->proxy->sandbox);
        for (size_t i = 0; r >= 0 && i < req->n_headers; i++) {
                const HttpHeader *h = &req->headers[i];

                if (http_hop_by_hop_header(h->name, connection) ||
                    strcasecmp(h->name, "Content-Length") == 0 || strcasecmp(h->name, "Expect") == 0 ||
                    (c->inference &&
                     (strcasecmp(h->name, "Host") == 0 || strcasecmp(h->name, "X-OpenShell-Sandbox") == 0)))
                        continue;
                r = buf_printf(&c->l7_up, "%s: %s\r\n", h->name, h->value);
        }
        if (r >= 0 && (c->inference || req->has_content_length || req->chunked || req->body.size > 0))
                r = buf_printf(&c->l7_up, "Content-Length: %zu\r\n", req->body.size);
        if (r >= 0 && (c->inference || !req->keep_alive))
                r = buf_append(&c->l7_up, "Connection: close\r\n", 19);
        if (r >= 0)
                r = buf_append(&c->l7_up, "\r\n", 2);
        c->l7_body_sent = 0;
        return r;
}

/* inference.local: the pattern table, then the broker. */
static Step inspect_inference(Conn *c, const char *path) {
        struct sockaddr_un un = { .sun_family = AF_UNIX };
        int fd, r;

        if (!proxy_inference_match(c->method, path)) {
                inspect_event(c, PROXY_INSPECT_INFERENCE, PROXY_ENGINE_INFERENCE,
                              "no inference pattern matches", 403);
                return inspect_answer(c, 403, INFERENCE_DENIED_JSON);
        }
        if (!c->proxy->broker_socket || strlen(c->proxy->broker_socket) >= sizeof(un.sun_path)) {
                inspect_event(c, PROXY_INSPECT_INFERENCE, PROXY_ENGINE_INFERENCE, "no broker configured", 503);
                return inspect_answer(c, 503, INFERENCE_UNAVAILABLE_JSON);
        }
        strcpy(un.sun_path, c->proxy->broker_socket);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &un, sizeof(un)) < 0) {
                log_debug_errno(errno, "Failed to connect to the broker at %s: %m", c->proxy->broker_socket);
                safe_close(fd);
                inspect_event(c, PROXY_INSPECT_INFERENCE, PROXY_ENGINE_INFERENCE, "broker unreachable", 503);
                return inspect_answer(c, 503, INFERENCE_UNAVAILABLE_JSON);
        }
        c->upstream_fd = fd;
        c->us.fd = fd;
        c->upstream_used = false;
        r = sd_event_add_io(c->proxy->event, &c->upstream_io, fd, EPOLLOUT, on_upstream_io, c);
        if (r >= 0)
                r = inspect_build_request(c);
        if (r < 0)
                return inspect_gone(c);
        c->inspect = INSPECT_SEND;
        return STEP_AGAIN;
}

/* A rest endpoint: the L7 decision (SPEC.md §2.8), then the upstream. */
static Step inspect_l7(Conn *c) {
        const PolicyEndpoint *e = c->endpoint;
        _cleanup_free_ char *path = NULL, *query = NULL, *reason = NULL, *detail = NULL, *json = NULL;
        L7QueryParam *q = NULL;
        size_t n_q = 0;
        L7Decision d;
        int r;

        r = proxy_l7_path(c->parser.req.path, e->allow_encoded_slash, &path, &query);
        if (r == -EPERM) {
                inspect_event(c, PROXY_DENY, PROXY_ENGINE_L7, "encoded slash (%2F) in path is not allowed",
                              403);
                if (asprintf_safe(&detail, "%s %s not permitted by policy", c->method, c->url) < 0 ||
                    proxy_json_body_l7(detail, "encoded slash (%2F) in path is not allowed", c->method,
                                       c->parser.req.path, &json) < 0)
                        return inspect_gone(c);
                return inspect_answer(c, 403, json);
        }
        if (r < 0) {
                inspect_event(c, PROXY_DENY, PROXY_ENGINE_L7, "request path cannot be decided on", 400);
                return inspect_answer_error(c, 400, "bad_request",
                                            "the request path has dot segments, bad escapes or control characters",
                                            NULL);
        }
        r = proxy_l7_query_parse(query, &q, &n_q);
        if (r < 0) {
                inspect_event(c, PROXY_DENY, PROXY_ENGINE_L7, "request query cannot be decided on", 400);
                return inspect_answer_error(c, 400, "bad_request",
                                            "the request query is malformed or too long", NULL);
        }
        d = e->path && !policy_l7_path_match(e->path, path) ? L7_DENY_NOT_PERMITTED
                                                            : policy_l7_decide(e, c->method, path, q, n_q);
        proxy_l7_query_free(q, n_q);
        if (d != L7_ALLOW &&
            asprintf_safe(&reason, "%s %s %s", c->method, path,
                          d == L7_DENY_RULE ? "blocked by deny rule" : "not permitted by policy") < 0)
                return inspect_gone(c);
        if (d != L7_ALLOW && e->enforcement == POLICY_ENFORCEMENT_ENFORCE) {
                inspect_event(c, PROXY_DENY, PROXY_ENGINE_L7, reason, 403);
                if (asprintf_safe(&detail, "%s %s not permitted by policy", c->method, c->url) < 0 ||
                    proxy_json_body_l7(detail, reason, c->method, path, &json) < 0)
                        return inspect_gone(c);
                return inspect_answer(c, 403, json);
        }
        if (c->upstream_error) {
                inspect_event(c, PROXY_ERROR, PROXY_ENGINE_PROXY, c->upstream_error, 502);
                if (asprintf_safe(&detail, "TLS connection to %s:%u failed", c->host, c->port) < 0)
                        return inspect_gone(c);
                return inspect_answer_error(c, 502, "upstream_unreachable", detail, c->upstream_error);
        }
        /* audit: what enforce would refuse goes through, and is recorded as such */
        inspect_event(c, d == L7_ALLOW ? PROXY_ALLOW : PROXY_AUDIT, PROXY_ENGINE_L7, reason, 0);
        if (inspect_build_request(c) < 0)
                return inspect_gone(c);
        c->inspect = INSPECT_SEND;
        return STEP_AGAIN;
}

/* One complete request from the agent. */
static Step inspect_request(Conn *c) {
        const HttpRequest *req = &c->parser.req;
        uint16_t default_port = c->cs.ssl ? 443 : 80;
        const char *host_field = http_request_header(req, "Host");
        bool ipv6 = strchr(c->host, ':');
        _cleanup_free_ char *path = NULL;
        bool mismatch = false;

        c->last_activity = now_usec(c->proxy);
        conn_set_deadline(c, c->proxy->idle_timeout);
        c->method = strdup(req->method);
        if (!c->method)
                return inspect_gone(c);
        c->head_request = streq(req->method, "HEAD");
        c->keep_alive = req->keep_alive;
        if (req->connect)
                return inspect_answer_error(c, 400, "bad_request",
                                            "CONNECT inside a tunnel is not supported", NULL);
        path = strndup(req->path, strcspn(req->path, "?"));
        if (!path)
                return inspect_gone(c);
        if (c->port == default_port ? asprintf_safe(&c->url, "http://%s%s%s%s", ipv6 ? "[" : "", c->host,
                                                    ipv6 ? "]" : "", path) < 0
                                    : asprintf_safe(&c->url, "http://%s%s%s:%u%s", ipv6 ? "[" : "", c->host,
                                                    ipv6 ? "]" : "", c->port, path) < 0)
                return inspect_gone(c);

        /* The request must be for the host the tunnel was decided for, however it names it. */
        if (req->target[0] != '/') {
                HttpUrl u = {};

                mismatch = http_absolute_target_parse(req->target, &u) < 0 ||
                           strcasecmp(u.host, c->host) != 0 || u.port != c->port;
                http_url_done(&u);
        }
        if (!mismatch && host_field && !proxy_l7_authority_matches(host_field, c->host, c->port, default_port))
                mismatch = true;
        if (mismatch) {
                _cleanup_free_ char *reason = NULL;

                if (asprintf_safe(&reason, "request authority %s does not match the CONNECT target %s:%u",
                                  host_field ?: req->target, c->host, c->port) < 0)
                        return inspect_gone(c);
                inspect_event(c, PROXY_DENY, PROXY_ENGINE_L7, reason, 403);
                return inspect_answer_error(c, 403, "request_authority_mismatch", reason, reason);
        }
        if (c->inference)
                return inspect_inference(c, path);
        return inspect_l7(c);
}

/* The upstream failed before a response: 502 unless it merely dropped a kept-alive connection, which
 * the agent's client retries on a new tunnel when it sees this one close. */
static Step inspect_upstream_failed(Conn *c, const char *why) {
        _cleanup_free_ char *detail = NULL;

        if (c->upstream_used && c->resp_head.size == 0 && !c->inference)
                return inspect_gone(c);
        if (c->inference) {
                inspect_event(c, PROXY_INSPECT_INFERENCE, PROXY_ENGINE_INFERENCE, why, 502);
                return inspect_answer(c, 502, INFERENCE_ERROR_JSON);
        }
        inspect_event(c, PROXY_ERROR, PROXY_ENGINE_PROXY, why, 502);
        if (asprintf_safe(&detail, "invalid or no response from %s:%u", c->host, c->port) < 0)
                return inspect_gone(c);
        return inspect_answer_error(c, 502, "upstream_unreachable", detail, NULL);
}

/* The head, then the body from where the parser holds it (no copy, no moving of what is left). */
static Step inspect_send(Conn *c) {
        const Buf *body = &c->parser.req.body;
        int r;

        while (c->l7_up.size > 0 || c->l7_body_sent < body->size) {
                bool head = c->l7_up.size > 0;
                ssize_t n = head ? proxy_stream_write(&c->us, c->l7_up.data, c->l7_up.size)
                                 : proxy_stream_write(&c->us, body->data + c->l7_body_sent,
                                                      body->size - c->l7_body_sent);

                if (n == -EAGAIN) {
                        c->uwant |= c->us.wait;
                        return STEP_WAIT;
                }
                if (n < 0)
                        return inspect_upstream_failed(c, "sending the request failed");
                if (head)
                        buf_consume(&c->l7_up, (size_t) n);
                else
                        c->l7_body_sent += (size_t) n;
                c->last_activity = now_usec(c->proxy);
        }
        r = proxy_stream_flush(&c->us);
        if (r == -EAGAIN) {
                c->uwant |= EPOLLOUT;
                return STEP_WAIT;
        }
        if (r < 0)
                return inspect_upstream_failed(c, "sending the request failed");
        buf_clear(&c->resp_head);
        c->inspect = INSPECT_RESPONSE_HEAD;
        return STEP_AGAIN;
}

static Step inspect_response_head(Conn *c) {
        _cleanup_free_ HttpResponseHead *h = NULL;
        _cleanup_free_ char *copy = NULL;
        const char *end;
        size_t head_len, extra;
        bool close;
        int r;

        if (c->l7_out.size > 0) { /* an interim response */
                Step s = inspect_write_client(c);
                if (s != STEP_AGAIN)
                        return s;
        }
        end = c->resp_head.size > 0 ? memmem(c->resp_head.data, c->resp_head.size, "\r\n\r\n", 4) : NULL;
        if (!end) {
                char buf[4096];
                ssize_t n;

                if (c->resp_head.size >= c->resp_head.max - 1)
                        return inspect_upstream_failed(c, "response head too large");
                n = proxy_stream_read(&c->us, buf, MIN(sizeof(buf), c->resp_head.max - 1 - c->resp_head.size));
                if (n == -EAGAIN) {
                        c->uwant |= c->us.wait;
                        return STEP_WAIT;
                }
                if (n <= 0)
                        return inspect_upstream_failed(c, "no response");
                c->last_activity = now_usec(c->proxy);
                return buf_append(&c->resp_head, buf, (size_t) n) < 0 ? inspect_gone(c) : STEP_AGAIN;
        }

        head_len = (size_t) (end - c->resp_head.data) + 4;
        h = calloc(1, sizeof(HttpResponseHead));
        copy = malloc(head_len + 1);
        if (!h || !copy)
                return inspect_gone(c);
        memcpy(copy, c->resp_head.data, head_len);
        r = http_response_head_parse(copy, head_len, c->head_request, h);
        if (r < 0 || h->status == 101)
                return inspect_upstream_failed(c, "invalid response");
        extra = c->resp_head.size - head_len;
        /* Whatever ends only with the upstream's close, or by chunk framing the proxy does not read,
         * ends the agent's connection too; so does an upstream that closes its side. */
        close = !c->keep_alive || h->until_eof || h->chunked || (!c->inference && h->close);
        if (response_head_render(h, h->status >= 200 && close, &c->l7_out) < 0)
                return inspect_gone(c);
        if (h->status < 200) {
                buf_consume(&c->resp_head, head_len);
                return STEP_AGAIN;
        }
        if (h->has_content_length && extra > h->content_length)
                return inspect_gone(c); /* bytes beyond the body: never passed on as a next response */
        if (buf_append(&c->l7_out, c->resp_head.data + head_len, extra) < 0)
                return inspect_gone(c);
        buf_clear(&c->resp_head);
        if (c->inference)
                inspect_event(c, PROXY_INSPECT_INFERENCE, PROXY_ENGINE_INFERENCE, NULL, h->status);
        c->l7_left = h->has_content_length          ? h->content_length - extra
                     : (h->until_eof || h->chunked) ? UINT64_MAX
                                                    : 0;
        c->l7_close = close;
        c->upstream_used = true;
        c->inspect = INSPECT_RESPONSE_BODY;
        return STEP_AGAIN;
}

static Step inspect_response_done(Conn *c) {
        if (c->inference) { /* one request per broker connection */
                c->upstream_io = sd_event_source_disable_unref(c->upstream_io);
                c->upstream_fd = safe_close(c->upstream_fd);
                proxy_stream_done(&c->us);
                proxy_stream_init(&c->us, -EBADF);
        }
        if (c->l7_close) {
                buf_clear(&c->l7_out);
                c->inspect = INSPECT_ANSWER; /* nothing left to say: close_notify, then the end */
                return STEP_AGAIN;
        }
        return inspect_next_request(c);
}

/* The body as it comes: each piece read is written before the next is read (SSE stays live). */
static Step inspect_response_body(Conn *c) {
        char buf[16 * 1024];
        ssize_t n;

        if (c->l7_out.size > 0) {
                Step s = inspect_write_client(c);
                if (s != STEP_AGAIN)
                        return s;
        }
        if (c->l7_left == 0)
                return inspect_response_done(c);
        n = proxy_stream_read(&c->us, buf, MIN(sizeof(buf), c->l7_left));
        if (n == -EAGAIN) {
                c->uwant |= c->us.wait;
                return STEP_WAIT;
        }
        if (n == 0 && c->l7_left == UINT64_MAX)
                return inspect_response_done(c);
        if (n <= 0)
                return inspect_gone(c); /* truncated: the agent sees the connection end early */
        if (c->l7_left != UINT64_MAX)
                c->l7_left -= (uint64_t) n;
        c->last_activity = now_usec(c->proxy);
        return buf_append(&c->l7_out, buf, (size_t) n) < 0 ? inspect_gone(c) : STEP_AGAIN;
}

static Step inspect_peek(Conn *c) {
        _cleanup_free_ char *reason = NULL;
        Step s;
        int t, r;

        s = inspect_write_client(c); /* the 200 */
        if (s != STEP_AGAIN)
                return s;
        t = proxy_tunnel_classify(c->in.data, c->in.size, c->cs.eof);
        if (t == -EAGAIN) {
                char buf[4096];
                ssize_t n = recv(c->fd, buf, MIN(sizeof(buf), c->in.max - c->in.size), MSG_DONTWAIT);

                if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                        c->cwant |= EPOLLIN;
                        return STEP_WAIT;
                }
                if (n < 0)
                        return inspect_gone(c);
                if (n == 0)
                        c->cs.eof = true;
                return buf_append(&c->in, buf, (size_t) n) < 0 ? inspect_gone(c) : STEP_AGAIN;
        }
        if (t == PROXY_TUNNEL_TLS) {
                r = proxy_stream_tls_server(&c->cs, c->proxy->tls, c->host, c->in.data, c->in.size);
                buf_clear(&c->in);
                if (r < 0) {
                        log_debug_errno(r, "Failed to start TLS for %s: %m", c->host);
                        return inspect_gone(c);
                }
                c->inspect = INSPECT_CLIENT_HANDSHAKE;
                return STEP_AGAIN;
        }
        if (t == PROXY_TUNNEL_HTTP1 && !c->inference)
                return inspect_next_request(c);
        if (c->inference)
                reason = strdup("inference.local is served over TLS only");
        else if (t == PROXY_TUNNEL_H2C)
                reason = strdup("HTTP/2 prior-knowledge (h2c) is not supported for L7-inspected endpoints");
        else
                reason = strdup("Unsupported tunnel protocol for L7-inspected endpoint");
        conn_event(c, PROXY_DENY, c->inference ? PROXY_ENGINE_INFERENCE : PROXY_ENGINE_L7, strna(reason));
        return inspect_gone(c);
}

static Step inspect_client_handshake(Conn *c) {
        int r = proxy_stream_handshake(&c->cs);

        if (r == -EAGAIN) {
                c->cwant |= c->cs.wait;
                return STEP_WAIT;
        }
        if (r < 0) {
                log_debug_errno(r, "TLS handshake with the agent for %s failed: %m", c->host);
                return inspect_gone(c);
        }
        if (c->inference)
                return inspect_next_request(c);
        r = proxy_stream_tls_client(&c->us, c->proxy->tls, c->host);
        if (r < 0) {
                log_debug_errno(r, "Failed to start TLS to %s: %m", c->host);
                return inspect_gone(c);
        }
        c->inspect = INSPECT_UPSTREAM_HANDSHAKE;
        conn_set_deadline(c, CONNECT_TIMEOUT_USEC);
        return STEP_AGAIN;
}

static Step inspect_upstream_handshake(Conn *c) {
        int r = proxy_stream_handshake(&c->us);

        if (r == -EAGAIN) {
                c->uwant |= c->us.wait;
                return STEP_WAIT;
        }
        if (r < 0) {
                /* answered to the agent's first request, over the TLS it already has */
                if (c->us.verify_result != X509_V_OK)
                        (void) asprintf_safe(&c->upstream_error,
                                             "upstream certificate verification failed: %s",
                                             X509_verify_cert_error_string(c->us.verify_result));
                else
                        c->upstream_error = strdup("TLS handshake with the upstream failed");
                if (!c->upstream_error)
                        return inspect_gone(c);
        }
        return inspect_next_request(c);
}

static Step inspect_read_request(Conn *c) {
        char buf[16 * 1024];
        bool first;
        ssize_t n;

        if (c->l7_out.size > 0) { /* 100 Continue */
                Step s = inspect_write_client(c);
                if (s != STEP_AGAIN)
                        return s;
        }
        n = proxy_stream_read(&c->cs, buf, MIN(sizeof(buf), c->in.max - c->in.size));
        if (n == -EAGAIN) {
                c->cwant |= c->cs.wait;
                return STEP_WAIT;
        }
        if (n <= 0)
                return inspect_gone(c);
        first = c->parser.head.size == 0 && c->in.size == 0 && c->parser.state == HTTP_PARSE_HEAD;
        if (buf_append(&c->in, buf, (size_t) n) < 0)
                return inspect_gone(c);
        if (first)
                conn_set_deadline(c, c->proxy->head_timeout);
        return inspect_feed(c);
}

static Step inspect_finish(Conn *c) {
        Step s = inspect_write_client(c);
        int r;

        if (s != STEP_AGAIN)
                return s;
        r = proxy_stream_close_notify(&c->cs);
        if (r == -EAGAIN) {
                c->cwant |= EPOLLOUT;
                return STEP_WAIT;
        }
        if (r < 0)
                return inspect_gone(c);
        c->upstream_io = sd_event_source_disable_unref(c->upstream_io);
        c->upstream_fd = safe_close(c->upstream_fd);
        conn_linger(c);
        return STEP_GONE;
}

static Step inspect_step(Conn *c) {
        switch (c->inspect) {
        case INSPECT_PEEK:
                return inspect_peek(c);
        case INSPECT_CLIENT_HANDSHAKE:
                return inspect_client_handshake(c);
        case INSPECT_UPSTREAM_HANDSHAKE:
                return inspect_upstream_handshake(c);
        case INSPECT_REQUEST:
                return inspect_read_request(c);
        case INSPECT_SEND:
                return inspect_send(c);
        case INSPECT_RESPONSE_HEAD:
                return inspect_response_head(c);
        case INSPECT_RESPONSE_BODY:
                return inspect_response_body(c);
        case INSPECT_ANSWER:
                return inspect_finish(c);
        default:
                return inspect_gone(c);
        }
}

static void conn_inspect_run(Conn *c) {
        c->cwant = c->uwant = 0;
        for (unsigned i = 0;; i++) {
                Step s;

                if (i >= INSPECT_STEPS_MAX) {
                        /* enough for one callback: come back when the agent's socket takes more */
                        c->cwant |= EPOLLOUT;
                        break;
                }
                s = inspect_step(c);
                if (s == STEP_GONE)
                        return;
                if (s == STEP_WAIT)
                        break;
        }
        if (conn_update_events(c) < 0)
                (void) conn_free(c);
}

/* After the decision (and, for a rest endpoint, the dial): "200 Connection Established", then the
 * tunnel is read as requests. */
static void conn_inspect_start(Conn *c) {
        static const char established[] = "HTTP/1.1 200 Connection Established\r\n\r\n";

        c->cs.fd = c->fd;
        c->us.fd = c->upstream_fd;
        if (buf_append(&c->l7_out, established, sizeof(established) - 1) < 0) {
                (void) conn_free(c);
                return;
        }
        c->state = CONN_INSPECT;
        c->inspect = INSPECT_PEEK;
        c->last_activity = now_usec(c->proxy);
        conn_set_deadline(c, c->proxy->head_timeout);
        conn_inspect_run(c);
}

/* ---- reading and deciding requests ---- */

/* An absolute-form request to a rest endpoint: the L7 decision, as inside a tunnel. */
static void conn_decide_l7_forward(Conn *c) {
        const PolicyEndpoint *e = c->endpoint;
        _cleanup_free_ char *path = NULL, *query = NULL, *reason = NULL, *detail = NULL, *json = NULL;
        L7QueryParam *q = NULL;
        size_t n_q = 0;
        L7Decision d;
        int r;

        r = proxy_l7_path(c->parser.req.path, e->allow_encoded_slash, &path, &query);
        if (r >= 0)
                r = proxy_l7_query_parse(query, &q, &n_q);
        if (r == -EPERM) {
                conn_event(c, PROXY_DENY, PROXY_ENGINE_L7, "encoded slash (%2F) in path is not allowed");
                if (asprintf_safe(&detail, "%s %s not permitted by policy", c->method, c->host) < 0 ||
                    proxy_json_body_l7(strna(detail), "encoded slash (%2F) in path is not allowed",
                                       c->method, c->parser.req.path, &json) < 0)
                        json = mfree(json);
                conn_reply_json(c, 403, json);
                return;
        }
        if (r < 0) {
                conn_fail(c, 400, "bad_request", "the request path or query cannot be decided on", NULL);
                return;
        }
        d = e->path && !policy_l7_path_match(e->path, path) ? L7_DENY_NOT_PERMITTED
                                                            : policy_l7_decide(e, c->method, path, q, n_q);
        proxy_l7_query_free(q, n_q);
        if (d == L7_ALLOW) {
                conn_resolve(c);
                return;
        }
        if (asprintf_safe(&reason, "%s %s %s", c->method, path,
                          d == L7_DENY_RULE ? "blocked by deny rule" : "not permitted by policy") < 0) {
                (void) conn_free(c);
                return;
        }
        if (e->enforcement != POLICY_ENFORCEMENT_ENFORCE) {
                c->audit_reason = TAKE_PTR(reason);
                conn_resolve(c);
                return;
        }
        conn_event(c, PROXY_DENY, PROXY_ENGINE_L7, reason);
        if (asprintf_safe(&detail, "%s %.*s not permitted by policy", c->method, (int) strcspn(c->url, "?"),
                          c->url) < 0 ||
            proxy_json_body_l7(detail, reason, c->method, path, &json) < 0)
                json = mfree(json);
        conn_reply_json(c, 403, json);
}

static void conn_decide(Conn *c) {
        _cleanup_free_ char *reason = NULL;
        EgressMatch m;
        int r;

        c->state = CONN_IDENTIFY;
        if (!c->identify_done) {
                conn_set_deadline(c, 0); /* the identification has its own timeout */
                (void) conn_update_events(c);
                return;
        }

        if (!c->gen)
                c->gen = policy_gen_ref(c->proxy->gen);

        if (streq(c->host, PROXY_INFERENCE_HOST)) {
                if (!c->forward && c->port == 443 && c->proxy->tls) {
                        c->inference = true;
                        conn_inspect_start(c);
                        return;
                }
                conn_fail(c, 503, "inference_unavailable",
                          c->proxy->tls
                                  ? "inference.local is served on CONNECT inference.local:443 only"
                                  : "inference routing through inference.local needs TLS termination, not configured",
                          "inference.local is not served here");
                return;
        }
        if (proxy_port_blocked(c->port)) {
                (void) asprintf_safe(&reason, "port %u is a blocked control-plane port, connection rejected", c->port);
                conn_deny(c, PROXY_ENGINE_SSRF, "ssrf_denied", strna(reason));
                return;
        }

        r = policy_egress_match(&c->gen->egress, c->host, c->port, c->identity.exe, c->identity.ancestors, &m);
        if (r < 0) {
                conn_fail(c, 500, "internal_error", "policy decision failed", NULL);
                return;
        }
        if (m.decision != EGRESS_ALLOW) {
                if (m.reason == EGRESS_REASON_BINARY && !c->identity.exe)
                        r = asprintf_safe(&reason, "calling binary not identified (%s)",
                                          strna(c->identify_error));
                else
                        r = policy_egress_reason(&c->gen->egress, &m, c->host, c->port, c->identity.exe,
                                                 c->identity.ancestors, &reason);
                conn_deny(c, PROXY_ENGINE_POLICY, "policy_denied", r < 0 ? "denied" : reason);
                return;
        }
        c->rule = strdup(m.rule);
        c->endpoint = m.entry->endpoint;
        /* A CONNECT to a rest endpoint is inspected when the proxy can terminate TLS; a forwarded
         * request is decided here, it needs no TLS. */
        c->inspect_wanted = !c->forward && c->proxy->tls && c->endpoint->protocol == POLICY_PROTOCOL_REST &&
                            c->endpoint->tls != POLICY_TLS_SKIP;
        if (c->forward && c->endpoint->protocol == POLICY_PROTOCOL_REST) {
                conn_decide_l7_forward(c);
                return;
        }
        if ((c->endpoint->protocol == POLICY_PROTOCOL_REST ||
             c->endpoint->protocol == POLICY_PROTOCOL_WEBSOCKET) &&
            c->endpoint->enforcement == POLICY_ENFORCEMENT_ENFORCE && !c->inspect_wanted) {
                conn_deny(c, PROXY_ENGINE_POLICY, "policy_denied",
                          c->endpoint->protocol == POLICY_PROTOCOL_WEBSOCKET
                                  ? "L7 inspection of websocket endpoints is not available; enforce mode refuses it"
                          : c->endpoint->tls == POLICY_TLS_SKIP
                                  ? "tls: skip leaves this endpoint uninspected; enforce mode refuses it"
                                  : "L7 inspection needs TLS termination, which is not configured; enforce mode refuses it");
                return;
        }
        conn_resolve(c);
}

/* The request is complete: what it asks for, then the decision (once the binary is known). */
static void conn_request_complete(Conn *c) {
        const HttpRequest *req = &c->parser.req;
        int r;

        c->head_request = streq(req->method, "HEAD");
        c->keep_alive = req->keep_alive;
        free(c->method);
        c->method = strdup(req->method);
        if (!c->method) {
                (void) conn_free(c);
                return;
        }
        if (req->connect) {
                c->forward = false;
                r = http_authority_parse(req->target, strlen(req->target), 0, &c->host, &c->port);
                if (r < 0) {
                        conn_fail(c, 400, "bad_request", "CONNECT needs a host:port target", NULL);
                        return;
                }
        } else {
                HttpUrl u = {};

                c->forward = true;
                r = http_absolute_target_parse(req->target, &u);
                if (r < 0) {
                        conn_fail(c, 400, "bad_request",
                                  "a proxy request needs an absolute http:// target or CONNECT", NULL);
                        return;
                }
                c->host = TAKE_PTR(u.host);
                c->port = u.port;
                c->url = strdup(req->target);
                if (u.https) {
                        _cleanup_free_ char *reason = NULL;
                        (void) asprintf_safe(&reason, "FORWARD rejected: HTTPS requires CONNECT for %s:%u", c->host,
                                             c->port);
                        conn_deny(c, PROXY_ENGINE_PROXY, "https_requires_connect", strna(reason));
                        return;
                }
        }
        conn_decide(c);
}

static void conn_feed(Conn *c) {
        size_t consumed = 0;
        int r;

        r = http_parser_feed(&c->parser, c->in.data, c->in.size, &consumed);
        buf_consume(&c->in, consumed);
        /* Bodies of forwarded requests are held whole until sent: one budget for the whole sandbox, so
         * many connections uploading at once cannot take the proxy's memory. */
        c->proxy->buffered += c->parser.req.body.size - c->buffered;
        c->buffered = c->parser.req.body.size;
        if (r >= 0 && c->proxy->buffered > c->proxy->max_buffered) {
                conn_fail(c, 503, "proxy_busy", "too much request data held by the proxy; retry later", NULL);
                return;
        }
        if (r < 0) {
                conn_fail(c, c->parser.status ?: 400, c->parser.status == 431 ? "header_too_large" : "bad_request",
                          strna(c->parser.error), NULL);
                return;
        }
        if (r == 0) {
                if (c->parser.req.expect_continue && http_parser_head_done(&c->parser) &&
                    c->parser.state != HTTP_PARSE_DONE) {
                        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                        (void) !send(c->fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                        c->parser.req.expect_continue = false;
                }
                return;
        }
        (void) sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
        conn_request_complete(c);
}

static void conn_next_request(Conn *c) {
        c->upstream_io = sd_event_source_disable_unref(c->upstream_io);
        c->upstream_fd = safe_close(c->upstream_fd);
        pump_done(&c->c2u);
        pump_done(&c->u2c);
        c->resp = mfree(c->resp);
        c->method = mfree(c->method);
        c->url = mfree(c->url);
        c->host = mfree(c->host);
        c->rule = mfree(c->rule);
        c->audit_reason = mfree(c->audit_reason);
        c->endpoint = NULL;
        c->gen = policy_gen_unref(c->gen);
        c->forward = c->head_request = c->resp_until_eof = false;
        c->proxy->buffered -= c->buffered;
        c->buffered = 0;
        http_parser_reset(&c->parser);
        c->state = CONN_REQUEST;
        conn_set_deadline(c, KEEPALIVE_TIMEOUT_USEC);
        if (conn_update_events(c) < 0) {
                (void) conn_free(c);
                return;
        }
        if (c->in.size > 0)
                conn_feed(c); /* a pipelined request */
}

/* After the proxy's own answer: the client's unread bytes are read and dropped until it closes (or
 * the timeout), since closing with unread input would reset the connection and could destroy the
 * answer before the client reads it. */
static void conn_linger(Conn *c) {
        if (shutdown(c->fd, SHUT_WR) < 0) {
                (void) conn_free(c);
                return;
        }
        c->state = CONN_LINGER;
        conn_set_deadline(c, LINGER_TIMEOUT_USEC);
        if (conn_update_events(c) < 0)
                (void) conn_free(c);
}

static void conn_linger_read(Conn *c) {
        for (unsigned i = 0; i < 16; i++) {
                char buf[16 * 1024];
                ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n <= 0) {
                        (void) conn_free(c);
                        return;
                }
        }
}

static int on_client_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Conn *c = userdata;
        char buf[16 * 1024];
        bool first;
        ssize_t n;

        if (c->state == CONN_LINGER) {
                conn_linger_read(c);
                return 0;
        }
        if (c->state == CONN_INSPECT) {
                if ((revents & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && c->inspect >= INSPECT_SEND &&
                    c->inspect <= INSPECT_RESPONSE_BODY) {
                        (void) conn_free(c); /* the agent hung up: so does its upstream (or broker) */
                        return 0;
                }
                conn_inspect_run(c);
                return 0;
        }
        if (c->state != CONN_REQUEST) {
                conn_relay(c);
                return 0;
        }
        n = recv(fd, buf, MIN(sizeof(buf), c->in.max - c->in.size), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) {
                (void) conn_free(c); /* closed (or failed) before a complete request */
                return 0;
        }
        /* The first byte of a request starts its timeout: a kept-alive connection waits longer. */
        first = c->parser.head.size == 0 && c->in.size == 0 && c->parser.state == HTTP_PARSE_HEAD;
        if (buf_append(&c->in, buf, (size_t) n) < 0) {
                (void) conn_free(c);
                return 0;
        }
        if (first)
                conn_set_deadline(c, c->proxy->head_timeout);
        conn_feed(c);
        return 0;
}

static int on_conn_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Conn *c = userdata;

        switch (c->state) {
        case CONN_REQUEST:
                if (c->parser.head.size == 0 && c->in.size == 0) {
                        (void) conn_free(c); /* idle keep-alive connection */
                        return 0;
                }
                conn_fail(c, 408, "request_timeout", "the request head did not arrive in time", NULL);
                return 0;
        case CONN_RESOLVE: {
                _cleanup_free_ char *reason = NULL;
                (void) asprintf_safe(&reason, "DNS resolution failed for %s:%u (timed out)", c->host, c->port);
                conn_fail(c, 504, "dns_failed", strna(reason), reason);
                return 0;
        }
        case CONN_DIAL:
                conn_dial_next(c);
                return 0;
        case CONN_TUNNEL:
        case CONN_RESPONSE:
                if (usec < c->last_activity + c->proxy->idle_timeout) {
                        c->deadline = c->last_activity + c->proxy->idle_timeout;
                        (void) sd_event_source_set_time(s, c->deadline);
                        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
                        return 0;
                }
                log_debug("Closing idle connection to %s:%u.", c->host, c->port);
                (void) conn_free(c);
                return 0;
        case CONN_INSPECT:
                if (c->inspect >= INSPECT_SEND && c->inspect <= INSPECT_RESPONSE_BODY &&
                    usec < c->last_activity + c->proxy->idle_timeout) {
                        c->deadline = c->last_activity + c->proxy->idle_timeout;
                        (void) sd_event_source_set_time(s, c->deadline);
                        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
                        return 0;
                }
                if (c->inspect == INSPECT_REQUEST && (c->parser.head.size > 0 || c->in.size > 0)) {
                        if (inspect_answer_error(c, 408, "request_timeout",
                                                 "the request head did not arrive in time", NULL) != STEP_GONE)
                                conn_inspect_run(c);
                        return 0;
                }
                (void) conn_free(c);
                return 0;
        default:
                (void) conn_free(c);
                return 0;
        }
}

static void proxy_accept_one(Proxy *p, int cfd, const struct sockaddr *peer, socklen_t peer_len) {
        Conn *c;
        int r;

        c = calloc(1, sizeof(Conn));
        if (!c) {
                safe_close(cfd);
                return;
        }
        *c = (Conn) {
                .fd = cfd,
                .upstream_fd = -EBADF,
                .identify_fd = -EBADF,
                .in = BUF_INIT(CLIENT_IN_MAX),
                .resp_head = BUF_INIT(HTTP_HEAD_SIZE_MAX + 1),
                .l7_out = BUF_INIT(PUMP_PENDING_MAX + 2 * HTTP_HEAD_SIZE_MAX),
                .l7_up = BUF_INIT(2 * HTTP_HEAD_SIZE_MAX),
                .state = CONN_REQUEST,
        };
        proxy_stream_init(&c->cs, -EBADF);
        proxy_stream_init(&c->us, -EBADF);
        http_parser_init(&c->parser);
        c->parser.accept_connect = true;
        pump_init(&c->c2u, -EBADF, -EBADF);
        pump_init(&c->u2c, -EBADF, -EBADF);
        c->proxy = p;
        c->next = p->conns;
        if (c->next)
                c->next->prev = c;
        p->conns = c;
        p->n_conns++;

        r = sd_event_add_io(p->event, &c->io, cfd, EPOLLIN, on_client_io, c);
        if (r >= 0)
                r = sd_event_add_time(p->event, &c->timer, CLOCK_MONOTONIC, 0, USEC_PER_MSEC, on_conn_timer, c);
        if (r < 0) {
                log_warning_errno(r, "Failed to set up a connection, dropping it: %m");
                (void) conn_free(c);
                return;
        }
        conn_set_deadline(c, p->head_timeout);
        conn_identify_start(c, peer, peer_len);
}

static int on_listener(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Proxy *p = userdata;

        for (unsigned i = 0; i < 64; i++) {
                union {
                        struct sockaddr sa;
                        struct sockaddr_in6 in6;
                        struct sockaddr_in in;
                } peer = {};
                socklen_t len = sizeof(peer);
                int cfd;

                cfd = accept4(fd, &peer.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                                return 0;
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                                log_warning_errno(errno, "Failed to accept a connection, dropping it: %m");
                                return 0;
                        }
                        return log_error_errno(errno, "Failed to accept: %m");
                }
                if (p->n_conns >= p->max_conns) {
                        /* A cap, not a queue: the agent sees the refusal at once. */
                        log_debug("Connection limit (%u) reached, refusing a connection.", p->max_conns);
                        safe_close(cfd);
                        continue;
                }
                proxy_accept_one(p, cfd, &peer.sa, len);
        }
        return 0;
}

static int proxy_listen(Proxy *p) {
        _cleanup_strv_free_ char **names = NULL;
        int n, r;

        n = sd_listen_fds_with_names(true, &names);
        if (n < 0)
                return log_error_errno(n, "Failed to read the sockets passed by systemd: %m");
        if (n == 0)
                return log_error_errno(SYNTHETIC_ERRNO(EBADF),
                                       "No listening sockets passed; openshell-proxy is started by socket activation.");
        if ((unsigned) n > LISTENERS_MAX)
                return log_error_errno(SYNTHETIC_ERRNO(E2BIG), "Too many sockets passed (%d, at most %u).", n,
                                       LISTENERS_MAX);
        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i;

                if (sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0) <= 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EBADF),
                                               "Socket %d ('%s') is not a listening TCP socket.", fd,
                                               names && names[i] ? names[i] : "?");
                r = fcntl(fd, F_GETFL);
                if (r < 0 || fcntl(fd, F_SETFL, r | O_NONBLOCK) < 0)
                        return log_error_errno(errno, "Failed to make socket %d non-blocking: %m", fd);
                r = sd_event_add_io(p->event, &p->listeners[p->n_listeners], fd, EPOLLIN, on_listener, p);
                if (r < 0)
                        return log_error_errno(r, "Failed to watch listening socket: %m");
                r = sd_event_source_set_exit_on_failure(p->listeners[p->n_listeners], true);
                if (r < 0)
                        return log_error_errno(r, "Failed to set up listening socket: %m");
                p->n_listeners++;
        }
        return 0;
}

/* After a reload, the connections decided under an older table (open tunnels, forwards being relayed,
 * dials under way) are decided again with the new one, for the same host, port, binary and ancestors:
 * those it denies are closed, each with one audit event; the others go on untouched under the new
 * generation. Kept-alive forwards between requests hold no generation: their next request is decided
 * with the new table anyway. */
static void proxy_redecide_connections(Proxy *p) {
        Conn *next;

        for (Conn *c = p->conns; c; c = next) {
                _cleanup_free_ char *reason = NULL, *why = NULL;
                const void *addr = NULL;
                int family = AF_UNSPEC;
                EgressMatch m;
                int r;

                next = c->next;
                /* inference.local is answered before any policy: a reload does not concern it. */
                if (!c->gen || c->gen == p->gen || c->inference ||
                    (c->state != CONN_RESOLVE && c->state != CONN_DIAL && c->state != CONN_TUNNEL &&
                     c->state != CONN_RESPONSE && c->state != CONN_INSPECT))
                        continue;
                if (c->state != CONN_RESOLVE && c->next_addr > 0) { /* the address dialled */
                        family = c->addrs[c->next_addr - 1].sa.sa_family;
                        addr = family == AF_INET ? (const void *) &c->addrs[c->next_addr - 1].in.sin_addr
                                                 : (const void *) &c->addrs[c->next_addr - 1].in6.sin6_addr;
                }
                r = policy_egress_match(&p->gen->egress, c->host, c->port, c->identity.exe,
                                        c->identity.ancestors, &m);
                if (r >= 0 && m.decision == EGRESS_ALLOW) {
                        const PolicyEndpoint *e = m.entry->endpoint;
                        /* what a new CONNECT would get now (conn_decide()) */
                        bool inspect = !c->forward && p->tls && e->protocol == POLICY_PROTOCOL_REST &&
                                       e->tls != POLICY_TLS_SKIP;

                        /* A tunnel keeps the mode it started in: a raw relay cannot be inspected
                         * mid-stream, and an inspected one would otherwise pass requests unchecked. */
                        if (c->inspect_wanted && !inspect)
                                reason = strdup("the endpoint is no longer L7-inspected; an inspected tunnel "
                                                "cannot become a raw one");
                        else if (!c->forward && !c->inspect_wanted && inspect)
                                reason = strdup("the endpoint is now L7-inspected; an open raw tunnel cannot "
                                                "be inspected mid-stream");
                        else if (!c->forward && !inspect &&
                                 (e->protocol == POLICY_PROTOCOL_REST ||
                                  e->protocol == POLICY_PROTOCOL_WEBSOCKET) &&
                                 e->enforcement == POLICY_ENFORCEMENT_ENFORCE)
                                reason = strdup(
                                        "the endpoint cannot be inspected here; enforce mode refuses it");
                        /* The address dialled must pass the new endpoint's allowed_ips as well. */
                        else if (!addr || proxy_address_check(e, c->host, family, addr, &reason) >= 0) {
                                char *rule = strdup(m.rule);
                                if (rule) {
                                        free(c->rule);
                                        c->rule = rule;
                                        c->endpoint = e;
                                        policy_gen_unref(c->gen);
                                        c->gen = policy_gen_ref(p->gen);
                                        continue;
                                }
                        }
                } else if (r >= 0)
                        (void) policy_egress_reason(&p->gen->egress, &m, c->host, c->port, c->identity.exe,
                                                    c->identity.ancestors, &reason);
                (void) asprintf_safe(&why, "%s (after policy reload)", reason ?: "denied");
                c->rule = mfree(c->rule); /* a denial names no rule */
                conn_event(c, PROXY_DENY, PROXY_ENGINE_POLICY, why ?: "denied after policy reload");
                (void) conn_free(c);
        }
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Proxy *p = userdata;

        (void) sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, now_usec(p));
        if (proxy_load_policy(p) < 0)
                log_warning("Keeping the previous policy: the new one is invalid.");
        else
                proxy_redecide_connections(p);
        (void) sd_notify(false, "READY=1");
        return 0;
}

static void proxy_done(Proxy *p) {
        while (p->conns)
                (void) conn_free(p->conns);
        for (Lookup *l = p->lookups, *next; l; l = next) {
                next = l->next;
                (void) gai_cancel(&l->cb);
                /* one still running in glibc's thread cannot be freed: leave it to the exit */
                if (gai_error(&l->cb) != EAI_INPROGRESS)
                        lookup_free(l);
        }
        for (size_t i = 0; i < p->n_listeners; i++)
                sd_event_source_disable_unref(p->listeners[i]);
        sd_event_source_disable_unref(p->lookup_io);
        sd_event_source_disable_unref(p->flood_timer);
        safe_close(p->lookup_efd);
        flood_limiter_done(&p->flood);
        policy_gen_unref(p->gen);
        free(p->sandbox);
        free(p->policy_path);
        free(p->identify_socket);
        free(p->ca_cert_path);
        free(p->ca_key_path);
        free(p->broker_socket);
        proxy_tls_free(p->tls);
        sd_event_unref(p->event);
}

static void help(void) {
        printf("openshell-proxy --sandbox NAME --policy FILE [OPTIONS]\n\n"
               "A sandbox's egress proxy (started as openshell-proxy@NAME.service by socket activation).\n\n"
               "  -h --help                  Show this help\n"
               "     --version               Show the version\n"
               "     --sandbox=NAME          The sandbox this proxy serves (audit events carry it)\n"
               "     --policy=FILE           The sandbox's policy; SIGHUP re-reads its network policies\n"
               "     --identify-socket=PATH  Ask this SOCK_SEQPACKET socket for the binary behind each\n"
               "                             client connection (without it, no binary is known)\n"
               "     --max-connections=N     Client connections at most (default %u)\n"
               "     --max-buffered=BYTES    Request bodies held at once, all connections together\n"
               "                             (default %" PRIu64 ")\n"
               "     --idle-timeout=SEC      Close a tunnel without traffic for SEC seconds (default %u)\n"
               "     --head-timeout=SEC      Time a client has to send a request (default %u)\n"
               "     --tls-ca-cert=FILE      The sandbox CA certificate (PEM): terminate TLS to inspect rest\n"
               "                             endpoints and serve inference.local (with --tls-ca-key)\n"
               "     --tls-ca-key=FILE       The sandbox CA's private key (PEM)\n"
               "     --broker-socket=PATH    Send inference.local requests to the broker on this socket\n",
               CONNECTIONS_MAX_DEFAULT, BUFFERED_MAX_DEFAULT, (unsigned) (IDLE_TIMEOUT_USEC / USEC_PER_SEC),
               (unsigned) (HEAD_TIMEOUT_USEC / USEC_PER_SEC));
}

static int parse_seconds(const char *s, usec_t *ret) {
        unsigned v;

        if (safe_atou(s, &v) < 0 || v == 0 || v > 86400)
                return -EINVAL;
        *ret = (usec_t) v * USEC_PER_SEC;
        return 0;
}

static int parse_argv(Proxy *p, int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_SANDBOX,
                ARG_POLICY,
                ARG_IDENTIFY,
                ARG_MAX_CONN,
                ARG_MAX_BUFFERED,
                ARG_IDLE,
                ARG_HEAD,
                ARG_TLS_CA_CERT,
                ARG_TLS_CA_KEY,
                ARG_BROKER_SOCKET,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "sandbox", required_argument, NULL, ARG_SANDBOX },
                { "policy", required_argument, NULL, ARG_POLICY },
                { "identify-socket", required_argument, NULL, ARG_IDENTIFY },
                { "max-connections", required_argument, NULL, ARG_MAX_CONN },
                { "max-buffered", required_argument, NULL, ARG_MAX_BUFFERED },
                { "idle-timeout", required_argument, NULL, ARG_IDLE },
                { "head-timeout", required_argument, NULL, ARG_HEAD },
                { "tls-ca-cert", required_argument, NULL, ARG_TLS_CA_CERT },
                { "tls-ca-key", required_argument, NULL, ARG_TLS_CA_KEY },
                { "broker-socket", required_argument, NULL, ARG_BROKER_SOCKET },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("openshell-proxy %s\n", PROJECT_VERSION);
                        return 0;
                case ARG_SANDBOX:
                        if (!sandbox_name_is_valid(optarg))
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid sandbox name: %s", optarg);
                        free(p->sandbox);
                        p->sandbox = strdup(optarg);
                        if (!p->sandbox)
                                return log_oom();
                        break;
                case ARG_POLICY:
                        free(p->policy_path);
                        p->policy_path = strdup(optarg);
                        if (!p->policy_path)
                                return log_oom();
                        break;
                case ARG_IDENTIFY:
                        free(p->identify_socket);
                        p->identify_socket = strdup(optarg);
                        if (!p->identify_socket)
                                return log_oom();
                        break;
                case ARG_MAX_CONN:
                        if (safe_atou(optarg, &p->max_conns) < 0 || p->max_conns == 0 || p->max_conns > 100000)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --max-connections: %s",
                                                       optarg);
                        break;
                case ARG_MAX_BUFFERED:
                        if (safe_atou64(optarg, &p->max_buffered) < 0 || p->max_buffered == 0)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --max-buffered: %s", optarg);
                        break;
                case ARG_IDLE:
                        if (parse_seconds(optarg, &p->idle_timeout) < 0)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --idle-timeout: %s", optarg);
                        break;
                case ARG_HEAD:
                        if (parse_seconds(optarg, &p->head_timeout) < 0)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --head-timeout: %s", optarg);
                        break;
                case ARG_TLS_CA_CERT:
                case ARG_TLS_CA_KEY:
                case ARG_BROKER_SOCKET: {
                        char **v = c == ARG_TLS_CA_CERT  ? &p->ca_cert_path
                                   : c == ARG_TLS_CA_KEY ? &p->ca_key_path
                                                         : &p->broker_socket;
                        free(*v);
                        *v = strdup(optarg);
                        if (!*v)
                                return log_oom();
                        break;
                }
                case '?':
                        return -EINVAL;
                default:
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unknown option.");
                }
        if (optind < argc)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "This program takes no arguments.");
        if (!p->sandbox || !p->policy_path)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--sandbox and --policy are required.");
        if (!p->ca_cert_path != !p->ca_key_path)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--tls-ca-cert and --tls-ca-key go together.");
        return 1;
}

static int run(int argc, char *argv[]) {
        _cleanup_(proxy_done) Proxy p = {
                .max_conns = CONNECTIONS_MAX_DEFAULT,
                .max_buffered = BUFFERED_MAX_DEFAULT,
                .idle_timeout = IDLE_TIMEOUT_USEC,
                .head_timeout = HEAD_TIMEOUT_USEC,
                .lookup_efd = -EBADF,
                .flood = FLOOD_LIMITER_INIT(FLOOD_BURST, FLOOD_HOSTS_MAX),
        };
        sigset_t ss;
        int r;

        r = parse_argv(&p, argc, argv);
        if (r <= 0)
                return r;

        /* Each tunnel holds six descriptors (two sockets, two pipes): use the whole hard limit. */
        r = rlimit_nofile_raise();
        if (r < 0)
                log_debug_errno(r, "Failed to raise RLIMIT_NOFILE, ignoring: %m");

        r = proxy_load_policy(&p);
        if (r < 0)
                return r;
        if (p.ca_cert_path) {
                _cleanup_free_ char *error = NULL;

                r = proxy_tls_new(p.ca_cert_path, p.ca_key_path, &p.tls, &error);
                if (r < 0)
                        return log_error_errno(r, "%s", error ?: "Failed to set up TLS termination.");
                log_info("TLS termination with the CA %s.", p.ca_cert_path);
        }

        r = sd_event_new(&p.event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate event loop: %m");
        r = sd_event_set_watchdog(p.event, true);
        if (r < 0)
                return log_error_errno(r, "Failed to enable watchdog: %m");
        /* splice() into a socket the peer closed raises SIGPIPE: a failed relay is an error value. */
        if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
                return log_error_errno(errno, "Failed to ignore SIGPIPE: %m");
        sigemptyset(&ss);
        sigaddset(&ss, SIGHUP);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %m");
        r = sd_event_add_signal(p.event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(p.event, NULL, SIGINT, NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to handle SIGTERM/SIGINT: %m");
        r = sd_event_add_signal(p.event, NULL, SIGHUP, on_sighup, &p);
        if (r < 0)
                return log_error_errno(r, "Failed to handle SIGHUP: %m");

        p.lookup_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (p.lookup_efd < 0)
                return log_error_errno(errno, "Failed to create eventfd: %m");
        r = sd_event_add_io(p.event, &p.lookup_io, p.lookup_efd, EPOLLIN, on_lookup_done, &p);
        if (r < 0)
                return log_error_errno(r, "Failed to watch name lookups: %m");
        r = sd_event_add_time_relative(p.event, &p.flood_timer, CLOCK_MONOTONIC, FLOOD_PERIOD_USEC, USEC_PER_SEC,
                                       on_flood_timer, &p);
        if (r >= 0)
                r = sd_event_source_set_enabled(p.flood_timer, SD_EVENT_ON);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the denial summary timer: %m");

        r = proxy_listen(&p);
        if (r < 0)
                return r;

        (void) sd_notifyf(false, "READY=1\nSTATUS=Deciding egress of sandbox %s.", p.sandbox);
        r = sd_event_loop(p.event);
        (void) sd_notify(false, "STOPPING=1");
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return r;
}

DEFINE_MAIN_FUNCTION(run);

/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <string.h>

#include "broker-metrics.h"

/* A Prometheus label value: backslash, double quote and newline escaped. */
static char *label_escape(const char *s) {
        char *e = malloc(strlen(s) * 2 + 1), *p = e;

        if (!e)
                return NULL;
        for (; *s; s++) {
                if (*s == '\\' || *s == '"')
                        *p++ = '\\';
                if (*s == '\n') {
                        *p++ = '\\';
                        *p++ = 'n';
                        continue;
                }
                *p++ = *s;
        }
        *p = 0;
        return e;
}

static int metrics_backend(Buf *o, const char *name, const BackendState *s, uint64_t v) {
        _cleanup_free_ char *l = label_escape(s->url);

        if (!l)
                return -ENOMEM;
        return buf_printf(o, "%s{backend=\"%s\"} %" PRIu64 "\n", name, l, v);
}

static uint64_t backend_outstanding(const BackendState *b, usec_t now) {
        return b->outstanding;
}

static uint64_t backend_requests(const BackendState *b, usec_t now) {
        return b->n_requests;
}

static uint64_t backend_failures(const BackendState *b, usec_t now) {
        return b->n_failures;
}

static uint64_t backend_probes(const BackendState *b, usec_t now) {
        return b->n_probes;
}

static uint64_t backend_open(const BackendState *b, usec_t now) {
        return backend_circuit_open(b, now) ? 1 : 0;
}

/* One series per backend for each of these. */
static const struct {
        const char *name, *type, *help;
        uint64_t (*value)(const BackendState *b, usec_t now);
} backend_metrics[] = {
        { "openshell_broker_backend_outstanding", "gauge", "Requests in flight per backend.", backend_outstanding },
        { "openshell_broker_backend_requests_total", "counter", "Attempts per backend.", backend_requests },
        { "openshell_broker_backend_failures_total", "counter", "Failed attempts per backend.", backend_failures },
        { "openshell_broker_backend_probes_total", "counter",
          "Health probes per backend (while its circuit is open).", backend_probes },
        { "openshell_broker_backend_circuit_open", "gauge", "Whether the backend's circuit breaker is open.",
          backend_open },
};

int metrics_format(const BrokerStats *s, const BrokerGauges *g, const Router *router, usec_t now, Buf *o) {
        int r = 0;

#define P(...) do { if (r >= 0) r = buf_printf(o, __VA_ARGS__); } while (0)
        P("# HELP openshell_broker_requests_total Inference requests answered (each one audited), by HTTP status.\n");
        P("# TYPE openshell_broker_requests_total counter\n");
        for (size_t i = 0; i < ELEMENTSOF(s->status_counts); i++)
                if (s->status_counts[i] > 0)
                        P("openshell_broker_requests_total{code=\"%zu\"} %" PRIu64 "\n", i, s->status_counts[i]);
        P("# HELP openshell_broker_requests_in_flight Requests being answered.\n");
        P("# TYPE openshell_broker_requests_in_flight gauge\nopenshell_broker_requests_in_flight %u\n",
          g->requests_in_flight);
        P("# HELP openshell_broker_connections Open client connections.\n");
        P("# TYPE openshell_broker_connections gauge\nopenshell_broker_connections %u\n", g->connections);
        P("# HELP openshell_broker_connections_total Client connections accepted.\n");
        P("# TYPE openshell_broker_connections_total counter\nopenshell_broker_connections_total %" PRIu64 "\n",
          s->connections_total);
        P("# HELP openshell_broker_tokens_total Tokens reported by backends, by direction.\n");
        P("# TYPE openshell_broker_tokens_total counter\n");
        P("openshell_broker_tokens_total{direction=\"in\"} %" PRIu64 "\n", s->tokens_in);
        P("openshell_broker_tokens_total{direction=\"out\"} %" PRIu64 "\n", s->tokens_out);
        P("# HELP openshell_broker_failovers_total Requests retried on another backend before any answer byte.\n");
        P("# TYPE openshell_broker_failovers_total counter\nopenshell_broker_failovers_total %" PRIu64 "\n",
          s->failovers);
        P("# HELP openshell_broker_paused_total Answers paused for a client reading slower than the backend.\n");
        P("# TYPE openshell_broker_paused_total counter\nopenshell_broker_paused_total %" PRIu64 "\n", s->pauses);
        P("# HELP openshell_broker_config_reloads_total Configurations loaded.\n");
        P("# TYPE openshell_broker_config_reloads_total counter\nopenshell_broker_config_reloads_total %" PRIu64 "\n",
          s->config_reloads);
        P("# HELP openshell_broker_config_errors_total Configurations refused as invalid.\n");
        P("# TYPE openshell_broker_config_errors_total counter\nopenshell_broker_config_errors_total %" PRIu64 "\n",
          s->config_errors);
        for (size_t i = 0; i < ELEMENTSOF(backend_metrics); i++) {
                P("# HELP %s %s\n# TYPE %s %s\n", backend_metrics[i].name, backend_metrics[i].help,
                  backend_metrics[i].name, backend_metrics[i].type);
                for (const BackendState *b = router->backends; b && r >= 0; b = b->next)
                        r = metrics_backend(o, backend_metrics[i].name, b, backend_metrics[i].value(b, now));
        }
#undef P
        return r < 0 ? r : 0;
}

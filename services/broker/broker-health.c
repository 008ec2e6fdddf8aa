/* SPDX-License-Identifier: Apache-2.0 */
#include "broker-curl.h"
#include "broker-health.h"
#include "log.h"
#include "string-util.h"

static size_t discard(char *data, size_t size, size_t n, void *userdata) {
        return size * n;
}

Probe *probe_free(Probe *p) {
        Manager *m;

        if (!p)
                return NULL;
        m = p->manager;
        for (Probe **pp = &m->probes; *pp; pp = &(*pp)->next)
                if (*pp == p) {
                        *pp = p->next;
                        break;
                }
        if (p->easy) {
                curl_multi_remove_handle(m->multi, p->easy);
                curl_easy_cleanup(p->easy);
        }
        free(p->url);
        return mfree(p);
}

void probe_finish(Manager *m, CURL *easy, int result) {
        Probe *p;
        long status = 0;
        bool alive;

        for (p = m->probes; p && p->easy != easy; p = p->next)
                ;
        if (!p)
                return;
        (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        alive = result == CURLE_OK && status > 0 && status < 500;
        if (alive)
                log_info("Backend %s answers again (health probe: HTTP %ld), closing its circuit.", p->backend->url,
                         status);
        else
                log_debug("Health probe of %s failed: %s.", p->backend->url,
                          result != CURLE_OK ? curl_easy_strerror(result) : "server error");
        backend_probe_result(p->backend, alive, now(CLOCK_MONOTONIC));
        probe_free(p);
}

static int probe_start(Manager *m, BackendState *s) {
        Probe *p;

        p = calloc(1, sizeof(Probe));
        if (!p)
                return -ENOMEM;
        *p = (Probe) { .manager = m, .backend = s, .next = m->probes };
        m->probes = p;
        if (asprintf_safe(&p->url, "%s/models", s->url) < 0 || !(p->easy = curl_easy_init())) {
                probe_free(p);
                return -ENOMEM;
        }
        manager_easy_setup(m, p->easy, p->url);
        (void) curl_easy_setopt(p->easy, CURLOPT_TIMEOUT_MS, PROBE_TIMEOUT_MS);
        (void) curl_easy_setopt(p->easy, CURLOPT_WRITEFUNCTION, discard);
        (void) curl_easy_setopt(p->easy, CURLOPT_USERAGENT, "openshell-broker/" PROJECT_VERSION " (health probe)");
        if (curl_multi_add_handle(m->multi, p->easy) != CURLM_OK) {
                curl_easy_cleanup(p->easy);
                p->easy = NULL;
                probe_free(p);
                return -ENOMEM;
        }
        s->probing = true;
        return 0;
}

static int on_probe_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        int r;

        for (BackendState *s = m->router.backends; s; s = s->next)
                if (backend_wants_probe(s)) {
                        r = probe_start(m, s);
                        if (r < 0)
                                log_warning_errno(r, "Failed to start health probe of %s, ignoring: %m", s->url);
                }
        (void) sd_event_source_set_time(source, now(CLOCK_MONOTONIC) + PROBE_INTERVAL);
        (void) sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
        return 0;
}

int manager_start_probes(Manager *m) {
        return sd_event_add_time(m->event, &m->probe_timer, CLOCK_MONOTONIC, now(CLOCK_MONOTONIC) + PROBE_INTERVAL, 0,
                                 on_probe_timer, m);
}

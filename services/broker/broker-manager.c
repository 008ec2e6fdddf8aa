/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "broker-connection.h"
#include "broker-curl.h"
#include "broker-health.h"
#include "broker-manager.h"
#include "log.h"
#include "string-util.h"

#define CONFIG_CHECK_USEC (1 * USEC_PER_SEC)
/* On SIGTERM requests in flight may finish for this long; new connections wait in systemd's socket
 * for the next instance. */
#define DRAIN_USEC (15 * USEC_PER_SEC)
#define ACCEPT_RETRY_USEC (250 * USEC_PER_MSEC)

int manager_new(Manager **ret) {
        Manager *m;

        m = calloc(1, sizeof(Manager));
        if (!m)
                return -ENOMEM;
        *m = (Manager) {
                .idle_timeout = IDLE_TIMEOUT_DEFAULT,
                .request_timeout = REQUEST_TIMEOUT_DEFAULT,
                .stream_idle_timeout = STREAM_IDLE_TIMEOUT_DEFAULT,
                .max_connections = CONNECTIONS_MAX_DEFAULT,
                .curl_epoll_fd = -EBADF,
                .connections_epoll_fd = -EBADF,
                .audit = AUDIT_ENTRY_INIT,
        };
        *ret = m;
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        while (m->connections)
                connection_free(m->connections);
        sd_event_source_disable_unref(m->connections_io);
        safe_close(m->connections_epoll_fd);
        for (size_t i = 0; i < m->n_listeners; i++)
                sd_event_source_disable_unref(m->listeners[i]);
        free(m->listeners);
        sd_event_source_disable_unref(m->idle_timer);
        sd_event_source_disable_unref(m->accept_retry);
        sd_event_source_disable_unref(m->probe_timer);
        while (m->probes)
                probe_free(m->probes);
        manager_done_curl(m);
        broker_config_unref(m->config);
        router_done(&m->router);
        caller_table_done(&m->callers);
        audit_entry_done(&m->audit);
        free(m->config_dir);
        free(m->credentials_dir);
        sd_event_unref(m->event);
        return mfree(m);
}

/* ---- configuration ---- */

static uint64_t stamp_mix(uint64_t h, const char *path) {
        struct stat st;

        if (stat(path, &st) < 0)
                return h * 1099511628211ULL ^ 0xdeadU;
        h = (h ^ (uint64_t) st.st_ino) * 1099511628211ULL;
        h = (h ^ (uint64_t) st.st_size) * 1099511628211ULL;
        h = (h ^ (uint64_t) st.st_mtim.tv_sec) * 1099511628211ULL;
        h = (h ^ (uint64_t) st.st_mtim.tv_nsec) * 1099511628211ULL;
        return h;
}

/* A fingerprint of every file the configuration was read from: a change of any reloads it. */
static uint64_t config_stamp(Manager *m) {
        _cleanup_free_ char *path = NULL;
        uint64_t h = 14695981039346656037ULL;

        if (asprintf_safe(&path, "%s/inference.yaml", m->config_dir) < 0)
                return 0;
        h = stamp_mix(h, path);
        path = mfree(path);
        if (asprintf_safe(&path, "%s/providers", m->config_dir) < 0)
                return 0;
        h = stamp_mix(h, path);
        for (size_t i = 0; m->config && i < m->config->n_providers; i++) {
                _cleanup_free_ char *p = NULL;

                if (asprintf_safe(&p, "%s/providers/%s.yaml", m->config_dir, m->config->providers[i]->name) < 0)
                        return 0;
                h = stamp_mix(h, p);
        }
        return h;
}

int manager_load_config(Manager *m) {
        _cleanup_(diag_list_done) DiagList diags = {};
        _cleanup_(broker_config_unrefp) BrokerConfig *c = NULL;
        int r;

        m->config_checked = now(CLOCK_MONOTONIC);
        m->config_stamp = config_stamp(m);
        r = broker_config_load(m->config_dir, m->credentials_dir, m->credential_prefix, &c, &diags);
        log_diag_list(&diags);
        if (r < 0) {
                m->stats.config_errors++;
                /* Requests are refused with 503 until the file is fixed, unless an earlier valid
                 * configuration exists: that one stays in force. */
                if (!m->config)
                        m->config_invalid = true;
                return log_error_errno(r, "Failed to load inference configuration from %s%s: %m", m->config_dir,
                                       m->config ? ", keeping the previous one" : "");
        }
        r = router_attach(&m->router, c);
        if (r < 0)
                return log_oom();
        /* Picked up after loading the providers, whose files are part of the fingerprint. */
        broker_config_unref(m->config);
        m->config = TAKE_PTR(c);
        m->config_invalid = false;
        m->config_stamp = config_stamp(m);
        m->stats.config_reloads++;
        log_info("Inference configuration loaded: %zu route(s).", m->config->n_routes);
        return 0;
}

void manager_maybe_reload(Manager *m) {
        usec_t n = manager_now(m);

        if (n - m->config_checked < CONFIG_CHECK_USEC)
                return;
        m->config_checked = n;
        if (config_stamp(m) != m->config_stamp)
                (void) manager_load_config(m);
}

/* ---- listening sockets ---- */

void manager_listeners_enable(Manager *m, bool enable) {
        for (size_t i = 0; i < m->n_listeners; i++)
                (void) sd_event_source_set_enabled(m->listeners[i], enable ? SD_EVENT_ON : SD_EVENT_OFF);
}

void manager_pause_accepting(Manager *m) {
        manager_listeners_enable(m, false);
        (void) sd_event_source_set_time(m->accept_retry, now(CLOCK_MONOTONIC) + ACCEPT_RETRY_USEC);
        (void) sd_event_source_set_enabled(m->accept_retry, SD_EVENT_ONESHOT);
}

static int on_accept_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        if (m->n_connections < m->max_connections && !m->draining)
                manager_listeners_enable(m, true);
        return 0;
}

void manager_connection_closed(Manager *m) {
        /* One below the limit: the listeners were off for it (on_listener_io()). */
        if (m->n_connections + 1 == m->max_connections && !m->draining)
                manager_listeners_enable(m, true);
        manager_update_idle(m);
}

static int manager_add_listener(Manager *m, int fd) {
        sd_event_source **s = &m->listeners[m->n_listeners];
        int flags, r;

        r = sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOTSOCK; /* not a listening stream socket */
        if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0 && sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0) <= 0)
                return -EAFNOSUPPORT;
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;

        r = sd_event_add_io(m->event, s, fd, EPOLLIN, on_listener_io, m);
        if (r < 0)
                return r;
        /* A failing listener ends the loop: better restarted by systemd than half-deaf. */
        r = sd_event_source_set_exit_on_failure(*s, true);
        if (r < 0)
                return r;
        m->n_listeners++;
        return 0;
}

int manager_listen(Manager *m) {
        int n, r;

        m->connections_epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (m->connections_epoll_fd < 0)
                return -errno;
        r = sd_event_add_io(m->event, &m->connections_io, m->connections_epoll_fd, EPOLLIN, on_connections_io, m);
        if (r < 0)
                return r;

        n = sd_listen_fds(true);
        if (n < 0)
                return n;
        if (n == 0)
                return -ENXIO;
        m->listeners = calloc((size_t) n, sizeof(sd_event_source *));
        if (!m->listeners)
                return -ENOMEM;
        for (int i = 0; i < n; i++) {
                r = manager_add_listener(m, SD_LISTEN_FDS_START + i);
                if (r < 0)
                        return r;
        }

        r = sd_event_add_time(m->event, &m->accept_retry, CLOCK_MONOTONIC, 0, 0, on_accept_retry, m);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(m->accept_retry, SD_EVENT_OFF);
}

/* ---- idle exit ---- */

static void manager_arm_idle_timer(Manager *m, usec_t at) {
        m->idle_timer_at = at;
        (void) sd_event_source_set_time(m->idle_timer, m->idle_timer_at);
        (void) sd_event_source_set_enabled(m->idle_timer, SD_EVENT_ONESHOT);
}

static int on_idle(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        m->idle_timer_at = 0;
        if (m->n_active > 0 || m->n_requests > 0)
                return 0; /* set again once the broker is idle (manager_update_idle()) */
        if (usec < m->idle_since + m->idle_timeout) {
                manager_arm_idle_timer(m, m->idle_since + m->idle_timeout);
                return 0;
        }
        log_info("No request for %" PRIu64 " s, exiting (the socket stays open; systemd starts the broker again).",
                 m->idle_timeout / USEC_PER_SEC);
        return sd_event_exit(m->event, 0);
}

/* The idle timer is not moved for each request: it is set when the broker becomes idle and nothing is
 * set yet; when it fires on_idle() checks what happened meanwhile. */
void manager_update_idle(Manager *m) {
        if (m->draining && m->n_requests == 0 && m->n_active == 0) {
                (void) sd_event_exit(m->event, 0);
                return;
        }
        if (!m->idle_timer)
                return;
        if (m->n_active > 0 || m->n_requests > 0) {
                m->idle_since = 0;
                return;
        }
        m->idle_since = manager_now(m);
        if (m->idle_timer_at != 0)
                return;
        manager_arm_idle_timer(m, m->idle_since + m->idle_timeout);
}

int manager_start_idle_timer(Manager *m) {
        if (m->idle_timeout == 0)
                return 0;
        m->idle_since = now(CLOCK_MONOTONIC);
        m->idle_timer_at = m->idle_since + m->idle_timeout;
        return sd_event_add_time(m->event, &m->idle_timer, CLOCK_MONOTONIC, m->idle_timer_at, 0, on_idle, m);
}

/* ---- signals ---- */

static int on_drain_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        log_warning("%u request(s) still in flight after %" PRIu64 " s, exiting anyway.", m->n_requests,
                    DRAIN_USEC / USEC_PER_SEC);
        return sd_event_exit(m->event, 0);
}

static int on_terminate(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        Connection *c, *next;
        int r;

        if (m->draining || m->n_requests == 0)
                return sd_event_exit(m->event, 0); /* a second signal, or nothing to wait for */

        log_info("Stopping: letting %u request(s) in flight finish (at most %" PRIu64 " s).", m->n_requests,
                 DRAIN_USEC / USEC_PER_SEC);
        (void) sd_notify(false, "STOPPING=1");
        m->draining = true;
        manager_listeners_enable(m, false);
        for (c = m->connections; c; c = next) {
                next = c->next;
                if (c->state == CONN_IDLE)
                        connection_release(c); /* nothing owed to these */
        }
        r = sd_event_add_time(m->event, NULL, CLOCK_MONOTONIC, now(CLOCK_MONOTONIC) + DRAIN_USEC, 0,
                              on_drain_timeout, m);
        if (r < 0)
                return sd_event_exit(m->event, 0);
        manager_update_idle(m);
        return 0;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        log_info("Reloading the inference configuration (SIGHUP).");
        (void) sd_notify(false, "RELOADING=1");
        (void) manager_load_config(m);
        (void) sd_notify(false, "READY=1");
        return 0;
}

int manager_setup_event(Manager *m) {
        sigset_t ss;
        int r;

        /* Not sd_event_default(): a default loop checks with gettid() on every iteration that it runs in
         * its thread, one system call per event for a process that has one thread anyway. */
        r = sd_event_new(&m->event);
        if (r < 0)
                return r;
        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                return r;
        sigemptyset(&ss);
        sigaddset(&ss, SIGHUP);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return -errno;
        r = sd_event_add_signal(m->event, NULL, SIGTERM, on_terminate, m);
        if (r < 0)
                return r;
        r = sd_event_add_signal(m->event, NULL, SIGINT, on_terminate, m);
        if (r < 0)
                return r;
        return sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, m);
}

int manager_run(Manager *m) {
        int r;

        (void) sd_notify(false, "READY=1\nSTATUS=Answering inference requests.");
        r = sd_event_loop(m->event);
        (void) sd_notify(false, "STOPPING=1");
        return r;
}

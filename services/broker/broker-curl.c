/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <sys/epoll.h>

#include "broker-curl.h"
#include "broker-health.h"
#include "broker-request.h"
#include "broker-connection.h"
#include "log.h"

static void curl_check_done(Manager *m) {
        CURLMsg *msg;
        int left;

        while ((msg = curl_multi_info_read(m->multi, &left))) {
                Request *r = NULL;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                (void) curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &r);
                if (r)
                        request_finish(r, msg->data.result);
                else
                        probe_finish(m, msg->easy_handle, msg->data.result);
        }
}

/* The entry of a backend connection's socket, NULL for other sockets (a resolver's). */
static CurlSocket *curl_socket_find(Manager *m, curl_socket_t fd) {
        if (fd < 0 || (size_t) fd >= m->n_curl_sockets || m->curl_sockets[fd].state == CURL_SOCKET_UNKNOWN)
                return NULL;
        return &m->curl_sockets[fd];
}

/* libcurl opened a socket for a backend connection. */
static int curl_sockopt_cb(void *userp, curl_socket_t fd, curlsocktype purpose) {
        Manager *m = userp;

        if (purpose != CURLSOCKTYPE_IPCXN || fd < 0)
                return CURL_SOCKOPT_OK;
        if ((size_t) fd >= m->n_curl_sockets) {
                size_t n = MAX((size_t) fd + 1, m->n_curl_sockets * 2);
                CurlSocket *a = reallocarray(m->curl_sockets, n, sizeof(CurlSocket));

                if (!a)
                        return CURL_SOCKOPT_OK; /* left unknown: watched without parking */
                memset(a + m->n_curl_sockets, 0, (n - m->n_curl_sockets) * sizeof(CurlSocket));
                m->curl_sockets = a;
                m->n_curl_sockets = n;
        }
        /* Whatever the number meant before: that socket is closed, and out of the set with it. */
        m->curl_sockets[fd] = (CurlSocket) { .state = CURL_SOCKET_OPEN };
        return CURL_SOCKOPT_OK;
}

static int curl_closesocket_cb(void *userp, curl_socket_t fd) {
        Manager *m = userp;
        CurlSocket *s = curl_socket_find(m, fd);

        /* Closing it takes it out of the epoll set. */
        if (s)
                *s = (CurlSocket) {};
        return close(fd);
}

/* Backend sockets that are ready, taken in one go: sd-event dispatches one source per iteration and
 * calls epoll_wait() before each, which reports every level-triggered socket still waiting its turn
 * again. So libcurl's sockets live in an epoll set of their own, which is one source of the loop. */
#define CURL_EVENTS_BATCH 64

static int on_curl_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct epoll_event events[CURL_EVENTS_BATCH];
        Manager *m = userdata;
        int n, running;

        n = epoll_wait(m->curl_epoll_fd, events, ELEMENTSOF(events), 0);
        if (n < 0) {
                if (errno == EINTR || errno == EAGAIN)
                        return 0;
                return log_error_errno(errno, "Failed to wait for backend sockets: %m");
        }
        for (int i = 0; i < n; i++) {
                CurlSocket *cs = curl_socket_find(m, events[i].data.fd);
                int action = 0;

                if (cs && cs->state == CURL_SOCKET_PARKED) {
                        /* An idle connection has news, mostly that the backend closed it. libcurl finds
                         * out itself before it uses the connection again; here the socket must only
                         * stop being reported. */
                        (void) epoll_ctl(m->curl_epoll_fd, EPOLL_CTL_DEL, events[i].data.fd, NULL);
                        cs->state = CURL_SOCKET_OPEN;
                        continue;
                }
                if (events[i].events & EPOLLIN)
                        action |= CURL_CSELECT_IN;
                if (events[i].events & EPOLLOUT)
                        action |= CURL_CSELECT_OUT;
                if (events[i].events & (EPOLLERR | EPOLLHUP))
                        action |= CURL_CSELECT_ERR;
                (void) curl_multi_socket_action(m->multi, events[i].data.fd, action, &running);
        }
        curl_check_done(m);
        manager_flush_queued(m);
        return 0;
}

/* Runs libcurl's due work: new transfers, its timeouts. */
void manager_run_curl(Manager *m) {
        int running;

        m->curl_due = false;
        (void) sd_event_source_set_enabled(m->curl_now, SD_EVENT_OFF);
        (void) curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        curl_check_done(m);
        manager_flush_queued(m);
}

static int on_curl_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        manager_run_curl(userdata);
        return 0;
}

static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        Manager *m = userp;
        CurlSocket *s = curl_socket_find(m, fd);
        struct epoll_event ev = { .data.fd = fd };

        if (what == CURL_POLL_REMOVE) {
                if (s && s->state == CURL_SOCKET_WATCHED) {
                        s->state = CURL_SOCKET_PARKED; /* stays in the set: see CurlSocket */
                        return 0;
                }
                if (socketp) {
                        /* Fails harmlessly if libcurl closed the socket already (which removed it). */
                        (void) epoll_ctl(m->curl_epoll_fd, EPOLL_CTL_DEL, fd, NULL);
                        (void) curl_multi_assign(m->multi, fd, NULL);
                }
                return 0;
        }
        if (what & CURL_POLL_IN)
                ev.events |= EPOLLIN;
        if (what & CURL_POLL_OUT)
                ev.events |= EPOLLOUT;
        if (s) {
                int op = s->state == CURL_SOCKET_OPEN ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;

                if ((op == EPOLL_CTL_ADD || s->events != ev.events) && epoll_ctl(m->curl_epoll_fd, op, fd, &ev) < 0) {
                        log_error_errno(errno, "Failed to watch backend socket: %m");
                        return -1;
                }
                s->state = CURL_SOCKET_WATCHED;
                s->events = ev.events;
                return 0;
        }
        if (epoll_ctl(m->curl_epoll_fd, socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0) {
                log_error_errno(errno, "Failed to watch backend socket: %m");
                return -1;
        }
        /* Only a mark that the socket is in the set. */
        if (!socketp)
                (void) curl_multi_assign(m->multi, fd, m);
        return 0;
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp) {
        Manager *m = userp;

        (void) sd_event_source_set_enabled(m->curl_now, SD_EVENT_OFF);
        m->curl_due = false;
        if (timeout_ms < 0) {
                (void) sd_event_source_set_enabled(m->curl_timer, SD_EVENT_OFF);
                return 0;
        }
        /* "At once" (every new transfer) runs from a deferred source on the next loop iteration (curl
         * must not be re-entered from its own callback), without reprogramming the timerfd. */
        if (timeout_ms == 0) {
                (void) sd_event_source_set_enabled(m->curl_timer, SD_EVENT_OFF);
                (void) sd_event_source_set_enabled(m->curl_now, SD_EVENT_ONESHOT);
                m->curl_due = true;
                return 0;
        }
        (void) sd_event_source_set_time(m->curl_timer, now(CLOCK_MONOTONIC) + (usec_t) timeout_ms * USEC_PER_MSEC);
        (void) sd_event_source_set_enabled(m->curl_timer, SD_EVENT_ONESHOT);
        return 0;
}

static int on_curl_now(sd_event_source *s, void *userdata) {
        return on_curl_timer(NULL, 0, userdata);
}

CURL *manager_easy_get(Manager *m) {
        return m->n_easy_pool > 0 ? m->easy_pool[--m->n_easy_pool] : curl_easy_init();
}

void manager_easy_put(Manager *m, CURL *easy) {
        if (m->n_easy_pool < EASY_POOL_MAX) {
                curl_easy_reset(easy);
                m->easy_pool[m->n_easy_pool++] = easy;
        } else
                curl_easy_cleanup(easy);
}

void manager_easy_setup(Manager *m, CURL *easy, const char *url) {
        (void) curl_easy_setopt(easy, CURLOPT_URL, url);
        (void) curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        (void) curl_easy_setopt(easy, CURLOPT_SOCKOPTFUNCTION, curl_sockopt_cb);
        (void) curl_easy_setopt(easy, CURLOPT_SOCKOPTDATA, m);
        (void) curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, curl_closesocket_cb);
        (void) curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, m);
        (void) curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
        (void) curl_easy_setopt(easy, CURLOPT_PROXY, "");
}

int manager_setup_curl(Manager *m) {
        int r;

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return -EIO;
        m->curl_initialized = true;

        m->multi = curl_multi_init();
        if (!m->multi)
                return -ENOMEM;
        m->curl_epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (m->curl_epoll_fd < 0)
                return -errno;
        r = sd_event_add_io(m->event, &m->curl_io, m->curl_epoll_fd, EPOLLIN, on_curl_io, m);
        if (r < 0)
                return r;
        (void) curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
        (void) curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
        (void) curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
        (void) curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
        /* Backend connections are kept alive for the next request. curl's default cache holds four per
         * transfer in progress, so when the load drops it closes connections that the next burst has to
         * open again (a connect and a slow start per request under a fluctuating load): allow one per
         * client connection, the most requests that can be in flight at once. Idle ones still expire
         * (CURLOPT_MAXAGE_CONN). */
        (void) curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, (long) m->max_connections);
        /* 1 ms accuracy: curl's own timeouts (connect phases, retries) need no better, and sd-event's
         * default slack (250 ms) would be too coarse. */
        r = sd_event_add_time(m->event, &m->curl_timer, CLOCK_MONOTONIC, 0, USEC_PER_MSEC, on_curl_timer, m);
        if (r < 0)
                return r;
        r = sd_event_source_set_enabled(m->curl_timer, SD_EVENT_OFF);
        if (r < 0)
                return r;
        r = sd_event_add_defer(m->event, &m->curl_now, on_curl_now, m);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(m->curl_now, SD_EVENT_OFF);
}

void manager_done_curl(Manager *m) {
        while (m->n_easy_pool > 0)
                curl_easy_cleanup(m->easy_pool[--m->n_easy_pool]);
        if (m->multi)
                m->multi = (curl_multi_cleanup(m->multi), NULL);
        m->curl_io = sd_event_source_disable_unref(m->curl_io);
        m->curl_epoll_fd = safe_close(m->curl_epoll_fd);
        m->curl_sockets = mfree(m->curl_sockets);
        m->curl_timer = sd_event_source_disable_unref(m->curl_timer);
        m->curl_now = sd_event_source_disable_unref(m->curl_now);
        if (m->curl_initialized)
                curl_global_cleanup();
        m->curl_initialized = false;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* loadgen: the two measurements wrk cannot make, for bench/broker/run.
 *
 *   loadgen ttft HOST PORT N JSON-BODY
 *       N streamed chat completions one after the other, each on a new connection; prints the
 *       time-to-first-token distribution (from connect() to the first byte of the first non-empty
 *       "content" delta) as "ttft_us p50=.. p90=.. p99=.. n=..".
 *   loadgen hold HOST PORT N JSON-BODY
 *       opens N streams at once and reads them; prints "streaming N" when every one has received
 *       its first token, then keeps reading until all end or it is killed; prints "done N".
 *
 * One thread, epoll, loopback TCP only. A benchmark tool: it prints numbers, it asserts nothing. */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FIRST_TOKEN "\"content\":\"Hello"

static uint64_t now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static int connect_to(const char *host, int port, bool nonblock) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        int one = 1, fd;

        if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
                return -EINVAL;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0 && errno != EINPROGRESS) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* The Host header picks the broker's route; LOADGEN_HOST overrides the default. */
static char *build_request(const char *body, bool keep_alive) {
        const char *host = secure_getenv("LOADGEN_HOST");
        char *req;
        if (asprintf(&req,
                     "POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n%s\r\n%s",
                     host ? host : "inference.local", strlen(body),
                     keep_alive ? "" : "Connection: close\r\n", body) < 0)
                return NULL;
        return req;
}

static int send_all(int fd, const char *s, size_t n) {
        while (n > 0) {
                ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                s += k;
                n -= (size_t) k;
        }
        return 0;
}

static int run_ttft(const char *host, int port, int n, const char *body) {
        uint64_t *t = calloc((size_t) n, sizeof(uint64_t));
        char *req = build_request(body, false);
        int ok = 0;

        if (!t || !req)
                return 1;
        for (int i = 0; i < n; i++) {
                char buf[65536];
                size_t have = 0;
                uint64_t t0 = now_us(), t1 = 0;
                int fd = connect_to(host, port, false);

                if (fd < 0 || send_all(fd, req, strlen(req)) < 0) {
                        fprintf(stderr, "loadgen: request %d failed: %s\n", i,
                                strerror(fd < 0 ? -fd : errno));
                        if (fd >= 0)
                                close(fd);
                        continue;
                }
                for (;;) {
                        ssize_t k = recv(fd, buf + have, sizeof buf - 1 - have, 0);
                        if (k <= 0)
                                break;
                        have += (size_t) k;
                        buf[have] = 0;
                        if (!t1 && strstr(buf, FIRST_TOKEN))
                                t1 = now_us();
                        if (have > sizeof buf / 2) { /* keep the tail only: the token may straddle */
                                memmove(buf, buf + have - 256, 256);
                                have = 256;
                        }
                }
                close(fd);
                if (t1)
                        t[ok++] = t1 - t0;
        }
        if (ok == 0) {
                fprintf(stderr, "loadgen: no stream delivered a token\n");
                return 1;
        }
        qsort(t, (size_t) ok, sizeof(uint64_t), cmp_u64);
        printf("ttft_us p50=%llu p90=%llu p99=%llu n=%d\n", (unsigned long long) t[ok / 2],
               (unsigned long long) t[(ok * 90) / 100], (unsigned long long) t[(ok * 99) / 100], ok);
        free(t);
        free(req);
        return 0;
}

typedef struct Stream {
        int fd;
        bool sent, first, done;
        char tail[64];
} Stream;

static int run_hold(const char *host, int port, int n, const char *body) {
        Stream *s = calloc((size_t) n, sizeof(Stream));
        char *req = build_request(body, false);
        int ep = epoll_create1(EPOLL_CLOEXEC), n_first = 0, n_done = 0;
        uint64_t t0 = now_us();
        bool announced = false;
        struct rlimit rl;

        if (!s || !req || ep < 0)
                return 1;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        for (int i = 0; i < n; i++) {
                struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t) i };
                s[i].fd = connect_to(host, port, true);
                if (s[i].fd < 0) {
                        fprintf(stderr, "loadgen: connection %d: %s\n", i, strerror(-s[i].fd));
                        return 1;
                }
                if (epoll_ctl(ep, EPOLL_CTL_ADD, s[i].fd, &ev) < 0)
                        return 1;
        }
        while (n_done < n) {
                struct epoll_event evs[256];
                int k = epoll_wait(ep, evs, 256, 1000);

                if (!announced && now_us() - t0 > 60 * 1000000ULL) {
                        fprintf(stderr, "loadgen: only %d of %d streams got a token within 60 s\n", n_first,
                                n);
                        return 1;
                }
                for (int j = 0; j < k; j++) {
                        Stream *st = &s[evs[j].data.u32];
                        char buf[16384 + 64];
                        ssize_t r;

                        if (!st->sent && (evs[j].events & EPOLLOUT)) {
                                struct epoll_event ev = { .events = EPOLLIN, .data.u32 = evs[j].data.u32 };
                                if (send_all(st->fd, req, strlen(req)) < 0) {
                                        fprintf(stderr, "loadgen: send: %s\n", strerror(errno));
                                        return 1;
                                }
                                st->sent = true;
                                (void) epoll_ctl(ep, EPOLL_CTL_MOD, st->fd, &ev);
                                continue;
                        }
                        size_t tl = strlen(st->tail);
                        memcpy(buf, st->tail, tl);
                        r = recv(st->fd, buf + tl, sizeof buf - 1 - tl, MSG_DONTWAIT);
                        if (r < 0 && (errno == EAGAIN || errno == EINTR))
                                continue;
                        if (r <= 0) {
                                (void) epoll_ctl(ep, EPOLL_CTL_DEL, st->fd, NULL);
                                close(st->fd);
                                st->done = true;
                                n_done++;
                                if (!st->first) {
                                        fprintf(stderr, "loadgen: a stream ended before its first token\n");
                                        return 1;
                                }
                                continue;
                        }
                        buf[tl + (size_t) r] = 0;
                        if (!st->first && strstr(buf, FIRST_TOKEN)) {
                                st->first = true;
                                n_first++;
                        }
                        tl += (size_t) r;
                        size_t keep = tl < sizeof st->tail - 1 ? tl : sizeof st->tail - 1;
                        memcpy(st->tail, buf + tl - keep, keep);
                        st->tail[keep] = 0;
                }
                if (!announced && n_first == n) {
                        printf("streaming %d after %llu ms\n", n,
                               (unsigned long long) (now_us() - t0) / 1000);
                        fflush(stdout);
                        announced = true;
                }
        }
        printf("done %d\n", n);
        free(s);
        free(req);
        return 0;
}

int main(int argc, char *argv[]) {
        if (argc != 6) {
                fprintf(stderr, "usage: loadgen ttft|hold HOST PORT N JSON-BODY\n");
                return 2;
        }
        if (strcmp(argv[1], "ttft") == 0)
                return run_ttft(argv[2], atoi(argv[3]), atoi(argv[4]), argv[5]);
        if (strcmp(argv[1], "hold") == 0)
                return run_hold(argv[2], atoi(argv[3]), atoi(argv[4]), argv[5]);
        fprintf(stderr, "loadgen: unknown mode '%s'\n", argv[1]);
        return 2;
}

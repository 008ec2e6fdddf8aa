/* SPDX-License-Identifier: Apache-2.0 */
/* Load generator and servers of bench/egress/run (compiled into the run's temporary directory).
 *
 *   egressgen serve ADDR SOURCE_PORT ECHO_PORT      source: reads "N\n", sends N bytes, closes;
 *                                                    echo: sends back what it reads (epoll, many clients)
 *   egressgen identify PATH                         a fake identification service (SOCK_SEQPACKET):
 *                                                    every client is /usr/bin/curl, child of /usr/bin/bash
 *   egressgen bulk PROXY_PORT|- HOST PORT BYTES     one download of BYTES from the source, through the
 *                                                    proxy at 127.0.0.1:PROXY_PORT (CONNECT) or direct;
 *                                                    prints "bytes=N seconds=S"
 *   egressgen latency PROXY_PORT|- HOST PORT N STATUS
 *                                                    N connections one after the other; each timed from
 *                                                    connect() to the first echoed byte (STATUS 200) or
 *                                                    to the proxy's answer head (any other STATUS, which
 *                                                    it must be); prints "p50=US p99=US"
 *   egressgen hold PROXY_PORT|- HOST PORT N         N concurrent tunnels to the echo server, each checked
 *                                                    with an echo; prints "holding N", then waits for
 *                                                    end of input, checks each again, prints "ok N"
 *
 * For the integration tests (installed there as openshell-egressgen; ADDR and HOST may be IPv6):
 *   egressgen try PROXY_PORT HOST PORT              one CONNECT HOST:PORT through 127.0.0.1:PROXY_PORT:
 *                                                    "200 echo ok" (the tunnel echoed a message) or the
 *                                                    status and the proxy's body, e.g. "403 {...}"
 *   egressgen udp ADDR PORT | icmp ADDR             a UDP datagram, an ICMP echo request (ping socket):
 *                                                    "ok" or "denied: ENAME: message"
 *
 * Measures and prints; asserts nothing about time. Exit 1 on a protocol error. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BUF (1024 * 1024)

static void die(const char *what) {
        perror(what);
        exit(1);
}

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

typedef union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
} SockAddr;

/* ADDR:PORT, IPv4 or IPv6 (without brackets); returns the length, or dies. */
static socklen_t sockaddr_make(const char *addr, int port, SockAddr *ret) {
        memset(ret, 0, sizeof *ret);
        if (strchr(addr, ':')) {
                ret->in6.sin6_family = AF_INET6;
                ret->in6.sin6_port = htons(port);
                if (inet_pton(AF_INET6, addr, &ret->in6.sin6_addr) != 1)
                        die("inet_pton");
                return sizeof ret->in6;
        }
        ret->in.sin_family = AF_INET;
        ret->in.sin_port = htons(port);
        if (inet_pton(AF_INET, addr, &ret->in.sin_addr) != 1)
                die("inet_pton");
        return sizeof ret->in;
}

static int listen_on(const char *addr, int port) {
        SockAddr sa;
        socklen_t len = sockaddr_make(addr, port, &sa);
        int one = 1, fd = socket(sa.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                die("socket");
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, &sa.sa, len) < 0 || listen(fd, 4096) < 0)
                die("bind/listen");
        return fd;
}

static void *source_conn(void *arg) {
        int fd = (int) (intptr_t) arg;
        char line[64] = {};
        size_t n = 0;
        static char buf[BUF];

        while (n < sizeof line - 1) {
                ssize_t k = read(fd, line + n, 1);
                if (k <= 0)
                        goto done;
                if (line[n++] == '\n')
                        break;
        }
        for (unsigned long long left = strtoull(line, NULL, 10); left > 0;) {
                ssize_t k = write(fd, buf, left < BUF ? left : BUF);
                if (k <= 0)
                        goto done;
                left -= k;
        }
done:
        close(fd);
        return NULL;
}

static void *source_loop(void *arg) {
        int lfd = (int) (intptr_t) arg;
        for (;;) {
                pthread_t t;
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                        continue;
                if (pthread_create(&t, NULL, source_conn, (void *) (intptr_t) fd) != 0)
                        close(fd);
                else
                        pthread_detach(t);
        }
        return NULL;
}

static _Noreturn void cmd_serve(const char *addr, int source_port, int echo_port) {
        int sfd = listen_on(addr, source_port), efd = listen_on(addr, echo_port), ep = epoll_create1(0);
        struct epoll_event ev = { .events = EPOLLIN, .data.fd = efd };
        static char buf[65536];
        pthread_t t;

        if (pthread_create(&t, NULL, source_loop, (void *) (intptr_t) sfd) != 0)
                die("pthread_create");
        if (epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) < 0)
                die("epoll_ctl");
        printf("ready\n");
        fflush(stdout);
        for (;;) {
                struct epoll_event evs[256];
                int n = epoll_wait(ep, evs, 256, -1);
                for (int i = 0; i < n; i++) {
                        int fd = evs[i].data.fd;
                        if (fd == efd) {
                                int c = accept4(efd, NULL, NULL, SOCK_CLOEXEC);
                                if (c >= 0) {
                                        struct epoll_event cev = { .events = EPOLLIN, .data.fd = c };
                                        int one = 1;
                                        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                                        epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                                }
                                continue;
                        }
                        /* small echoes: a blocking write of what was read is fine here */
                        ssize_t k = read(fd, buf, sizeof buf);
                        if (k <= 0 || write(fd, buf, k) != k) {
                                epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                                close(fd);
                        }
                }
        }
}

static _Noreturn void cmd_identify(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        static const char reply[] = "OK 4242 /usr/bin/curl /usr/bin/bash\n";

        strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(fd, 4096) < 0)
                die("identify socket");
        printf("ready\n");
        fflush(stdout);
        for (;;) {
                char req[256];
                int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0)
                        continue;
                if (recv(c, req, sizeof req, 0) > 0)
                        (void) send(c, reply, sizeof reply - 1, MSG_NOSIGNAL);
                close(c);
        }
}

static int dial(const char *host, int port) {
        SockAddr sa;
        socklen_t len = sockaddr_make(host, port, &sa);
        int one = 1, fd = socket(sa.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                die("socket");
        if (connect(fd, &sa.sa, len) < 0)
                die("connect");
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return fd;
}

/* Reads the proxy's answer head (byte by byte: nothing after it is consumed); returns its status. The
 * head is left in HEAD if not NULL (16 KiB). */
static int read_head_into(int fd, char *head) {
        size_t n = 0;

        while (n < 16384 - 1) {
                ssize_t k = read(fd, head + n, 1);
                if (k <= 0)
                        break;
                n++;
                if (n >= 4 && memcmp(head + n - 4, "\r\n\r\n", 4) == 0)
                        break;
        }
        head[n] = 0;
        if (strncmp(head, "HTTP/1.", 7) != 0 || n < 12)
                return -1;
        return atoi(head + 9);
}

static int read_head(int fd) {
        static char head[16384];
        return read_head_into(fd, head);
}

/* A connection to HOST:PORT, through the proxy if PROXY is not "-"; returns the status (200 direct). */
static int open_tunnel(const char *proxy, const char *host, int port, int *ret_fd) {
        char req[256];
        int fd, st, len;

        if (strcmp(proxy, "-") == 0) {
                *ret_fd = dial(host, port);
                return 200;
        }
        fd = dial("127.0.0.1", atoi(proxy));
        const char *l = strchr(host, ':') ? "[" : "", *r = *l ? "]" : "";
        len = snprintf(req, sizeof req, "CONNECT %s%s%s:%d HTTP/1.1\r\nHost: %s%s%s:%d\r\n\r\n", l, host, r,
                       port, l, host, r, port);
        if (write(fd, req, len) != len)
                die("write CONNECT");
        st = read_head(fd);
        *ret_fd = fd;
        return st;
}

static int cmd_bulk(const char *proxy, const char *host, int port, unsigned long long bytes) {
        static char buf[BUF];
        unsigned long long got = 0;
        char line[64];
        uint64_t t0 = now_ns();
        int fd, len;

        if (open_tunnel(proxy, host, port, &fd) != 200) {
                fprintf(stderr, "bulk: the proxy refused the tunnel\n");
                return 1;
        }
        len = snprintf(line, sizeof line, "%llu\n", bytes);
        if (write(fd, line, len) != len)
                die("write");
        for (;;) {
                ssize_t k = read(fd, buf, sizeof buf);
                if (k < 0)
                        die("read");
                if (k == 0)
                        break;
                got += k;
        }
        double s = (now_ns() - t0) / 1e9;
        close(fd);
        if (got != bytes) {
                fprintf(stderr, "bulk: got %llu of %llu bytes\n", got, bytes);
                return 1;
        }
        printf("bytes=%llu seconds=%.6f\n", got, s);
        return 0;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static int cmd_latency(const char *proxy, const char *host, int port, int n, int want) {
        uint64_t *t = calloc(n, sizeof *t);

        if (!t)
                die("calloc");
        for (int i = 0; i < n; i++) {
                uint64_t t0 = now_ns();
                int fd, st = open_tunnel(proxy, host, port, &fd);
                char c = 'x';

                if (st != want) {
                        fprintf(stderr, "latency: status %d, expected %d\n", st, want);
                        return 1;
                }
                if (want == 200 && (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1 || c != 'x')) {
                        fprintf(stderr, "latency: no echo\n");
                        return 1;
                }
                t[i] = now_ns() - t0;
                close(fd);
        }
        qsort(t, n, sizeof *t, cmp_u64);
        printf("p50=%.1f p99=%.1f\n", t[n / 2] / 1e3, t[(n * 99) / 100] / 1e3);
        return 0;
}

static int echo_check(int fd, int i) {
        char msg[32], back[32];
        int len = snprintf(msg, sizeof msg, "ping-%d;", i), got = 0;

        if (write(fd, msg, len) != len)
                return -1;
        while (got < len) {
                ssize_t k = read(fd, back + got, len - got);
                if (k <= 0)
                        return -1;
                got += k;
        }
        return memcmp(msg, back, len) == 0 ? 0 : -1;
}

static int cmd_hold(const char *proxy, const char *host, int port, int n) {
        int *fds = calloc(n, sizeof *fds);
        struct rlimit rl;
        char c;

        if (!fds)
                die("calloc");
        /* one descriptor per tunnel: up to the hard limit */
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        for (int i = 0; i < n; i++) {
                int st = open_tunnel(proxy, host, port, &fds[i]);
                if (st != 200 || echo_check(fds[i], i) < 0) {
                        fprintf(stderr, "hold: tunnel %d failed (status %d)\n", i, st);
                        return 1;
                }
        }
        printf("holding %d\n", n);
        fflush(stdout);
        while (read(STDIN_FILENO, &c, 1) > 0)
                ;
        for (int i = 0; i < n; i++)
                if (echo_check(fds[i], i) < 0) {
                        fprintf(stderr, "hold: tunnel %d broke while held\n", i);
                        return 1;
                }
        printf("ok %d\n", n);
        return 0;
}

static int cmd_try(const char *proxy, const char *host, int port) {
        static char head[16384], body[16384];
        char req[512];
        const char *l = strchr(host, ':') ? "[" : "", *r = *l ? "]" : "";
        int fd = dial("127.0.0.1", atoi(proxy)), st, len;
        size_t n = 0;

        len = snprintf(req, sizeof req, "CONNECT %s%s%s:%d HTTP/1.1\r\nHost: %s%s%s:%d\r\n\r\n", l, host, r,
                       port, l, host, r, port);
        if (write(fd, req, len) != len)
                die("write CONNECT");
        st = read_head_into(fd, head);
        if (st == 200) {
                printf("200 %s\n", echo_check(fd, 0) == 0 ? "echo ok" : "no echo");
                return 0;
        }
        /* an answer of the proxy: its body, up to the close */
        for (;;) {
                ssize_t k = read(fd, body + n, sizeof body - 1 - n);
                if (k <= 0)
                        break;
                n += k;
        }
        body[n] = 0;
        printf("%d %s\n", st, body);
        return 0;
}

static int report(int r) {
        if (r >= 0) {
                puts("ok");
                return 0;
        }
        printf("denied: %s: %s\n", strerrorname_np(errno) ?: "?", strerror(errno));
        return 1;
}

static int cmd_datagram(const char *addr, int port, bool icmp) {
        struct icmphdr {
                uint8_t type, code;
                uint16_t sum, id, seq;
        } ping = { .type = 8 };
        SockAddr sa;
        socklen_t len = sockaddr_make(addr, port, &sa);
        int fd = socket(sa.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, icmp ? IPPROTO_ICMP : 0);

        if (fd < 0)
                return report(fd);
        return report((int) sendto(fd, &ping, sizeof ping, 0, &sa.sa, len));
}

int main(int argc, char **argv) {
        signal(SIGPIPE, SIG_IGN);
        if (argc == 5 && strcmp(argv[1], "serve") == 0)
                cmd_serve(argv[2], atoi(argv[3]), atoi(argv[4]));
        if (argc == 3 && strcmp(argv[1], "identify") == 0)
                cmd_identify(argv[2]);
        if (argc == 6 && strcmp(argv[1], "bulk") == 0)
                return cmd_bulk(argv[2], argv[3], atoi(argv[4]), strtoull(argv[5], NULL, 10));
        if (argc == 7 && strcmp(argv[1], "latency") == 0)
                return cmd_latency(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
        if (argc == 6 && strcmp(argv[1], "hold") == 0)
                return cmd_hold(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]));
        if (argc == 5 && strcmp(argv[1], "try") == 0)
                return cmd_try(argv[2], argv[3], atoi(argv[4]));
        if (argc == 4 && strcmp(argv[1], "udp") == 0)
                return cmd_datagram(argv[2], atoi(argv[3]), false);
        if (argc == 3 && strcmp(argv[1], "icmp") == 0)
                return cmd_datagram(argv[2], 0, true);
        fprintf(stderr, "usage: see the comment at the top of egressgen.c\n");
        return 2;
}

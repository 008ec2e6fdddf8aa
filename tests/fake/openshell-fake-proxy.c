/* SPDX-License-Identifier: Apache-2.0 */
/* openshell-fake-proxy: a stand-in for openshell-proxy in integration tests, run as the ExecStart= of
 * openshell-proxy@NAME.service (a drop-in) to prove the plumbing around the proxy: it takes the
 * listening sockets systemd bound inside the sandbox's namespace, says READY=1, and for each
 * connection asks the supervisor's identify socket who the client is and sends the answer line back
 * to the client ("OK <pid> <exe> ..." or "ERR <reason>"), then closes. Accepts the real proxy's
 * options (--sandbox, --policy, --identify-socket, --tls-ca-cert, --tls-ca-key, --broker-socket,
 * --max-connections, the last ignored);
 * --policy, and the CA's certificate and key when given, must name readable files (it says how many
 * bytes each has, for the tests to compare). One connection
 * at a time, blocking: a test tool, not a proxy. With --ask REQUEST it sends that request (a newline
 * is added), prints the answer and exits. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

static int ask(const char *path, const char *request, char *reply, size_t size) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        ssize_t n;
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path))
                return snprintf(reply, size, "FAKE-PROXY socket path too long\n"), -1;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            send(fd, request, strlen(request), MSG_NOSIGNAL) < 0 || (n = recv(fd, reply, size - 1, 0)) <= 0) {
                snprintf(reply, size, "FAKE-PROXY identify failed: %s\n", strerror(errno));
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        reply[n] = 0;
        close(fd);
        return 0;
}

static void serve(int listen_fd, const char *identify) {
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } peer = {};
        socklen_t len = sizeof(peer);
        char address[INET6_ADDRSTRLEN] = "", request[128], reply[65536];
        unsigned port = 0;
        int fd;

        fd = accept4(listen_fd, &peer.sa, &len, SOCK_CLOEXEC);
        if (fd < 0)
                return;
        if (peer.sa.sa_family == AF_INET) {
                inet_ntop(AF_INET, &peer.in.sin_addr, address, sizeof(address));
                port = ntohs(peer.in.sin_port);
        } else {
                inet_ntop(AF_INET6, &peer.in6.sin6_addr, address, sizeof(address));
                port = ntohs(peer.in6.sin6_port);
        }
        snprintf(request, sizeof(request), "IDENTIFY %c %s %u\n", peer.sa.sa_family == AF_INET ? '4' : '6',
                 address, port);
        (void) ask(identify, request, reply, sizeof(reply));
        fprintf(stderr, "%.*s -> %s", (int) strcspn(request, "\n"), request, reply);
        (void) send(fd, reply, strlen(reply), MSG_NOSIGNAL);
        close(fd);
}

/* The size of FILE if this process can read it, else -1 with errno set. */
static long readable_size(const char *path) {
        char buf[4096];
        long size = 0;
        ssize_t n;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                size += n;
        close(fd);
        return n < 0 ? -1 : size;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "sandbox", required_argument, NULL, 's' },
                { "policy", required_argument, NULL, 'p' },
                { "identify-socket", required_argument, NULL, 'i' },
                { "ask", required_argument, NULL, 'a' },
                { "tls-ca-cert", required_argument, NULL, 'c' },
                { "tls-ca-key", required_argument, NULL, 'k' },
                { "broker-socket", required_argument, NULL, 'b' },
                { "max-connections", required_argument, NULL, 'm' },
                {},
        };
        const char *identify = NULL, *policy = NULL, *request = NULL, *ca_cert = NULL, *ca_key = NULL,
                   *broker = NULL;
        struct pollfd fds[8];
        int n, c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 's':
                case 'm':
                        break;
                case 'p':
                        policy = optarg;
                        break;
                case 'i':
                        identify = optarg;
                        break;
                case 'a':
                        request = optarg;
                        break;
                case 'c':
                        ca_cert = optarg;
                        break;
                case 'k':
                        ca_key = optarg;
                        break;
                case 'b':
                        broker = optarg;
                        break;
                default:
                        return 2;
                }
        if (identify && request) {
                char line[256], reply[65536];
                int r;

                snprintf(line, sizeof(line), "%s\n", request);
                r = ask(identify, line, reply, sizeof(reply));
                fputs(reply, stdout);
                return r < 0;
        }
        if (!identify || !policy) {
                fprintf(stderr, "usage: openshell-fake-proxy --sandbox NAME --policy FILE --identify-socket PATH\n");
                return 2;
        }
        if (access(policy, R_OK) < 0) {
                fprintf(stderr, "cannot read the policy %s: %s\n", policy, strerror(errno));
                return 1;
        }
        if (!ca_cert != !ca_key) {
                fprintf(stderr, "--tls-ca-cert and --tls-ca-key go together\n");
                return 2;
        }
        if (ca_cert) {
                long cert_size = readable_size(ca_cert), key_size;

                if (cert_size < 0) {
                        fprintf(stderr, "cannot read the CA certificate %s: %s\n", ca_cert, strerror(errno));
                        return 1;
                }
                key_size = readable_size(ca_key);
                if (key_size < 0) {
                        fprintf(stderr, "cannot read the CA key %s: %s\n", ca_key, strerror(errno));
                        return 1;
                }
                fprintf(stderr, "fake proxy TLS: CA certificate %ld bytes, CA key %ld bytes\n", cert_size,
                        key_size);
        }
        if (broker)
                fprintf(stderr, "fake proxy broker socket %s: %s\n", broker,
                        access(broker, F_OK) == 0 ? "present" : "absent");
        n = sd_listen_fds(true);
        if (n <= 0 || n > (int) (sizeof(fds) / sizeof(fds[0]))) {
                fprintf(stderr, "expected listening sockets from systemd, got %d\n", n);
                return 1;
        }
        for (int i = 0; i < n; i++)
                fds[i] = (struct pollfd) { .fd = SD_LISTEN_FDS_START + i, .events = POLLIN };
        fprintf(stderr, "fake proxy ready: %d sockets, policy %s\n", n, policy);
        (void) sd_notify(false, "READY=1");
        for (;;) {
                if (poll(fds, (nfds_t) n, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return 1;
                }
                for (int i = 0; i < n; i++)
                        if (fds[i].revents & POLLIN)
                                serve(fds[i].fd, identify);
        }
}

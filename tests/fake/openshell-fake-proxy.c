/* SPDX-License-Identifier: Apache-2.0 */
/* openshell-fake-proxy: a stand-in for openshell-proxy in integration tests, run as the ExecStart= of
 * openshell-proxy@NAME.service (a drop-in) to prove the plumbing around the proxy: it takes the
 * listening sockets systemd bound inside the sandbox's namespace, says READY=1, and for each
 * connection asks the supervisor's identify socket who the client is and sends the answer line back
 * to the client ("OK <pid> <exe> ..." or "ERR <reason>"), then closes. Accepts the real proxy's
 * options (--sandbox, --policy, --identify-socket); --policy must name a readable file. One connection
 * at a time, blocking: a test tool, not a proxy. With --ask REQUEST it sends that request (a newline
 * is added), prints the answer and exits. */

#include <arpa/inet.h>
#include <errno.h>
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

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "sandbox", required_argument, NULL, 's' },
                { "policy", required_argument, NULL, 'p' },
                { "identify-socket", required_argument, NULL, 'i' },
                { "ask", required_argument, NULL, 'a' },
                {},
        };
        const char *identify = NULL, *policy = NULL, *request = NULL;
        struct pollfd fds[8];
        int n, c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 's':
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

/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <endian.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check-util.h"
#include "fileio.h"
#include "fs-util.h"
#include "sandbox-identify.h"
#include "sandbox-netns.h"
#include "string-util.h"

static IdentifyRequest parse_ok(const char *s) {
        IdentifyRequest r;

        ck_assert_msg(identify_request_parse(s, strlen(s), &r) == 0, "refused: %s", s);
        return r;
}

START_TEST(test_request_parse) {
        IdentifyRequest r = parse_ok("IDENTIFY 4 127.0.0.1 41394\n"), before;
        char addr[INET6_ADDRSTRLEN];

        ck_assert_int_eq(r.family, AF_INET);
        ck_assert_str_eq(inet_ntop(AF_INET, &r.address.in, addr, sizeof(addr)), "127.0.0.1");
        ck_assert_uint_eq(r.port, 41394);
        r = parse_ok("IDENTIFY 6 ::1 1\n");
        ck_assert_int_eq(r.family, AF_INET6);
        ck_assert_str_eq(inet_ntop(AF_INET6, &r.address.in6, addr, sizeof(addr)), "::1");
        ck_assert_uint_eq(r.port, 1);
        r = parse_ok("IDENTIFY 6 ::ffff:127.0.0.1 65535\n");
        ck_assert_uint_eq(r.port, 65535);

        static const char *const bad[] = {
                "",
                "IDENTIFY 4 127.0.0.1 41394",          /* no newline */
                "IDENTIFY 4 127.0.0.1 41394\n\n",      /* something after it */
                "IDENTIFY 4 127.0.0.1 41394\nX",
                "identify 4 127.0.0.1 41394\n",
                "IDENTIFY  4 127.0.0.1 41394\n",
                "IDENTIFY 4  127.0.0.1 41394\n",
                "IDENTIFY 4 127.0.0.1  41394\n",
                "IDENTIFY 4 127.0.0.1 41394 \n",
                "IDENTIFY 4 127.0.0.1 41394 7\n",
                "IDENTIFY\t4 127.0.0.1 41394\n",
                "IDENTIFY 5 127.0.0.1 41394\n",
                "IDENTIFY 46 127.0.0.1 41394\n",
                "IDENTIFY 4 ::1 41394\n",              /* family and address disagree */
                "IDENTIFY 6 127.0.0.1 41394\n",
                "IDENTIFY 4 127.0.0.256 41394\n",
                "IDENTIFY 4 127.1 41394\n",
                "IDENTIFY 4 localhost 41394\n",
                "IDENTIFY 6 fe80::1%lo 41394\n",
                "IDENTIFY 4 127.0.0.1 0\n",
                "IDENTIFY 4 127.0.0.1 65536\n",
                "IDENTIFY 4 127.0.0.1 041394\n",
                "IDENTIFY 4 127.0.0.1 +41394\n",
                "IDENTIFY 4 127.0.0.1 -1\n",
                "IDENTIFY 4 127.0.0.1 0x10\n",
                "IDENTIFY 4 127.0.0.1\n",
                "IDENTIFY 4\n",
                "IDENTIFY \n",
        };
        memset(&before, 0x5a, sizeof(before));
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                r = before;
                ck_assert_msg(identify_request_parse(bad[i], strlen(bad[i]), &r) == -EBADMSG, "accepted: '%s'", bad[i]);
                ck_assert_msg(memcmp(&r, &before, sizeof(r)) == 0, "output written for '%s'", bad[i]);
        }

        /* NUL inside, and sizes beyond the bound. */
        ck_assert_int_eq(identify_request_parse("IDENTIFY 4 127.0.0.1\0 1\n", 24, &r), -EBADMSG);
        {
                char big[IDENTIFY_REQUEST_MAX + 2];
                memset(big, '1', sizeof(big));
                memcpy(big, "IDENTIFY 4 127.0.0.1 ", 21);
                big[sizeof(big) - 1] = '\n';
                ck_assert_int_eq(identify_request_parse(big, sizeof(big), &r), -EBADMSG);
                ck_assert_int_eq(identify_request_parse(big, SIZE_MAX, &r), -EBADMSG);
        }
}
END_TEST

static char *fixture(const char *name) {
        _cleanup_free_ char *path = NULL;
        char *text;

        ck_assert_int_ge(asprintf_safe(&path, "%s/tests/data/proc/%s", test_source_root(), name), 0);
        ck_assert_int_eq(read_full_file(path, 1 << 20, &text, NULL), 0);
        return text;
}

static int find(const char *table, bool v6, const char *request, uint64_t *ret) {
        IdentifyRequest r = parse_ok(request);

        return proc_net_tcp_find_inode(table, v6, &r, 3128, ret);
}

START_TEST(test_proc_net_tcp) {
#if __BYTE_ORDER == __LITTLE_ENDIAN
        _cleanup_free_ char *tcp = fixture("tcp"), *tcp6 = fixture("tcp6");
        uint64_t inode = 1;

        ck_assert_int_eq(find(tcp, false, "IDENTIFY 4 127.0.0.1 41394\n", &inode), 0);
        ck_assert_uint_eq(inode, 4242); /* the client's end, not the proxy's (4243) */
        /* CLOSE_WAIT still counts (the server side closed first). */
        ck_assert_int_eq(find(tcp, false, "IDENTIFY 4 127.0.0.1 41397\n", &inode), 0);
        ck_assert_uint_eq(inode, 6666);

        inode = 1;
        /* TIME_WAIT (no owner), another remote port, another address, nothing: not found. */
        ck_assert_int_eq(find(tcp, false, "IDENTIFY 4 127.0.0.2 41395\n", &inode),
                         -ENOENT);
        ck_assert_int_eq(find(tcp, false, "IDENTIFY 4 127.0.0.1 41396\n", &inode),
                         -ENOENT);
        ck_assert_int_eq(find(tcp, false, "IDENTIFY 4 127.0.0.2 41394\n", &inode),
                         -ENOENT);
        ck_assert_int_eq(find(tcp, false, "IDENTIFY 4 127.0.0.1 3128\n", &inode),
                         -ENOENT); /* the listener and the proxy's end are not clients */
        ck_assert_int_eq(find(tcp, false, "IDENTIFY 6 ::1 41394\n", &inode), -ENOENT);
        ck_assert_uint_eq(inode, 1);

        ck_assert_int_eq(find(tcp6, true, "IDENTIFY 6 ::1 45067\n", &inode), 0);
        ck_assert_uint_eq(inode, 7777);
        /* An IPv4 client on a dual-stack socket. */
        ck_assert_int_eq(find(tcp6, true, "IDENTIFY 4 127.0.0.1 49153\n", &inode), 0);
        ck_assert_uint_eq(inode, 8888);
        ck_assert_int_eq(find(tcp6, true, "IDENTIFY 6 ::2 45067\n", &inode), -ENOENT);
#endif
        uint64_t i = 1;
        /* Not a table. */
        ck_assert_int_eq(find("", false, "IDENTIFY 4 127.0.0.1 1\n", &i), -EBADMSG);
        ck_assert_int_eq(find("garbage\n   0: x\n", false, "IDENTIFY 4 127.0.0.1 1\n", &i), -EBADMSG);
        ck_assert_int_eq(find(" sl local_address\n   0: 0100007F:0C38 00000000:0000 0A\n", false,
                              "IDENTIFY 4 127.0.0.1 1\n", &i), -EBADMSG);
        ck_assert_uint_eq(i, 1);
}
END_TEST

START_TEST(test_small_parsers) {
        _cleanup_free_ char *status = fixture("status");
        uint64_t ino = 1;
        pid_t ppid = 1;

        ck_assert_int_eq(socket_link_inode("socket:[4242]", &ino), 0);
        ck_assert_uint_eq(ino, 4242);
        ck_assert_int_eq(socket_link_inode("socket:[]", &ino), -ENOENT);
        ck_assert_int_eq(socket_link_inode("socket:[12]x", &ino), -ENOENT);
        ck_assert_int_eq(socket_link_inode("socket:[-1]", &ino), -ENOENT);
        ck_assert_int_eq(socket_link_inode("pipe:[4242]", &ino), -ENOENT);
        ck_assert_int_eq(socket_link_inode("/sandbox/socket:[4242]", &ino), -ENOENT);
        ck_assert_int_eq(socket_link_inode("socket:[99999999999999999999999]", &ino), -ENOENT);
        ck_assert_uint_eq(ino, 4242);

        ck_assert_int_eq(proc_status_ppid(status, &ppid), 0);
        ck_assert_int_eq(ppid, 799);
        ck_assert_int_eq(proc_status_ppid("Name:\tx\nPPid:\t\n", &ppid), -EBADMSG);
        ck_assert_int_eq(proc_status_ppid("Name:\tx\nPPid:\t12x\n", &ppid), -EBADMSG);
        ck_assert_int_eq(proc_status_ppid("Name:\tx\n", &ppid), -EBADMSG);
        ck_assert_int_eq(proc_status_ppid("Name:\tx\nPPid:\t4294967295\n", &ppid), -EBADMSG);
        ck_assert_int_eq(ppid, 799);
}
END_TEST

START_TEST(test_format) {
        _cleanup_free_ char *e = NULL, *line = NULL;
        char *anc[] = { (char *) "/usr/bin/dash", (char *) "/sandbox/my tool", NULL };

        ck_assert_int_eq(identify_escape_path("/a b\\c\n\x7f\xc3\xa9", &e), 0);
        ck_assert_str_eq(e, "/a\\x20b\\x5cc\\x0a\\x7f\\xc3\\xa9");
        ck_assert_int_eq(identify_format_ok(42, "/usr/bin/curl", NULL, &line), 0);
        ck_assert_str_eq(line, "OK 42 /usr/bin/curl\n");
        free(line);
        /* An agent-named binary cannot forge fields or lines. */
        ck_assert_int_eq(identify_format_ok(7, "/sandbox/x\nOK 1 /usr/bin/git", anc, &line), 0);
        ck_assert_str_eq(line, "OK 7 /sandbox/x\\x0aOK\\x201\\x20/usr/bin/git /usr/bin/dash /sandbox/my\\x20tool\n");
}
END_TEST

/* A live lookup in this process's own namespace: a loopback connection whose client end we own. */
typedef struct Live {
        int listener, client, server;
        uint16_t server_port, client_port;
        char cgroup[PATH_MAX];
        IdentifyContext ctx;
} Live;

static void live_setup(Live *l, bool with_parent) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        _cleanup_free_ char *procs = NULL, *path = NULL;
        int dirfd;

        l->listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(l->listener, 0);
        ck_assert_int_eq(bind(l->listener, (struct sockaddr *) &sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(l->listener, 4), 0);
        ck_assert_int_eq(getsockname(l->listener, (struct sockaddr *) &sa, &len), 0);
        l->server_port = ntohs(sa.sin_port);
        l->client = socket(AF_INET, SOCK_STREAM, 0); /* no CLOEXEC: the ambiguity test hands it on */
        ck_assert_int_eq(connect(l->client, (struct sockaddr *) &sa, sizeof(sa)), 0);
        l->server = accept(l->listener, NULL, NULL);
        ck_assert_int_ge(l->server, 0);
        len = sizeof(sa);
        ck_assert_int_eq(getsockname(l->client, (struct sockaddr *) &sa, &len), 0);
        l->client_port = ntohs(sa.sin_port);

        /* A cgroup stand-in: a folder with cgroup.procs (and one below it, as a unit in a slice). */
        strcpy(l->cgroup, "/tmp/test-identify-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(l->cgroup));
        ck_assert_int_ge(asprintf_safe(&path, "%s/unit", l->cgroup), 0);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        free(path);
        ck_assert_int_ge(asprintf_safe(&path, "%s/unit/cgroup.procs", l->cgroup), 0);
        if (with_parent)
                ck_assert_int_ge(asprintf_safe(&procs, "%d\n%d\n", (int) getpid(), (int) getppid()), 0);
        else
                ck_assert_int_ge(asprintf_safe(&procs, "%d\n", (int) getpid()), 0);
        ck_assert_int_eq(write_file_atomic(path, procs, strlen(procs), 0644, 0), 0);
        free(path);
        ck_assert_int_ge(asprintf_safe(&path, "%s/cgroup.procs", l->cgroup), 0);
        ck_assert_int_eq(write_file_atomic(path, "", 0, 0644, 0), 0);

        dirfd = open(l->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(dirfd, 0);
        l->ctx = (IdentifyContext) {
                .tcp_fd = open("/proc/thread-self/net/tcp", O_RDONLY | O_CLOEXEC),
                .tcp6_fd = open("/proc/thread-self/net/tcp6", O_RDONLY | O_CLOEXEC),
                .cgroup_fd = dirfd,
                .proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC),
                .proxy_port = l->server_port,
        };
        ck_assert_int_ge(l->ctx.tcp_fd, 0);
        ck_assert_int_ge(l->ctx.proc_fd, 0);
}

static void live_done(Live *l) {
        int fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        (void) rm_rf_at(fd, l->cgroup + strlen("/tmp/"));
        safe_close(fd);
        safe_close(l->listener);
        safe_close(l->client);
        safe_close(l->server);
        safe_close(l->ctx.tcp_fd);
        safe_close(l->ctx.tcp6_fd);
        safe_close(l->ctx.cgroup_fd);
        safe_close(l->ctx.proc_fd);
}

static char *answer(const Live *l, const char *request, int *ret_error) {
        char *reply = NULL;

        ck_assert_int_eq(identify_answer(&l->ctx, request, strlen(request), &reply, ret_error), 0);
        ck_assert_ptr_nonnull(reply);
        return reply;
}

static char *exe_of(pid_t pid) {
        char path[64], target[PATH_MAX];
        ssize_t k;

        snprintf(path, sizeof(path), "/proc/%d/exe", (int) pid);
        k = readlink(path, target, sizeof(target) - 1);
        ck_assert_int_gt(k, 0);
        target[k] = 0;
        return strdup(target);
}

START_TEST(test_live_lookup) {
        _cleanup_free_ char *request = NULL, *reply = NULL, *expected = NULL, *self = exe_of(getpid()),
                                       *parent = exe_of(getppid());
        Live l = {};
        int error = 1;

        live_setup(&l, false);
        ck_assert_int_ge(asprintf_safe(&request, "IDENTIFY 4 127.0.0.1 %u\n", l.client_port), 0);
        reply = answer(&l, request, &error);
        ck_assert_int_ge(asprintf_safe(&expected, "OK %d %s\n", (int) getpid(), self), 0);
        ck_assert_str_eq(reply, expected);
        ck_assert_int_eq(error, 0);
        free(reply);
        free(expected);
        live_done(&l);

        /* The parent in the same cgroup: an ancestor. */
        live_setup(&l, true);
        free(request);
        ck_assert_int_ge(asprintf_safe(&request, "IDENTIFY 4 127.0.0.1 %u\n", l.client_port), 0);
        reply = answer(&l, request, &error);
        ck_assert_int_ge(asprintf_safe(&expected, "OK %d %s %s\n", (int) getpid(), self, parent), 0);
        ck_assert_str_eq(reply, expected);
        free(reply);

        /* The server's end is not a client; a port nobody has; garbage. */
        free(request);
        ck_assert_int_ge(asprintf_safe(&request, "IDENTIFY 4 127.0.0.1 %u\n", l.server_port), 0);
        reply = answer(&l, request, &error);
        ck_assert_str_eq(reply, "ERR not-found\n");
        ck_assert_int_eq(error, 0);
        free(reply);
        reply = answer(&l, "IDENTIFY 6 ::1 9\n", &error);
        ck_assert_str_eq(reply, "ERR not-found\n");
        free(reply);
        reply = answer(&l, "GET / HTTP/1.1\r\n", &error);
        ck_assert_str_eq(reply, "ERR bad-request\n");
        ck_assert_int_eq(error, 0);
        live_done(&l);
}
END_TEST

/* Two processes with different binaries hold the socket: refused, whoever asks. */
START_TEST(test_live_ambiguous) {
        _cleanup_free_ char *request = NULL, *reply = NULL, *procs = NULL, *path = NULL;
        Live l = {};
        int error = 0;
        pid_t child;

        live_setup(&l, false);
        child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                /* keeps the inherited client socket open */
                execl("/bin/sleep", "sleep", "30", (char *) NULL);
                _exit(127);
        }
        ck_assert_int_ge(asprintf_safe(&procs, "%d\n%d\n", (int) getpid(), (int) child), 0);
        ck_assert_int_ge(asprintf_safe(&path, "%s/unit/cgroup.procs", l.cgroup), 0);
        ck_assert_int_eq(write_file_atomic(path, procs, strlen(procs), 0644, 0), 0);
        ck_assert_int_ge(asprintf_safe(&request, "IDENTIFY 4 127.0.0.1 %u\n", l.client_port), 0);
        /* Wait until the child runs sleep (before its exec it would be the same binary as us). */
        for (;;) {
                _cleanup_free_ char *exe = exe_of(child);
                if (endswith(exe, "/sleep"))
                        break;
                usleep(1000);
        }
        reply = answer(&l, request, &error);
        ck_assert_str_eq(reply, "ERR ambiguous\n");
        ck_assert_int_eq(error, -ENOTUNIQ);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        live_done(&l);
}
END_TEST

/* The namespace as the supervisor's helper makes it; needs root (mounts), in a mount namespace of its own. */
START_TEST(test_netns) {
        char dir[] = "/tmp/test-netns-XXXXXX";
        _cleanup_free_ char *path = NULL;
        struct stat st1, st2;
        int fd, tcp = -EBADF, tcp6 = -EBADF;

        if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0) {
                fprintf(stderr, "test_netns: needs root and mount namespaces, skipped\n");
                return;
        }
        ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
        ck_assert_ptr_nonnull(mkdtemp(dir));
        ck_assert_int_ge(asprintf_safe(&path, "%s/demo", dir), 0);

        ck_assert_int_eq(netns_create(path), 0);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ioctl(fd, NS_GET_NSTYPE), CLONE_NEWNET);
        ck_assert_int_eq(fstat(fd, &st1), 0);
        /* Its TCP tables: its own, empty of our sockets. */
        ck_assert_int_eq(netns_open_tcp_tables(fd, &tcp, &tcp6), 0);
        ck_assert_int_ge(tcp, 0);
        safe_close(tcp);
        safe_close(tcp6);
        safe_close(fd);

        /* Created again (a stale one): replaced by a new namespace. */
        ck_assert_int_eq(netns_create(path), 0);
        ck_assert_int_eq(stat(path, &st2), 0);
        ck_assert_uint_ne(st1.st_ino, st2.st_ino);

        /* Stacked mounts (the same namespace mounted twice) all go. */
        ck_assert_int_eq(mount(path, path, NULL, MS_BIND, NULL), 0);
        ck_assert_int_eq(netns_remove(path), 0);
        ck_assert_int_eq(access(path, F_OK), -1);
        ck_assert_int_eq(netns_remove(path), 0); /* nothing there: fine */
        /* A plain file (its mount gone) is removed too. */
        ck_assert_int_eq(write_file_atomic(path, "", 0, 0644, 0), 0);
        ck_assert_int_eq(netns_remove(path), 0);
        ck_assert_int_eq(access(path, F_OK), -1);
        ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("sandbox-identify");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_request_parse);
        tcase_add_test(tc, test_proc_net_tcp);
        tcase_add_test(tc, test_small_parsers);
        tcase_add_test(tc, test_format);
        tcase_add_test(tc, test_live_lookup);
        tcase_add_test(tc, test_live_ambiguous);
        tcase_add_test(tc, test_netns);
        suite_add_tcase(s, tc);
        return check_run_suite(s);
}

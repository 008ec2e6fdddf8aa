/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check-util.h"
#include "proxy-relay.h"

/* Two connected stream pairs: the test writes into a[0], the pump moves a[1] -> b[0], the test reads
 * b[1]. Non-blocking, as the daemon's sockets are. */
static void pairs(int a[2], int b[2]) {
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, a), 0);
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, b), 0);
}

static void close_all(int a[2], int b[2]) {
        safe_close(a[0]);
        safe_close(a[1]);
        safe_close(b[0]);
        safe_close(b[1]);
}

static size_t drain(int fd, char *buf, size_t size, bool *eof) {
        size_t got = 0;

        *eof = false;
        for (;;) {
                ssize_t n = recv(fd, buf + got, size - got, MSG_DONTWAIT);
                if (n == 0) {
                        *eof = true;
                        return got;
                }
                if (n < 0)
                        return got;
                got += (size_t) n;
        }
}

START_TEST(test_pending_then_data_and_half_close) {
        int a[2], b[2];
        Pump p;
        uint64_t moved = 0;
        char buf[256];
        bool eof;

        pairs(a, b);
        pump_init(&p, a[1], b[0]);
        ck_assert_int_eq(buf_append(&p.pending, "first;", 6), 0);
        ck_assert_int_eq(pump_start(&p, UINT64_MAX, true), 0);
        ck_assert_int_eq(send(a[0], "second", 6, 0), 6);
        ck_assert_int_eq(pump_run(&p, &moved), 0);
        ck_assert_uint_eq(moved, 12); /* counted once per byte written, pending and spliced alike */
        ck_assert(p.want_read && !p.want_write && !pump_finished(&p));
        ck_assert_uint_eq(drain(b[1], buf, sizeof(buf), &eof), 12);
        ck_assert(!eof);
        ck_assert(memcmp(buf, "first;second", 12) == 0);

        /* the source ends: the destination is shut for writing, the pump is finished */
        ck_assert_int_eq(shutdown(a[0], SHUT_WR), 0);
        ck_assert_int_eq(pump_run(&p, &moved), 0);
        ck_assert(pump_finished(&p) && p.shut);
        ck_assert_uint_eq(drain(b[1], buf, sizeof(buf), &eof), 0);
        ck_assert(eof);
        /* the other direction still works after a half-close */
        ck_assert_int_eq(send(b[1], "back", 4, 0), 4);
        ck_assert_int_eq(recv(b[0], buf, sizeof(buf), 0), 4);
        pump_done(&p);
        close_all(a, b);
}
END_TEST

START_TEST(test_limit) {
        int a[2], b[2];
        Pump p;
        uint64_t moved = 0;
        char buf[256];
        bool eof;

        pairs(a, b);
        pump_init(&p, a[1], b[0]);
        ck_assert_int_eq(pump_start(&p, 5, false), 0);
        ck_assert_int_eq(send(a[0], "0123456789", 10, 0), 10);
        ck_assert_int_eq(pump_run(&p, &moved), 0);
        ck_assert(pump_finished(&p));
        ck_assert(!p.shut); /* not asked to */
        ck_assert_uint_eq(drain(b[1], buf, sizeof(buf), &eof), 5);
        ck_assert(memcmp(buf, "01234", 5) == 0);
        /* the rest stays unread in the source */
        ck_assert_int_eq(recv(a[1], buf, sizeof(buf), MSG_DONTWAIT), 5);
        pump_done(&p);
        close_all(a, b);
}
END_TEST

START_TEST(test_bounded_when_destination_stalls) {
        static char chunk[64 * 1024];
        int a[2], b[2];
        Pump p;
        uint64_t moved = 0;
        size_t sent = 0;
        int sz = 4096;

        pairs(a, b);
        (void) setsockopt(b[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
        (void) setsockopt(b[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
        pump_init(&p, a[1], b[0]);
        ck_assert_int_eq(pump_start(&p, UINT64_MAX, true), 0);
        /* feed far more than the pump may hold while nobody reads b[1] */
        for (unsigned i = 0; i < 64; i++) {
                ssize_t n = send(a[0], chunk, sizeof(chunk), MSG_DONTWAIT);
                if (n > 0)
                        sent += (size_t) n;
                ck_assert_int_eq(pump_run(&p, &moved), 0);
        }
        ck_assert(p.want_write);
        ck_assert(!p.want_read); /* it waits for the destination, not spinning on the source */
        ck_assert_uint_le(p.in_pipe, p.pipe_size);
        ck_assert_uint_le(p.pending.size, PUMP_PENDING_MAX);
        ck_assert_uint_lt(moved, sent); /* the rest is left in the source's socket: back-pressure */
        pump_done(&p);
        close_all(a, b);
}
END_TEST

/* A direction that carries more than PUMP_GROW_AFTER bytes gets the bulk pipe, and bytes arrive
 * intact across the change. */
START_TEST(test_bulk_pipe_grows) {
        static char out[256 * 1024], in[256 * 1024];
        const size_t total = 4 * PUMP_GROW_AFTER;
        size_t sent = 0, got = 0;
        int a[2], b[2];
        Pump p;
        uint64_t moved = 0;
        bool eof, grown_early = false;

        for (size_t i = 0; i < sizeof(out); i++)
                out[i] = (char) (i * 7 + i / 251);
        pairs(a, b);
        pump_init(&p, a[1], b[0]);
        ck_assert_int_eq(pump_start(&p, UINT64_MAX, true), 0);
        ck_assert_uint_le(p.pipe_size, PUMP_PIPE_SIZE);
        while (got < total) {
                if (sent < total) {
                        size_t off = sent % sizeof(out), want = MIN(sizeof(out) - off, total - sent);
                        ssize_t n = send(a[0], out + off, want, MSG_DONTWAIT);
                        if (n > 0)
                                sent += (size_t) n;
                        if (sent == total)
                                ck_assert_int_eq(shutdown(a[0], SHUT_WR), 0);
                }
                ck_assert_int_eq(pump_run(&p, &moved), 0);
                if (p.spliced < PUMP_GROW_AFTER && p.pipe_size > PUMP_PIPE_SIZE)
                        grown_early = true;
                for (;;) {
                        size_t n = drain(b[1], in, sizeof(in), &eof);
                        /* one assertion per chunk: Check records each one, byte by byte it crawls */
                        bool same = true;
                        for (size_t i = 0; i < n; i++)
                                same = same && in[i] == out[(got + i) % sizeof(out)];
                        ck_assert_msg(same, "bytes changed in the relay at offset %zu..%zu", got, got + n);
                        got += n;
                        if (n < sizeof(in))
                                break;
                }
        }
        ck_assert(!grown_early);
        ck_assert(p.grow_tried);
        ck_assert_uint_eq(p.pipe_size, (size_t) fcntl(p.pipe[1], F_GETPIPE_SZ));
        /* the kernel's per-user pipe budget may refuse; as root, or below the budget, it does not */
        if (geteuid() == 0)
                ck_assert_uint_eq(p.pipe_size, PUMP_PIPE_SIZE_BULK);
        ck_assert_uint_eq(got, total);
        pump_done(&p);
        close_all(a, b);
}
END_TEST

START_TEST(test_peer_reset_is_an_error) {
        int a[2], b[2];
        Pump p;
        uint64_t moved = 0;

        ck_assert(signal(SIGPIPE, SIG_IGN) != SIG_ERR); /* as the daemon does */
        pairs(a, b);
        pump_init(&p, a[1], b[0]);
        ck_assert_int_eq(pump_start(&p, UINT64_MAX, true), 0);
        b[1] = safe_close(b[1]);
        ck_assert_int_eq(send(a[0], "x", 1, 0), 1);
        ck_assert_int_lt(pump_run(&p, &moved), 0);
        pump_done(&p);
        close_all(a, b);
}
END_TEST

START_TEST(test_no_destination_is_a_no_op) {
        Pump p;
        uint64_t moved = 0;

        pump_init(&p, -EBADF, -EBADF);
        ck_assert_int_eq(pump_run(&p, &moved), 0);
        ck_assert(pump_finished(&p));
        ck_assert_uint_eq(moved, 0);
        pump_done(&p);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("proxy-relay");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_pending_then_data_and_half_close);
        tcase_add_test(tc, test_limit);
        tcase_add_test(tc, test_bounded_when_destination_stalls);
        tcase_add_test(tc, test_bulk_pipe_grows);
        tcase_add_test(tc, test_peer_reset_is_an_error);
        tcase_add_test(tc, test_no_destination_is_a_no_op);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}

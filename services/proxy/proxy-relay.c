/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy-relay.h"

void pump_init(Pump *p, int src, int dst) {
        *p = (Pump) {
                .src = src,
                .dst = dst,
                .pipe = { -EBADF, -EBADF },
                .pending = BUF_INIT(PUMP_PENDING_MAX),
        };
}

void pump_done(Pump *p) {
        p->pipe[0] = safe_close(p->pipe[0]);
        p->pipe[1] = safe_close(p->pipe[1]);
        buf_done(&p->pending);
        pump_init(p, -EBADF, -EBADF);
}

int pump_start(Pump *p, uint64_t limit, bool shutdown_at_end) {
        int size;

        if (!p->no_splice && p->pipe[0] < 0 && limit > 0) {
                if (pipe2(p->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
                        return -errno;
                (void) fcntl(p->pipe[1], F_SETPIPE_SZ, (int) PUMP_PIPE_SIZE);
                size = fcntl(p->pipe[1], F_GETPIPE_SZ);
                p->pipe_size = size > 0 ? (size_t) size : 4096;
        }
        p->limit = limit;
        p->reading = true;
        p->eof = false;
        p->shutdown_at_end = shutdown_at_end;
        return 0;
}

bool pump_finished(const Pump *p) {
        return (!p->reading || p->eof || p->limit == 0) && p->in_pipe == 0 && p->pending.size == 0;
}

static bool would_block(int e) {
        return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

static int flush_pending(Pump *p, uint64_t *moved) {
        while (p->pending.size > 0) {
                ssize_t n = send(p->dst, p->pending.data, p->pending.size, MSG_NOSIGNAL | MSG_DONTWAIT);

                if (n < 0) {
                        if (would_block(errno)) {
                                p->want_write = true;
                                return 0;
                        }
                        return -errno;
                }
                buf_consume(&p->pending, (size_t) n);
                *moved += (uint64_t) n;
        }
        return 1;
}

/* recv()/send() through pending, for descriptors splice() refuses. */
static int run_copy(Pump *p, uint64_t *moved, uint64_t *budget) {
        for (;;) {
                char buf[16 * 1024];
                size_t want;
                ssize_t n;
                int r;

                r = flush_pending(p, moved);
                if (r <= 0)
                        return r;
                if (!p->reading || p->eof || p->limit == 0)
                        return 0;
                if (*budget == 0) {
                        p->want_read = true;
                        return 0;
                }
                want = (size_t) MIN((uint64_t) sizeof(buf), p->limit);
                n = recv(p->src, buf, want, MSG_DONTWAIT);
                if (n < 0) {
                        if (would_block(errno)) {
                                p->want_read = true;
                                return 0;
                        }
                        return -errno;
                }
                if (n == 0) {
                        p->eof = true;
                        return 0;
                }
                if (p->limit != UINT64_MAX)
                        p->limit -= (uint64_t) n;
                *budget = *budget > (uint64_t) n ? *budget - (uint64_t) n : 0;
                r = buf_append(&p->pending, buf, (size_t) n);
                if (r < 0)
                        return r;
        }
}

/* Once, for a bulk transfer: a refusal (the user's pipe budget is spent) leaves the pipe as it is. */
static void pump_grow_pipe(Pump *p) {
        int size;

        p->grow_tried = true;
        if (fcntl(p->pipe[1], F_SETPIPE_SZ, (int) PUMP_PIPE_SIZE_BULK) < 0)
                return;
        size = fcntl(p->pipe[1], F_GETPIPE_SZ);
        if (size > 0 && (size_t) size > p->pipe_size)
                p->pipe_size = (size_t) size;
}

static int run_splice(Pump *p, uint64_t *moved, uint64_t *budget) {
        for (;;) {
                bool progress = false;
                ssize_t n;

                if (p->in_pipe > 0) {
                        n = splice(p->pipe[0], NULL, p->dst, NULL, p->in_pipe, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
                        if (n < 0) {
                                if (!would_block(errno))
                                        return -errno;
                                p->want_write = true;
                        } else {
                                p->in_pipe -= (size_t) n;
                                *moved += (uint64_t) n;
                                progress = n > 0;
                        }
                }
                if (p->reading && !p->eof && p->limit > 0 && p->in_pipe < p->pipe_size && *budget > 0) {
                        size_t want = (size_t) MIN((uint64_t) (p->pipe_size - p->in_pipe), p->limit);

                        n = splice(p->src, NULL, p->pipe[1], NULL, want, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
                        if (n < 0) {
                                if (errno == EINVAL && p->in_pipe == 0 && *moved == 0) {
                                        p->no_splice = true;
                                        return run_copy(p, moved, budget);
                                }
                                if (!would_block(errno))
                                        return -errno;
                                /* With bytes in the pipe, EAGAIN may mean the pipe is full (it counts
                                 * buffers, not bytes): then dst must drain it first, and waiting on src
                                 * would spin. */
                                if (p->in_pipe == 0)
                                        p->want_read = true;
                        } else if (n == 0)
                                p->eof = true;
                        else {
                                p->in_pipe += (size_t) n;
                                p->spliced += (uint64_t) n;
                                if (!p->grow_tried && p->spliced >= PUMP_GROW_AFTER)
                                        pump_grow_pipe(p);
                                if (p->limit != UINT64_MAX)
                                        p->limit -= (uint64_t) n;
                                *budget = *budget > (uint64_t) n ? *budget - (uint64_t) n : 0;
                                progress = true;
                        }
                }
                if (!progress)
                        return 0;
                p->want_read = p->want_write = false;
                if (*budget == 0) {
                        /* yield to other connections; the loop comes back as long as there is work */
                        p->want_write = p->in_pipe > 0;
                        p->want_read = p->in_pipe == 0 && p->reading && !p->eof && p->limit > 0;
                        return 0;
                }
        }
}

int pump_run(Pump *p, uint64_t *moved) {
        uint64_t budget = PUMP_RUN_MAX;
        int r;

        p->want_read = p->want_write = false;
        if (p->dst < 0)
                return 0;
        r = flush_pending(p, moved);
        if (r < 0)
                return r;
        if (r > 0 && p->reading && p->src >= 0) {
                r = p->no_splice || p->pipe[0] < 0 ? run_copy(p, moved, &budget) : run_splice(p, moved, &budget);
                if (r < 0)
                        return r;
        }
        if (pump_finished(p) && p->reading && p->eof && p->shutdown_at_end && !p->shut) {
                /* half-close: the peer learns that this side has nothing more to say */
                if (shutdown(p->dst, SHUT_WR) < 0 && errno != ENOTCONN)
                        return -errno;
                p->shut = true;
        }
        return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* One direction of a relay: bytes from src to dst through a pipe with splice() (no copy through user
 * space), after any bytes queued in `pending` (the proxy's own answer, a rewritten head, what a client
 * sent after CONNECT). Bounded: at most one pipe (64 KiB, 1 MiB for a bulk transfer, see below) and
 * `pending` (PUMP_PENDING_MAX unless the caller sets another ceiling) per direction. Non-blocking: pump_run() moves what it can and says what
 * it waits for (want_read on src, want_write on dst); the caller owns the event loop. Where splice()
 * cannot work on a descriptor (EINVAL), the pump falls back to recv()/send() through `pending`.
 * The descriptors are borrowed, never closed here. No logging. splice() to a socket the peer closed
 * raises SIGPIPE (it has no MSG_NOSIGNAL): callers ignore SIGPIPE and get -EPIPE instead. */

#include <stdint.h>

#include "buf.h"

#define PUMP_PENDING_MAX (64U * 1024U)
#define PUMP_PIPE_SIZE (64U * 1024U)
/* A direction that has carried PUMP_GROW_AFTER bytes is a bulk transfer: its pipe grows once to
 * PUMP_PIPE_SIZE_BULK, so each splice() moves 16 times more (measured with bench/egress: the 64 KiB
 * pipe held throughput to about half of a direct transfer). The kernel's per-user pipe budget
 * (fs.pipe-user-pages-soft, 64 MiB by default; each sandbox's proxy is a user of its own) bounds
 * what all of them take together: past it the pipe simply stays small. */
#define PUMP_GROW_AFTER (1024U * 1024U)
#define PUMP_PIPE_SIZE_BULK (1024U * 1024U)
/* Work per pump_run() call, so one busy connection cannot hold the loop. */
#define PUMP_RUN_MAX (1024U * 1024U)

typedef struct Pump {
        int src, dst;
        int pipe[2];
        size_t pipe_size, in_pipe;
        uint64_t spliced; /* bytes taken into the pipe so far */
        bool grow_tried;
        Buf pending;
        uint64_t limit;        /* bytes still to take from src; UINT64_MAX: until its end */
        bool reading;          /* take bytes from src at all (pump_start()) */
        bool eof;              /* src ended */
        bool shutdown_at_end;  /* shut dst down for writing once src ended and all is written */
        bool shut;
        bool no_splice;
        bool want_read, want_write;
} Pump;

void pump_init(Pump *p, int src, int dst);
void pump_done(Pump *p);
/* Starts taking bytes from src: at most limit of them (0: none, UINT64_MAX: until the end). */
int pump_start(Pump *p, uint64_t limit, bool shutdown_at_end);
/* Moves bytes; adds the count to *moved. 0, or a negative errno when a side failed (-EPIPE,
 * -ECONNRESET, ...). */
int pump_run(Pump *p, uint64_t *moved);
/* Everything it was to move has been written: src ended or its limit reached, nothing held. */
bool pump_finished(const Pump *p) _pure_;

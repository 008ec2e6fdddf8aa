/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Microseconds as systemd counts them (sd-event's timers take usec_t on a clock of CLOCK_*), and the
 * current time of a clock in them. */

#include <stdint.h>
#include <time.h>

#include "macro.h"

typedef uint64_t usec_t;

#define USEC_INFINITY ((usec_t) UINT64_MAX)
#define USEC_PER_SEC ((usec_t) 1000000ULL)
#define USEC_PER_MSEC ((usec_t) 1000ULL)
#define NSEC_PER_USEC ((uint64_t) 1000ULL)

/* A timespec in microseconds; USEC_INFINITY for one that is negative or does not fit. */
usec_t timespec_load(const struct timespec *ts) _pure_;

/* The time of clock in microseconds. The clocks the tree uses (CLOCK_MONOTONIC, CLOCK_REALTIME,
 * CLOCK_BOOTTIME) cannot fail to be read; for one that does, the answer is 0. */
usec_t now(clockid_t clock);

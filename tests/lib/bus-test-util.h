/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <sys/socket.h>
#include <systemd/sd-bus.h>

#include "check-util.h"

/* A bus object that counts as open (messages can be built and sealed on it) without any D-Bus peer:
 * one end of a socket pair whose other end nobody reads. Nothing is ever sent. */
static inline sd_bus *test_bus_new(void) {
        sd_bus *bus = NULL;
        int fds[2];

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        ck_assert_int_ge(sd_bus_new(&bus), 0);
        ck_assert_int_ge(sd_bus_set_fd(bus, fds[0], fds[0]), 0);
        ck_assert_int_ge(sd_bus_start(bus), 0);
        /* The peer end stays open for the life of the test process; Check forks one per test. */
        (void) fds[1];
        return bus;
}

/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <sys/socket.h>
#include <systemd/sd-bus.h>

#include "bus-util.h"
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

/* A StartTransientUnit call with its a(sv) property array opened, on a fresh test bus. */
static inline sd_bus_message *test_properties_message_new(sd_bus **bus) {
        sd_bus_message *m = NULL;

        *bus = test_bus_new();
        ck_assert_int_ge(sd_bus_message_new_method_call(*bus, &m, SYSTEMD_BUS_NAME, SYSTEMD_BUS_PATH,
                                                        SYSTEMD_MANAGER_IFACE, "StartTransientUnit"),
                         0);
        ck_assert_int_ge(sd_bus_message_open_container(m, 'a', "(sv)"), 0);
        return m;
}

/* Closes the property array, seals the message and rewinds it into the array, to read back what
 * systemd would receive. */
static inline void test_properties_message_seal(sd_bus_message *m) {
        ck_assert_int_ge(sd_bus_message_close_container(m), 0);
        ck_assert_int_ge(sd_bus_message_seal(m, 1, 0), 0);
        ck_assert_int_ge(sd_bus_message_rewind(m, true), 0);
        ck_assert_int_ge(sd_bus_message_enter_container(m, 'a', "(sv)"), 0);
}

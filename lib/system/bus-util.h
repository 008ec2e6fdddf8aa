/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <systemd/sd-bus.h>

#include "macro.h"

/* The one locator for systemd's manager object. */
#define SYSTEMD_BUS_NAME "org.freedesktop.systemd1"
#define SYSTEMD_BUS_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER_IFACE "org.freedesktop.systemd1.Manager"
#define SYSTEMD_UNIT_IFACE "org.freedesktop.systemd1.Unit"
#define SYSTEMD_SERVICE_IFACE "org.freedesktop.systemd1.Service"
#define SYSTEMD_UNIT_PATH_PREFIX "/org/freedesktop/systemd1/unit"

/* "org.freedesktop.systemd1.NoSuchUnit: Unit x not loaded." or strerror(r), for log messages. */
const char *bus_error_message(const sd_bus_error *e, int r);

/* The object path of a unit, from its name. */
int bus_unit_path(const char *unit, char **ret);

/* Appends one property assignment "Key=Value" to an open a(sv) container, in the D-Bus type systemd
 * expects for that key (the same spelling as in unit files and `systemd-run -p`). Keys this table
 * does not know give -EOPNOTSUPP; values that do not parse give -EINVAL. */
int bus_append_unit_assignment(sd_bus_message *m, const char *assignment);
/* True if the key is one bus_append_unit_assignment() can marshal. */
bool bus_unit_assignment_key_supported(const char *key) _pure_;

/* Appends ("ExecStart", a(sasb)) running argv[0] with argv. */
int bus_append_exec_start(sd_bus_message *m, char *const *argv);

/* A StartTransientUnit call in two halves, the properties appended in between: begin() makes the call
 * for UNIT with job mode "fail" (refuse rather than replace if a job for it is already queued) and
 * opens its property array; end() appends ExecStart=ARGV, closes the array and adds no auxiliary
 * units. */
int bus_transient_unit_begin(sd_bus *bus, const char *unit, sd_bus_message **ret);
int bus_transient_unit_end(sd_bus_message *m, char *const *argv);

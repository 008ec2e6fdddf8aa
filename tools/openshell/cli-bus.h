/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What the CLI asks systemd, synchronously (a command line waits anyway). */

#include <systemd/sd-bus.h>

#include "macro.h"

int cli_bus_open(sd_bus **ret);

/* Calls Manager.StartUnit/StopUnit/RestartUnit(unit, "replace") and waits until systemd has
 * finished the job; returns 0 when the job's result is "done", -EIO (after logging the result and
 * where to look) otherwise. */
int cli_unit_job(sd_bus *bus, const char *method, const char *unit);

typedef struct UnitState {
        char *load_state;   /* "loaded", "not-found", ... */
        char *active_state; /* "active", "inactive", "failed", ... */
        char *sub_state;
        char *result;
        uint32_t main_pid;
        int exec_main_code, exec_main_status;
        uint64_t memory_current; /* UINT64_MAX when unknown */
        uint64_t cpu_usage_nsec; /* UINT64_MAX when unknown */
} UnitState;

void unit_state_done(UnitState *s);
/* Reads the state of a unit; a unit systemd does not know has load_state "not-found". */
int cli_unit_state(sd_bus *bus, const char *unit, UnitState *ret);

typedef enum BrokerNotify {
        BROKER_RELOAD,  /* systemctl try-reload-or-restart: re-read inference.yaml and providers */
        BROKER_RESTART, /* systemctl try-restart: new credentials come only with LoadCredential= at start */
} BrokerNotify;

/* Tells a running openshell-broker.service about changed files; does nothing when the broker is not
 * running, not installed, or there is no system bus. Never fails. */
void broker_notify(BrokerNotify what);

/* Formats bytes as "1.5M", nanoseconds as "1.234s". */
char *format_bytes(char *buf, size_t n, uint64_t bytes);
char *format_nsec(char *buf, size_t n, uint64_t nsec);

/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The transient unit that is the sandbox proper: what it runs and every restriction systemd gives it. */

#include <systemd/sd-bus.h>

#include "macro.h"

typedef struct SandboxUnitConfig {
        const char *name;            /* sandbox name */
        const char *workdir;         /* host path bound at /sandbox */
        const char *user;            /* unprivileged account the agent runs as */
        char *const *command;        /* argv */
        char *const *environment;    /* "K=V" from the spec */
} SandboxUnitConfig;

/* The settings as "Key=Value" assignments, in the order they are sent (a printable, reviewable list:
 * `systemctl show` of the agent unit shows the same). */
int sandbox_unit_assignments(const SandboxUnitConfig *c, char ***ret);

/* A StartTransientUnit method call for the agent unit, ready to send. */
int sandbox_unit_new_start_message(sd_bus *bus, const SandboxUnitConfig *c, sd_bus_message **ret);

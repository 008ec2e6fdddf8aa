/* SPDX-License-Identifier: Apache-2.0 */
/* openshell status: is everything a sandbox needs in place on this machine? */

#include <getopt.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <systemd/sd-bus.h>

#include "bus-util.h"
#include "cli-bus.h"
#include "log.h"
#include "openshell.h"
#include "string-util.h"

#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif
#define CGROUP2_SUPER_MAGIC_VALUE 0x63677270

static void print_landlock(void) {
        long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

        if (abi >= 0)
                printf("Landlock:    ABI %ld\n", abi);
        else if (errno == ENOSYS)
                printf("Landlock:    unavailable (kernel built without CONFIG_SECURITY_LANDLOCK)\n");
        else if (errno == EOPNOTSUPP)
                printf("Landlock:    unavailable (not in the kernel's active LSM list)\n");
        else
                printf("Landlock:    unavailable (%s)\n", strerror(errno));
}

static void print_cgroup(void) {
        struct statfs fs;

        if (statfs("/sys/fs/cgroup", &fs) >= 0 && (uint64_t) fs.f_type == CGROUP2_SUPER_MAGIC_VALUE)
                printf("cgroup:      unified (memory, CPU and task limits available)\n");
        else
                printf("cgroup:      legacy or hybrid hierarchy (memory, CPU and task limits may not apply)\n");
}

static int status_run(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(unit_state_done) UnitState broker = {};
        _cleanup_free_ char *version = NULL, *state = NULL;
        int r;

        if (!verb_parse_no_options(argc, argv, &r))
                return r;
        if (optind < argc)
                return usage_error("status takes no arguments, got '%s'", argv[optind]);

        printf("openshell:   %s\n", PROJECT_VERSION);
        r = cli_bus_open(&bus);
        if (r < 0) {
                printf("systemd:     not reachable\n");
                print_landlock();
                print_cgroup();
                return EXIT_FAILURE;
        }
        (void) sd_bus_get_property_string(bus, SYSTEMD_BUS_NAME, SYSTEMD_BUS_PATH, SYSTEMD_MANAGER_IFACE, "Version",
                                          &error, &version);
        (void) sd_bus_get_property_string(bus, SYSTEMD_BUS_NAME, SYSTEMD_BUS_PATH, SYSTEMD_MANAGER_IFACE,
                                          "SystemState", &error, &state);
        printf("systemd:     %s (system %s)\n", strna(version), strna(state));

        r = cli_unit_state(bus, "openshell-broker.socket", &broker);
        if (r >= 0 && !streq(broker.load_state, "not-found"))
                printf("Broker:      openshell-broker.socket %s/%s\n", broker.active_state, broker.sub_state);
        else
                printf("Broker:      not installed\n");
        print_landlock();
        print_cgroup();
        printf("Sandboxes:   see 'openshell sandbox list'\n");
        return EXIT_SUCCESS;
}

const Verb status_verb = {
        .name = "status",
        .summary = "What this machine offers sandboxes",
        .description =
                "Print what sandboxes on this machine depend on: the version of openshell; systemd's version and "
                "state (systemctl is-system-running), asked over the system bus; the state of the inference "
                "broker's socket, openshell-broker.socket; the Landlock ABI the kernel offers (or why there is "
                "none); and whether the cgroup hierarchy is unified, without which memory, CPU and task limits "
                "may not apply.\n",
        .exit_status = (const VerbItem[]) {
                { "0", "The status was printed." },
                { "1", "systemd cannot be reached over the system bus (Landlock and cgroups are printed still)." },
                VERB_EXIT_USAGE,
                {},
        },
        .examples = "  openshell status\n",
        .see_also = "The same from systemd and the kernel:\n"
                    "\n"
                    "  systemctl --version; systemctl is-system-running\n"
                    "  systemctl status openshell-broker.socket\n"
                    "  stat -fc %T /sys/fs/cgroup      # cgroup2fs: unified\n"
                    "\n"
                    "landlock(7), systemd.resource-control(5).\n",
        .run = status_run,
        .getopt = verb_no_options,
};

/* SPDX-License-Identifier: Apache-2.0 */
/* openshell sandbox ...: sandboxes are systemd units; everything here asks systemd over sd-bus. */

#include <dirent.h>
#include <getopt.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "bus-util.h"
#include "log.h"
#include "openshell.h"
#include "sandbox-name.h"
#include "string-util.h"

typedef struct SandboxRow {
        char *name;
        char *supervisor; /* "active (running)" or "-" when not loaded */
        char *agent;
} SandboxRow;

typedef struct SandboxTable {
        SandboxRow *rows;
        size_t n;
} SandboxTable;

static void sandbox_table_done(SandboxTable *t) {
        for (size_t i = 0; i < t->n; i++) {
                free(t->rows[i].name);
                free(t->rows[i].supervisor);
                free(t->rows[i].agent);
        }
        free(t->rows);
        *t = (SandboxTable) {};
}

static SandboxRow *sandbox_table_get(SandboxTable *t, const char *name) {
        SandboxRow *rows;

        for (size_t i = 0; i < t->n; i++)
                if (streq(t->rows[i].name, name))
                        return &t->rows[i];
        rows = reallocarray(t->rows, t->n + 1, sizeof(SandboxRow));
        if (!rows)
                return NULL;
        t->rows = rows;
        t->rows[t->n] = (SandboxRow) { .name = strdup(name) };
        if (!t->rows[t->n].name)
                return NULL;
        return &t->rows[t->n++];
}

/* "openshell-sandbox@demo.service" -> "demo" (or NULL if the unit name is not one of ours). */
static char *unit_to_sandbox_name(const char *unit, const char *prefix) {
        _cleanup_free_ char *name = NULL;
        size_t lp = strlen(prefix), lu = strlen(unit);

        if (!startswith(unit, prefix) || !endswith(unit, ".service") || lu <= lp + strlen(".service"))
                return NULL;
        name = strndup(unit + lp, lu - lp - strlen(".service"));
        if (!name || !sandbox_name_is_valid(name))
                return NULL;
        return TAKE_PTR(name);
}

static int collect_units(sd_bus *bus, SandboxTable *t) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *unit, *active, *sub;
        int r;

        r = sd_bus_call_method(bus, SYSTEMD_BUS_NAME, SYSTEMD_BUS_PATH, SYSTEMD_MANAGER_IFACE, "ListUnitsByPatterns",
                               &error, &reply, "asas", 0, 2, SANDBOX_SUPERVISOR_PREFIX "*.service",
                               SANDBOX_AGENT_PREFIX "*.service");
        if (r < 0)
                return log_error_errno(r, "Failed to list units: %s", bus_error_message(&error, r));

        r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
        if (r < 0)
                return log_error_errno(r, "Failed to parse unit list: %m");
        while ((r = sd_bus_message_read(reply, "(ssssssouso)", &unit, NULL, NULL, &active, &sub, NULL, NULL, NULL,
                                        NULL, NULL)) > 0) {
                _cleanup_free_ char *name = NULL, *state = NULL;
                bool is_agent = false;
                SandboxRow *row;

                name = unit_to_sandbox_name(unit, SANDBOX_SUPERVISOR_PREFIX);
                if (!name) {
                        name = unit_to_sandbox_name(unit, SANDBOX_AGENT_PREFIX);
                        is_agent = true;
                }
                if (!name)
                        continue;
                row = sandbox_table_get(t, name);
                if (!row || asprintf_safe(&state, "%s (%s)", active, sub) < 0)
                        return log_oom();
                free(is_agent ? row->agent : row->supervisor);
                *(is_agent ? &row->agent : &row->supervisor) = TAKE_PTR(state);
        }
        if (r < 0)
                return log_error_errno(r, "Failed to parse unit list: %m");
        return 0;
}

/* Sandboxes with a spec but no loaded unit (never started, or stopped and unloaded). */
static int collect_specs(SandboxTable *t) {
        _cleanup_(closedirp) DIR *d = opendir(SANDBOX_SPEC_DIR);

        if (!d) {
                if (errno == ENOENT)
                        return 0;
                return log_error_errno(errno, "Failed to open %s: %m", SANDBOX_SPEC_DIR);
        }
        for (struct dirent *de; (de = readdir(d));) {
                _cleanup_free_ char *name = NULL;

                if (!endswith(de->d_name, ".yaml"))
                        continue;
                name = strndup(de->d_name, strlen(de->d_name) - strlen(".yaml"));
                if (!name)
                        return log_oom();
                if (!sandbox_name_is_valid(name))
                        continue;
                if (!sandbox_table_get(t, name))
                        return log_oom();
        }
        return 0;
}

static int compare_rows(const void *a, const void *b) {
        return strcmp(((const SandboxRow *) a)->name, ((const SandboxRow *) b)->name);
}

static int sandbox_list(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sandbox_table_done) SandboxTable t = {};
        size_t w = strlen("NAME"), ws = strlen("SUPERVISOR");
        int r;

        if (argc > 1) {
                if (streq(argv[1], "--help") || streq(argv[1], "-h")) {
                        printf("Usage: openshell sandbox list\n\n"
                               "List sandboxes: those with a spec in " SANDBOX_SPEC_DIR " and those systemd knows,\n"
                               "with the state of the supervisor (openshell-sandbox@NAME.service) and of the agent\n"
                               "(openshell-agent-NAME.service).\n");
                        return EXIT_SUCCESS;
                }
                log_error("sandbox list takes no arguments, got '%s'", argv[1]);
                return EXIT_USAGE;
        }

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus (is systemd running?): %m");
        r = collect_units(bus, &t);
        if (r < 0)
                return r;
        r = collect_specs(&t);
        if (r < 0)
                return r;

        if (t.n == 0) {
                printf("No sandboxes.\n");
                return EXIT_SUCCESS;
        }
        qsort(t.rows, t.n, sizeof(SandboxRow), compare_rows);
        for (size_t i = 0; i < t.n; i++) {
                w = MAX(w, strlen(t.rows[i].name));
                ws = MAX(ws, strlen(t.rows[i].supervisor ?: "inactive"));
        }
        printf("%-*s  %-*s  %s\n", (int) w, "NAME", (int) ws, "SUPERVISOR", "AGENT");
        for (size_t i = 0; i < t.n; i++)
                printf("%-*s  %-*s  %s\n", (int) w, t.rows[i].name, (int) ws, t.rows[i].supervisor ?: "inactive",
                       t.rows[i].agent ?: "-");
        return EXIT_SUCCESS;
}

static const Verb sandbox_verbs[] = {
        { "list", "List sandboxes and the state of their units", sandbox_list },
};

int verb_sandbox(int argc, char *argv[]) {
        if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "-h")) {
                FILE *f = argc < 2 ? stderr : stdout;
                fprintf(f, "Usage: openshell sandbox COMMAND ...\n\nCommands:\n");
                verb_print_table(sandbox_verbs, ELEMENTSOF(sandbox_verbs), f);
                return argc < 2 ? EXIT_USAGE : EXIT_SUCCESS;
        }
        return verb_dispatch("sandbox", sandbox_verbs, ELEMENTSOF(sandbox_verbs), argc - 1, argv + 1);
}

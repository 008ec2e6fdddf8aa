/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <string.h>

#include "bus-util.h"
#include "cli-bus.h"
#include "log.h"
#include "string-util.h"

int cli_bus_open(sd_bus **ret) {
        int r;

        r = sd_bus_open_system(ret);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus (is systemd running?): %m");
        return 0;
}

typedef struct JobWait {
        const char *job;
        char *result;
} JobWait;

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        JobWait *w = userdata;
        const char *path, *unit, *result;
        uint32_t id;

        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        if (w->job && streq(path, w->job) && !w->result)
                w->result = strdup(result);
        return 0;
}

#define BROKER_UNIT "openshell-broker.service"

void broker_notify(BrokerNotify what) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *method = what == BROKER_RESTART ? "TryRestartUnit" : "ReloadOrTryRestartUnit";
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0) {
                log_debug_errno(r, "No system bus, not notifying %s: %m", BROKER_UNIT);
                return;
        }
        r = sd_bus_call_method(bus, SYSTEMD_BUS_NAME, SYSTEMD_BUS_PATH, SYSTEMD_MANAGER_IFACE, method, &error,
                               NULL, "ss", BROKER_UNIT, "replace");
        if (r < 0)
                log_debug("Not notifying %s: %s", BROKER_UNIT, bus_error_message(&error, r));
}

int cli_unit_job(sd_bus *bus, const char *method, const char *unit) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *job = NULL;
        JobWait w = {};
        const char *path;
        int r;

        /* Watch before asking, so the JobRemoved signal cannot be missed. */
        r = sd_bus_match_signal(bus, &slot, SYSTEMD_BUS_NAME, SYSTEMD_BUS_PATH, SYSTEMD_MANAGER_IFACE, "JobRemoved",
                                on_job_removed, &w);
        if (r < 0)
                return log_error_errno(r, "Failed to watch systemd jobs: %m");
        r = sd_bus_call_method(bus, SYSTEMD_BUS_NAME, SYSTEMD_BUS_PATH, SYSTEMD_MANAGER_IFACE, "Subscribe", &error,
                               NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to systemd: %s", bus_error_message(&error, r));

        r = sd_bus_call_method(bus, SYSTEMD_BUS_NAME, SYSTEMD_BUS_PATH, SYSTEMD_MANAGER_IFACE, method, &error, &reply,
                               "ss", unit, "replace");
        if (r < 0)
                return log_error_errno(r, "Failed to %s %s: %s", streq(method, "StopUnit") ? "stop" : "start", unit,
                                       bus_error_message(&error, r));
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return log_error_errno(r, "Failed to parse systemd's answer: %m");
        job = strdup(path);
        if (!job)
                return log_oom();
        w.job = job;

        /* The signal may already have been read while waiting for the reply: process first. */
        while (!w.result) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return log_error_errno(r, "Failed to talk to systemd: %m");
                if (r > 0)
                        continue;
                r = sd_bus_wait(bus, UINT64_MAX);
                if (r < 0)
                        return log_error_errno(r, "Failed to wait for systemd: %m");
        }

        if (streq(w.result, "done")) {
                free(w.result);
                return 0;
        }
        log_error("Job for %s finished with result '%s'; see 'systemctl status %s' and 'journalctl -u %s'.", unit,
                  w.result, unit, unit);
        free(w.result);
        return -EIO;
}

void unit_state_done(UnitState *s) {
        free(s->load_state);
        free(s->active_state);
        free(s->sub_state);
        free(s->result);
        *s = (UnitState) {};
}

static int get_string(sd_bus *bus, const char *path, const char *iface, const char *prop, char **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        return sd_bus_get_property_string(bus, SYSTEMD_BUS_NAME, path, iface, prop, &error, ret);
}

int cli_unit_state(sd_bus *bus, const char *unit, UnitState *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(unit_state_done) UnitState s = { .memory_current = UINT64_MAX, .cpu_usage_nsec = UINT64_MAX };
        _cleanup_free_ char *path = NULL;
        int r;

        r = bus_unit_path(unit, &path);
        if (r < 0)
                return log_oom();
        /* Reading a property of an unknown unit's path loads nothing and fails: ask for the state
         * first, "not-found" when systemd has no such unit. */
        r = get_string(bus, path, SYSTEMD_UNIT_IFACE, "LoadState", &s.load_state);
        if (r < 0) {
                s.load_state = strdup("not-found");
                s.active_state = strdup("inactive");
                s.sub_state = strdup("dead");
                if (!s.load_state || !s.active_state || !s.sub_state)
                        return log_oom();
                *ret = s;
                s = (UnitState) {};
                return 0;
        }
        if (get_string(bus, path, SYSTEMD_UNIT_IFACE, "ActiveState", &s.active_state) < 0 ||
            get_string(bus, path, SYSTEMD_UNIT_IFACE, "SubState", &s.sub_state) < 0)
                return log_error_errno(EIO, "Failed to read the state of %s.", unit);
        (void) get_string(bus, path, SYSTEMD_SERVICE_IFACE, "Result", &s.result);
        (void) sd_bus_get_property_trivial(bus, SYSTEMD_BUS_NAME, path, SYSTEMD_SERVICE_IFACE, "MainPID", &error, 'u',
                                           &s.main_pid);
        (void) sd_bus_get_property_trivial(bus, SYSTEMD_BUS_NAME, path, SYSTEMD_SERVICE_IFACE, "ExecMainCode", &error,
                                           'i', &s.exec_main_code);
        (void) sd_bus_get_property_trivial(bus, SYSTEMD_BUS_NAME, path, SYSTEMD_SERVICE_IFACE, "ExecMainStatus",
                                           &error, 'i', &s.exec_main_status);
        (void) sd_bus_get_property_trivial(bus, SYSTEMD_BUS_NAME, path, SYSTEMD_SERVICE_IFACE, "MemoryCurrent",
                                           &error, 't', &s.memory_current);
        (void) sd_bus_get_property_trivial(bus, SYSTEMD_BUS_NAME, path, SYSTEMD_SERVICE_IFACE, "CPUUsageNSec",
                                           &error, 't', &s.cpu_usage_nsec);
        *ret = s;
        s = (UnitState) {};
        return 0;
}

char *format_bytes(char *buf, size_t n, uint64_t bytes) {
        static const char suffix[] = "KMGTPE";
        double v = (double) bytes;
        size_t i = 0;

        if (bytes == UINT64_MAX) {
                snprintf(buf, n, "-");
                return buf;
        }
        if (bytes < 1024) {
                snprintf(buf, n, "%" PRIu64 "B", bytes);
                return buf;
        }
        v /= 1024;
        while (v >= 1024 && i + 1 < sizeof suffix - 1) {
                v /= 1024;
                i++;
        }
        snprintf(buf, n, "%.1f%c", v, suffix[i]);
        return buf;
}

char *format_nsec(char *buf, size_t n, uint64_t nsec) {
        if (nsec == UINT64_MAX)
                snprintf(buf, n, "-");
        else if (nsec < 1000000000ULL)
                snprintf(buf, n, "%" PRIu64 "ms", nsec / UINT64_C(1000000));
        else
                snprintf(buf, n, "%.3fs", (double) nsec / 1e9);
        return buf;
}

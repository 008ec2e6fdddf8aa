/* SPDX-License-Identifier: Apache-2.0 */
/* openshell-sandbox-netns create|remove NAME: the sandbox's network namespace (sandbox-netns.h), and
 * for a long NAME the drop-in naming its proxy's user (sandbox_proxy_user_name(), sandbox-name.h).
 *
 * Run by openshell-sandbox@NAME.service as ExecStartPre=+ and ExecStopPost=+, i.e. in PID 1's mount
 * namespace, where the bind mount must be for systemd to open it (NetworkNamespacePath=). create
 * replaces a namespace a crashed run left behind; remove is also run after a failed start. Takes
 * nothing but a valid sandbox name. */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fileio.h"
#include "log.h"
#include "main-func.h"
#include "sandbox-name.h"
#include "sandbox-netns.h"
#include "sandbox-unit.h"
#include "string-util.h"

/* openshell-proxy@NAME.service has User=openshell-proxy-%i (with DynamicUser=, a uid of its own per
 * sandbox); systemd refuses user names longer than 31 characters, so for a longer NAME a runtime drop-in
 * gives the hashed name instead. systemd reads drop-ins when it loads the unit, which the agent's start
 * does (an unloaded unit is loaded afresh); a unit still loaded from before keeps the same name, as the
 * name depends on NAME only. */
static int write_proxy_user_dropin(const char *name, bool remove) {
        _cleanup_free_ char *user = NULL, *dir = NULL, *path = NULL, *text = NULL;
        int r;

        r = sandbox_proxy_user_name(name, &user);
        if (r < 0)
                return r;
        if (asprintf_safe(&dir, "/run/systemd/system/openshell-proxy@%s.service.d", name) < 0 ||
            asprintf_safe(&path, "%s/50-openshell-user.conf", dir) < 0)
                return -ENOMEM;
        if (r == 0 || remove) {
                /* The unit's own User= fits. */
                if (unlink(path) < 0 && errno != ENOENT)
                        return -errno;
                (void) rmdir(dir);
                return 0;
        }
        if (asprintf_safe(&text, "# Written by openshell-sandbox-netns: the name of the proxy's dynamic user.\n"
                                 "[Service]\nUser=%s\n", user) < 0)
                return -ENOMEM;
        return write_file_atomic(path, text, strlen(text), 0644, WRITE_FILE_MKDIR);
}

/* '+' lifts the unit's file system restrictions, but systemd 252 still runs the command in a mount
 * namespace of its own (measured in the testbed: /proc/self/ns/mnt differs from PID 1's, and a mount
 * made there reached neither PID 1 nor the supervisor): join PID 1's explicitly. */
static int join_pid1_mount_namespace(void) {
        _cleanup_close_ int fd = open("/proc/1/ns/mnt", O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        return RET_NERRNO(setns(fd, CLONE_NEWNS));
}

static int run(int argc, char *argv[]) {
        _cleanup_free_ char *path = NULL;
        int r;

        if (argc != 3 || (!streq(argv[1], "create") && !streq(argv[1], "remove"))) {
                log_error("Usage: %s create|remove NAME", program_invocation_short_name);
                return EXIT_FAILURE;
        }
        if (!sandbox_name_is_valid(argv[2])) {
                log_error("Invalid sandbox name '%s'.", argv[2]);
                return EXIT_FAILURE;
        }
        if (asprintf_safe(&path, SANDBOX_NETNS_DIR "/%s", argv[2]) < 0)
                return log_oom();
        r = join_pid1_mount_namespace();
        if (r < 0)
                return log_error_errno(r, "Failed to join PID 1's mount namespace: %m");

        if (streq(argv[1], "remove")) {
                r = write_proxy_user_dropin(argv[2], true);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove the proxy's user drop-in, ignoring: %m");
                r = netns_remove(path);
                if (r < 0)
                        return log_error_errno(r, "Failed to remove the network namespace %s: %m", path);
                return 0;
        }

        r = write_proxy_user_dropin(argv[2], false);
        if (r < 0)
                return log_error_errno(r, "Failed to name the proxy's user of sandbox '%s': %m", argv[2]);
        r = mkdir_p(SANDBOX_NETNS_DIR, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to create %s: %m", SANDBOX_NETNS_DIR);
        r = netns_create(path);
        if (r < 0)
                return log_error_errno(r, "Failed to create the network namespace %s: %m", path);
        log_debug("Network namespace %s created (loopback only).", path);
        return 0;
}

DEFINE_MAIN_FUNCTION(run);

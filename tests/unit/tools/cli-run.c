/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli-run.h"
#include "macro.h"

const char *cli_path(void) {
        const char *p = secure_getenv("OPENSHELL_CLI");
        return p ?: "openshell";
}

void cli_read_fd(int fd, char *buf, size_t size) {
        size_t n = 0;
        ssize_t k;

        (void) lseek(fd, 0, SEEK_SET);
        while (n + 1 < size && (k = read(fd, buf + n, size - n - 1)) > 0)
                n += (size_t) k;
        buf[n] = 0;
}

void cli_run(CliRun *r, const char *root, char *const *env_extra, char *const *args) {
        char *argv[64] = { (char *) cli_path() };
        char outp[] = "/tmp/osh-out-XXXXXX", errp[] = "/tmp/osh-err-XXXXXX";
        int out = mkstemp(outp), err = mkstemp(errp), st;
        size_t n = 1;
        pid_t pid;

        ck_assert_int_ge(out, 0);
        ck_assert_int_ge(err, 0);
        unlink(outp);
        unlink(errp);
        for (; args && args[n - 1]; n++) {
                ck_assert_uint_lt(n, ELEMENTSOF(argv) - 1);
                argv[n] = args[n - 1];
        }
        argv[n] = NULL;

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                dup2(out, 1);
                dup2(err, 2);
                setenv("OPENSHELL_ROOT_DIR", root, 1);
                /* never reach a real system bus or broker from a test */
                setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent", 1);
                for (size_t i = 0; env_extra && env_extra[i]; i++)
                        putenv(env_extra[i]);
                execv(argv[0], argv);
                _exit(127);
        }
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        cli_read_fd(out, r->out, sizeof r->out);
        cli_read_fd(err, r->err, sizeof r->err);
        close(out);
        close(err);
}

void fake_gpu_start(const char *api_key, const char *extra, pid_t *ret_pid, unsigned *ret_port) {
        char cmd[1024], line[512];
        const char *fake = secure_getenv("OPENSHELL_FAKE_GPU");
        unsigned port = 0;
        int pipefd[2];
        pid_t pid;
        FILE *f;

        ck_assert_ptr_nonnull(fake);
        ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                dup2(pipefd[1], 2);
                snprintf(cmd, sizeof cmd, "exec '%s' -l 127.0.0.1:0 -m served-model --require-api-key %s %s", fake,
                         api_key, extra ?: "");
                execl("/bin/sh", "sh", "-c", cmd, (char *) NULL);
                _exit(127);
        }
        close(pipefd[1]);
        f = fdopen(pipefd[0], "r");
        ck_assert_ptr_nonnull(f);
        while (fgets(line, sizeof line, f)) {
                const char *p = strstr(line, " port ");
                if (p && sscanf(p, " port %u", &port) == 1)
                        break;
        }
        fclose(f); /* the server ignores SIGPIPE: later log lines are dropped */
        *ret_pid = pid;
        ck_assert_msg(port > 0, "the fake GPU server did not start");
        *ret_port = port;
}

void fake_gpu_stop(pid_t *pid) {
        if (*pid <= 0)
                return;
        kill(*pid, SIGTERM);
        waitpid(*pid, NULL, 0);
        *pid = -1;
}

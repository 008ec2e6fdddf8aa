/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Running the `openshell` binary from a Check test, as a user would: its exit status, standard output
 * and standard error, in an environment that cannot reach the real system. */

#include <stddef.h>
#include <sys/types.h>

typedef struct CliRun {
        int status; /* the exit status, or 128 + the signal that killed it */
        char out[65536];
        char err[65536];
} CliRun;

/* The binary: $OPENSHELL_CLI (meson sets it), else "openshell". */
const char *cli_path(void);

/* Reads fd from its start into buf, NUL-terminated (at most size - 1 bytes). */
void cli_read_fd(int fd, char *buf, size_t size);

/* Runs the CLI with args (NULL-terminated, without the program name). OPENSHELL_ROOT_DIR is set to
 * root, the system bus to a path that does not exist; env_extra holds further "K=V" strings or is NULL. */
void cli_run(CliRun *r, const char *root, char *const *env_extra, char *const *args);

/* Starts tests/fake/openshell-fake-gpu ($OPENSHELL_FAKE_GPU) on a free loopback port, serving the model
 * "served-model" and requiring api_key; extra holds further options or is NULL. Returns once it
 * listens (its "listening on ... port N" line, read through a pipe, says so and which port). */
void fake_gpu_start(const char *api_key, const char *extra, pid_t *ret_pid, unsigned *ret_port);
/* Stops it (SIGTERM, waits); *pid becomes -1. Does nothing for -1. */
void fake_gpu_stop(pid_t *pid);

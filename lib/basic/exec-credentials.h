/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The credential names under which the supervisor hands openshell-exec the compiled Landlock ruleset
 * and seccomp filter (LoadCredential=), and under which openshell-exec finds them in
 * $CREDENTIALS_DIRECTORY. Definitions only: openshell-exec includes this header and links nothing. */

#define SANDBOX_LANDLOCK_CREDENTIAL "openshell-landlock"
#define SANDBOX_SECCOMP_CREDENTIAL "openshell-seccomp.bpf"

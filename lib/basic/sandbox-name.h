/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "macro.h"

/* A sandbox name is a unit instance name everyone can type: letters, digits, '-' and '_', starting
 * with a letter or digit, at most SANDBOX_NAME_MAX characters (it also names the agent unit, the
 * slice and the network namespace, so it must stay short and free of escaping). */
#define SANDBOX_NAME_MAX 63

bool sandbox_name_is_valid(const char *name) _pure_;

/* Paths and unit names derived from a sandbox name. All return -EINVAL for an invalid name. */
int sandbox_spec_path(const char *name, char **ret);
int sandbox_workdir_path(const char *name, char **ret);
int sandbox_supervisor_unit(const char *name, char **ret);
int sandbox_agent_unit(const char *name, char **ret);
int sandbox_runtime_path(const char *name, char **ret);
/* The copy of a policy `openshell sandbox create --policy` installs for this sandbox (the supervisor
 * runs with ProtectHome=, so a policy in a home directory is copied where it can read it). */
int sandbox_policy_copy_path(const char *name, char **ret);
/* openshell-NAME.slice below openshell.slice; '-' in NAME is escaped ("\x2d"), since a dash in a
 * slice name means one level deeper. */
int sandbox_slice_unit(const char *name, char **ret);
/* The dynamic user of openshell-proxy@NAME.service: "openshell-proxy-NAME" when that fits in
 * systemd's 31 characters (returns 0: the unit's own User= says so), else "openshell-prox_" and 16
 * hex digits of a hash of NAME (returns 1: a drop-in must say so). The '_' keeps the two forms apart.
 * The supervisor's namespace tool writes that drop-in; the broker looks the user up to trust the
 * proxy of sandbox NAME (services/broker/README.md). */
#define SANDBOX_PROXY_USER_MAX 31
int sandbox_proxy_user_name(const char *name, char **ret);

#define SANDBOX_SPEC_DIR "/etc/openshell/sandboxes"
#define SANDBOX_STATE_DIR "/var/lib/openshell/sandboxes"
#define SANDBOX_POLICIES_DIR "/etc/openshell/policies"
/* The policy of a sandbox whose spec and profile name none; profiles are PROFILES_DIR/NAME/{sandbox,policy}.yaml. */
#define SANDBOX_DEFAULT_POLICY DATADIR "/policies/default.yaml"
#define SANDBOX_PROFILES_DIR DATADIR "/profiles"
/* The supervisor's runtime folder (RuntimeDirectory=): what it applied, for `openshell sandbox exec`. */
#define SANDBOX_RUNTIME_DIR "/run/openshell/sandboxes"
#define SANDBOX_AGENT_PROPERTIES "agent.properties"
#define SANDBOX_WORKDIR_IN_SANDBOX "/sandbox"
#define SANDBOX_SUPERVISOR_PREFIX "openshell-sandbox@"
#define SANDBOX_AGENT_PREFIX "openshell-agent-"

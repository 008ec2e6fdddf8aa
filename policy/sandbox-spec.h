/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A sandbox's spec: /etc/openshell/sandboxes/NAME.yaml (see DESIGN.md "A sandbox's spec"). */

#include "diag.h"
#include "yaml-node.h"

typedef struct SandboxSpec {
        char **command;     /* argv of the agent, never empty */
        char **environment; /* "KEY=VALUE" entries, in file order */
} SandboxSpec;

SandboxSpec *sandbox_spec_free(SandboxSpec *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(SandboxSpec *, sandbox_spec_free);

/* Loads and validates a spec. Every problem found is added to diags; the result is -EBADMSG when
 * the file is invalid (nothing is returned then), another negative errno for I/O or memory errors. */
int sandbox_spec_load(const char *path, SandboxSpec **ret, DiagList *diags);
int sandbox_spec_parse(const char *name, const YamlNode *root, SandboxSpec **ret, DiagList *diags);

bool environment_name_is_valid(const char *name) _pure_;

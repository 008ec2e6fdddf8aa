/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A sandbox's spec: /etc/openshell/sandboxes/NAME.yaml (see DESIGN.md "A sandbox's spec"). */

#include "diag.h"
#include "yaml-node.h"

#define SANDBOX_FORWARDS_MAX 64U
#define SANDBOX_PROVIDERS_MAX 64U

typedef struct SandboxSpec {
        char **command;     /* argv of the agent; NULL only when a profile gives one */
        char **environment; /* "KEY=VALUE" entries, in file order */
        char *policy;       /* absolute path of the policy file, or NULL for the default */
        char *profile;      /* name of a shipped profile (--from), or NULL */
        char **providers;   /* provider names (recorded; take effect with the egress work) */
        uint16_t *forward;  /* ports forwarded from host 127.0.0.1:PORT into the sandbox */
        size_t n_forward;
        bool keep;          /* false: the sandbox is removed when its command exits */
} SandboxSpec;

SandboxSpec *sandbox_spec_free(SandboxSpec *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(SandboxSpec *, sandbox_spec_free);

/* Loads and validates a spec. Every problem found is added to diags; the result is -EBADMSG when
 * the file is invalid (nothing is returned then), another negative errno for I/O or memory errors. */
int sandbox_spec_load(const char *path, SandboxSpec **ret, DiagList *diags);
int sandbox_spec_parse(const char *name, const YamlNode *root, SandboxSpec **ret, DiagList *diags);

bool environment_name_is_valid(const char *name) _pure_;
/* A profile or provider name: the same rule as sandbox names. */
bool spec_object_name_is_valid(const char *name) _pure_;

/* Writes the spec as YAML that sandbox_spec_parse() reads back to the same spec. */
int sandbox_spec_write(const SandboxSpec *s, FILE *f);

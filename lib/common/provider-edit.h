/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What `openshell provider create|update` change in a provider and its credentials
 * (inference-files.h), checked as the broker will use them. Nothing here logs: a refused value is
 * -EINVAL (or -EOPNOTSUPP) with a message for a person in *ret_error, written only on failure;
 * something stored despite a doubt is a message appended to *warnings, which the caller owns and
 * prints even when a later step fails. -ENOMEM comes without a message. */

#include "inference-files.h"
#include "macro.h"

/* Provider names follow sandbox names (sandbox-name.h). */
int provider_name_check(const char *name, char **ret_error);
/* openai|nvidia|anthropic. Upstream's other types (SPEC.md §5.1) are -EOPNOTSUPP ("not supported
 * yet"); anything else is -EINVAL, with a "did you mean" when a supported type is close. */
int provider_type_parse(const char *s, ProviderType *ret, char **ret_error);
/* The config keys a type uses (SPEC.md §5.1), NULL-terminated; NULL for an invalid type. */
const char *const *provider_type_config_keys(ProviderType t) _pure_;

/* The --credential and --config options of one command. */
typedef struct ProviderEdit {
        char **credentials; /* KEY=VALUE; VALUE "" on update means remove */
        char **config;      /* KEY=VALUE; VALUE "" on update means remove */
        bool from_existing; /* take the type's API key from the environment */
} ProviderEdit;

/* Erases the secrets, then frees. */
void provider_edit_done(ProviderEdit *e);

/* KEY=VALUE, or a bare KEY whose value comes from the environment (upstream's way to keep it out of the
 * shell's history). An empty VALUE is refused unless update (then it removes KEY); a KEY given twice
 * is refused. */
int provider_edit_add_credential(ProviderEdit *e, const char *arg, bool update, char **ret_error);
/* KEY=VALUE; a *_BASE_URL value is normalized (base_url_normalize()). */
int provider_edit_add_config(ProviderEdit *e, const char *arg, bool update, char **ret_error);

/* Applies e to p and to its credentials *creds (KEY=VALUE), and sets p->credential_keys to the keys of
 * *creds. A config key the type does not use is refused if it looks like a misspelt one it uses, else
 * stored with a warning; a credential other than the type's API key is stored with a warning. */
int provider_edit_apply(const ProviderEdit *e, ProviderFile *p, char ***creds, char ***warnings,
                        char **ret_error);

/* Overwrites every string of a KEY=VALUE vector of secrets with zeros (the vector stays allocated). */
void credentials_erase(char **kv);

/* The names of the routes of inference.yaml that use the provider NAME (NULL: none). */
int provider_routes_using(const char *name, char ***ret);

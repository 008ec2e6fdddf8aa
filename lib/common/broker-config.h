/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The broker's configuration (DESIGN.md "Files"): providers in CONFIG_DIR/providers/NAME.yaml
 * (`type`, `config`, `credential_keys`; no secrets), their secrets as KEY=VALUE lines in a credential
 * file per provider, and the routes in CONFIG_DIR/inference.yaml. Loading never logs: problems go to a
 * DiagList with FILE:LINE:COLUMN. */

#include <stdint.h>

#include "diag.h"
#include "yaml-node.h"

#define BROKER_CONFIG_DIR "/etc/openshell"
#define BROKER_CREDENTIALS_DIR "/etc/openshell/credentials"
/* LoadCredential=providers:/etc/openshell/credentials loads each file NAME of that directory as the
 * credential "providers_NAME" (systemd.exec(5), LoadCredential= with a directory). */
#define BROKER_CREDENTIAL_PREFIX "providers_"
#define BROKER_DEFAULT_ROUTE "inference.local"
#define BROKER_ROUTES_MAX 64U
#define BROKER_BACKENDS_MAX 64U
#define BROKER_CREDENTIAL_FILE_MAX (64U * 1024U)
#define BROKER_TIMEOUT_DEFAULT_SEC 60U

typedef enum ProviderType {
        PROVIDER_OPENAI,
        PROVIDER_NVIDIA,
        PROVIDER_ANTHROPIC,
        _PROVIDER_TYPE_MAX,
        _PROVIDER_TYPE_INVALID = -EINVAL,
} ProviderType;

const char *provider_type_to_string(ProviderType t) _pure_;
ProviderType provider_type_from_string(const char *s) _pure_;
/* OPENAI_BASE_URL, OPENAI_API_KEY, https://api.openai.com/v1, ... (openshell/SPEC.md §2.9, §5.1). */
const char *provider_type_base_url_key(ProviderType t) _pure_;
const char *provider_type_api_key(ProviderType t) _pure_;
const char *provider_type_default_base_url(ProviderType t) _pure_;

typedef struct Provider {
        char *name;
        ProviderType type;
        char *base_url;         /* without trailing '/' */
        char **config;          /* KEY=VALUE, as written */
        char **credential_keys; /* names only */
        char *api_key;          /* the secret injected upstream; NULL if the provider has none */
} Provider;

typedef struct BackendState BackendState; /* runtime health, owned by the router (services/broker/broker-backend.h) */

typedef struct RouteBackend {
        char *url; /* base URL without trailing '/', e.g. http://127.0.0.1:8000/v1 */
        unsigned weight;
        BackendState *state;
} RouteBackend;

typedef struct Route {
        char *name;
        char *model;
        Provider *provider;
        RouteBackend *backends;
        size_t n_backends;
        unsigned timeout_sec;
        unsigned max_concurrency_per_sandbox; /* 0: unlimited */
} Route;

typedef struct BrokerConfig {
        unsigned n_ref;
        Route *routes;
        size_t n_routes;
        Provider **providers;
        size_t n_providers;
} BrokerConfig;

BrokerConfig *broker_config_ref(BrokerConfig *c);
BrokerConfig *broker_config_unref(BrokerConfig *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(BrokerConfig *, broker_config_unref);

bool provider_name_is_valid(const char *name) _pure_;

/* Parses inference.yaml's tree (root may be NULL for an empty file). Providers are loaded from
 * providers_dir/NAME.yaml; secrets from credentials_dir/PREFIX NAME (prefix "" or "providers_").
 * Returns -EBADMSG with diags filled when something is invalid. */
int broker_config_parse(const char *file, const YamlNode *root, const char *providers_dir,
                        const char *credentials_dir, const char *credential_prefix, BrokerConfig **ret,
                        DiagList *diags);
/* Loads config_dir/inference.yaml; a missing file is a valid configuration without routes. */
int broker_config_load(const char *config_dir, const char *credentials_dir, const char *credential_prefix,
                       BrokerConfig **ret, DiagList *diags);

int provider_parse(const char *file, const char *name, const YamlNode *root, Provider **ret, DiagList *diags);
Provider *provider_free(Provider *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Provider *, provider_free);
/* Reads KEY=VALUE lines; the value of key (or NULL if absent) in *ret. -ENOENT if the file is missing,
 * -EBADMSG if a line is not KEY=VALUE. */
int credentials_parse(const char *data, size_t size, const char *key, char **ret);

const Route *broker_config_find_route(const BrokerConfig *c, const char *name) _pure_;

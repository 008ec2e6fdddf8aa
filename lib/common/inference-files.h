/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The files `openshell provider` and `openshell inference` write (DESIGN.md "Files"), read back with
 * the broker's own parser (services/broker/broker-config.h) so both always agree:
 *
 *   /etc/openshell/providers/NAME.yaml     0644  type, config (KEY: VALUE), credential_keys (names)
 *   /etc/openshell/credentials/NAME        0600 root, directory 0700: KEY=VALUE lines, the secrets
 *   /etc/openshell/inference.yaml          0644  routes: [{name, provider, model, backends, timeout_seconds}]
 *
 * Every file is replaced atomically (temporary file in the same directory, fsync, rename, fsync of
 * the directory). For tests, the environment variable OPENSHELL_ROOT_DIR is prepended to
 * /etc/openshell (and to nothing else): OPENSHELL_ROOT_DIR=/tmp/x makes the CLI use
 * /tmp/x/etc/openshell. */

#include "broker-config.h"
#include "diag.h"
#include "macro.h"

#define INFERENCE_ROUTE_DEFAULT "inference.local"
#define INFERENCE_ROUTE_SYSTEM "system"
#define INFERENCE_TIMEOUT_MAX 3600U
#define CREDENTIAL_VALUE_MAX 16384U

/* "${OPENSHELL_ROOT_DIR}/etc/openshell" + "/" + rel (rel may be NULL for the directory itself). */
int openshell_etc_path(const char *rel, char **ret);

/* Appends s to f as a YAML scalar that reads back as exactly s: plain when that is unambiguous,
 * else double-quoted with escapes. */
void yaml_print_string(FILE *f, const char *s);

/* KEY=VALUE as given on the command line: KEY matches [A-Za-z_][A-Za-z0-9_]*, VALUE has no newline or
 * NUL (it is stored on one line). With allow_bare, "KEY" alone is accepted and *ret_value is NULL. */
int parse_key_value(const char *arg, bool allow_bare, char **ret_key, char **ret_value, char **ret_error);
bool env_key_is_valid(const char *key) _pure_;

/* A provider as the CLI edits it. config and credentials are KEY=VALUE string vectors. */
typedef struct ProviderFile {
        char *name;
        ProviderType type;
        char **config;
        char **credential_keys;
} ProviderFile;

void provider_file_done(ProviderFile *p);

/* Loads providers/NAME.yaml with the broker's parser. -ENOENT if absent, -EBADMSG (diags filled). */
int provider_file_load(const char *name, ProviderFile *ret, DiagList *diags);
int provider_file_save(const ProviderFile *p);
/* Formats the YAML text of a provider (what provider_file_save writes). */
int provider_file_format(const ProviderFile *p, char **ret);
/* Names of all providers (sorted), from providers/ *.yaml. */
int provider_list_names(char ***ret);

/* credentials/NAME: KEY=VALUE lines. -ENOENT if absent. */
int credentials_load(const char *name, char ***ret);
int credentials_save(const char *name, char *const *kv);
int credentials_format(char *const *kv, char **ret);
/* Sets KEY to VALUE in a KEY=VALUE vector (replacing an earlier value). */
int kv_set(char ***l, const char *key, const char *value);
/* The value of KEY in a KEY=VALUE vector, or NULL. */
const char *kv_get(char *const *l, const char *key) _pure_;
int kv_unset(char **l, const char *key);

typedef struct InferenceBackend {
        char *url;
        unsigned weight;
} InferenceBackend;

typedef struct InferenceRoute {
        char *name;
        char *provider;
        char *model;
        InferenceBackend *backends;
        size_t n_backends;
        unsigned timeout_seconds; /* 0: not written (broker default 60) */
        unsigned max_concurrency_per_sandbox; /* 0: not written */
} InferenceRoute;

typedef struct InferenceFile {
        InferenceRoute *routes;
        size_t n_routes;
} InferenceFile;

void inference_route_done(InferenceRoute *r);
void inference_file_done(InferenceFile *f);
/* Loads inference.yaml (a missing file is an empty one). Strict: the broker's keys only. */
int inference_file_load(InferenceFile *ret, DiagList *diags);
int inference_file_parse(const char *file, const char *text, size_t size, InferenceFile *ret,
                         DiagList *diags);
int inference_file_format(const InferenceFile *f, char **ret);
int inference_file_save(const InferenceFile *f);
InferenceRoute *inference_file_find(const InferenceFile *f, const char *name) _pure_;
/* Adds or replaces the route with r's name; takes the contents of *r. */
int inference_file_put(InferenceFile *f, InferenceRoute *r);
int inference_file_remove(InferenceFile *f, const char *name);

/* "http://127.0.0.1:8000/v1": http or https, a host, no spaces; trailing '/' removed. */
int base_url_normalize(const char *url, char **ret, char **ret_error);

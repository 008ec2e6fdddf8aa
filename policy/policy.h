/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The sandbox policy: upstream OpenShell's policy YAML (openshell/SPEC.md §1), read into a tree that
 * remembers where every item was written, validated with upstream's rules and messages, plus the
 * extensions of this project under the top-level key "x-openshell" (see policy/README.md).
 *
 * Lifecycle: policy_load_file()/policy_load_buffer() parse AND validate; a Policy returned by them is
 * valid and has its shorthands expanded (`port` -> `ports`, access presets -> rules, hosts lowercased
 * and IDN-encoded, paths normalised). policy_compile() (policy-compile.h) turns it into what the
 * sandbox is made of. */

#include "diag.h"
#include "yaml-node.h"

/* Upstream limits (SPEC.md §1.12). */
#define POLICY_PATH_LENGTH_MAX 4096U
#define POLICY_PATHS_MAX 256U
/* Our own bounds: far above any hand-written policy, low enough that a generated one cannot make the
 * compiler or the proxy's matcher slow. */
#define POLICY_RULES_MAX 4096U
#define POLICY_ENDPOINTS_MAX 65536U
#define POLICY_PORTS_MAX 1024U
#define POLICY_L7_RULES_MAX 1024U
#define POLICY_STRING_MAX 65536U
#define POLICY_HOST_LENGTH_MAX 253U
#define POLICY_GPU_DEVICES_MAX 64U

typedef struct PolicyPlace {
        unsigned line, column; /* 1-based, 0 if the item was not written (a default) */
} PolicyPlace;

typedef enum PolicyProtocol {
        POLICY_PROTOCOL_NONE,      /* "" or absent: L4 passthrough through the proxy */
        POLICY_PROTOCOL_REST,
        POLICY_PROTOCOL_WEBSOCKET,
        POLICY_PROTOCOL_TCP,       /* refused: transparent TCP capture is not implemented yet */
        POLICY_PROTOCOL_GRAPHQL,   /* refused: not supported yet */
        POLICY_PROTOCOL_SQL,       /* refused: not supported yet */
        POLICY_PROTOCOL_JSON_RPC,  /* refused: not supported yet */
        POLICY_PROTOCOL_MCP,       /* refused: not supported yet */
        _POLICY_PROTOCOL_MAX,
        _POLICY_PROTOCOL_INVALID = -EINVAL,
} PolicyProtocol;

typedef enum PolicyTls {
        POLICY_TLS_AUTO,        /* "" or absent */
        POLICY_TLS_SKIP,
        POLICY_TLS_TERMINATE,   /* deprecated no-op upstream: accepted with a warning, same as auto */
        POLICY_TLS_PASSTHROUGH, /* deprecated no-op upstream: accepted with a warning, same as auto */
        _POLICY_TLS_MAX,
        _POLICY_TLS_INVALID = -EINVAL,
} PolicyTls;

typedef enum PolicyEnforcement {
        POLICY_ENFORCEMENT_AUDIT, /* upstream's default: L7 violations are logged and forwarded */
        POLICY_ENFORCEMENT_ENFORCE,
        _POLICY_ENFORCEMENT_MAX,
        _POLICY_ENFORCEMENT_INVALID = -EINVAL,
} PolicyEnforcement;

typedef enum PolicyAccess {
        POLICY_ACCESS_NONE,
        POLICY_ACCESS_READ_ONLY,
        POLICY_ACCESS_READ_WRITE,
        POLICY_ACCESS_FULL,
        _POLICY_ACCESS_MAX,
        _POLICY_ACCESS_INVALID = -EINVAL,
} PolicyAccess;

typedef enum PolicyLandlockCompat {
        POLICY_LANDLOCK_BEST_EFFORT,
        POLICY_LANDLOCK_HARD_REQUIREMENT,
        _POLICY_LANDLOCK_COMPAT_MAX,
        _POLICY_LANDLOCK_COMPAT_INVALID = -EINVAL,
} PolicyLandlockCompat;

/* A string with the place it was written: filesystem paths (lexically normalised: no "//", no
 * trailing '/'), CIDRs, syscall names. */
typedef struct PolicyPath {
        PolicyPlace place;
        size_t index; /* position in the list as written (entries that did not parse are left out) */
        char *path;
} PolicyPath;

/* One query condition of an L7 rule: the parameter must match one of the globs. */
typedef struct PolicyL7Query {
        char *param;
        char **globs; /* "any" alternatives; a plain string is a one-element list */
} PolicyL7Query;

typedef struct PolicyL7Rule {
        PolicyPlace place;
        size_t index; /* position in rules/deny_rules as written */
        char *method; /* uppercase HTTP method, "*", or WEBSOCKET_TEXT */
        char *path;   /* glob; "**" when absent */
        PolicyL7Query *query;
        size_t n_query;
} PolicyL7Rule;

typedef struct PolicyEndpoint {
        PolicyPlace place;
        PolicyPlace host_place, ports_place, protocol_place;
        char *host;        /* lowercased, IDN labels in punycode; "" for host-less (allowed_ips) endpoints */
        uint16_t *ports;   /* sorted, unique; `port: N` is normalised into this */
        size_t n_ports;
        char *path;        /* HTTP path glob or NULL */
        PolicyProtocol protocol;
        PolicyTls tls;
        PolicyEnforcement enforcement;
        PolicyAccess access;
        bool enforcement_set;
        bool rules_set, deny_rules_set;
        PolicyL7Rule *rules; /* allow rules, access presets expanded into this */
        size_t n_rules;
        PolicyL7Rule *deny_rules;
        size_t n_deny_rules;
        struct PolicyPath *allowed_ips; /* IP addresses or CIDRs as written (validated) */
        size_t n_allowed_ips;
        /* Parts that did not parse (already reported): their follow-up checks are skipped, so one
         * mistake gives one message. */
        bool ports_invalid, host_invalid, l7_invalid, unusable;
        bool allow_encoded_slash;
} PolicyEndpoint;

typedef struct PolicyBinary {
        PolicyPlace place;
        size_t index; /* position in binaries as written */
        char *path; /* absolute path or glob ('/' is the delimiter) */
} PolicyBinary;

typedef struct PolicyRule {
        PolicyPlace place;
        char *key;  /* the network_policies map key: the rule's stable id */
        char *name; /* display name; the key when absent */
        PolicyPlace name_place;
        PolicyEndpoint *endpoints;
        size_t n_endpoints;
        PolicyBinary *binaries;
        size_t n_binaries;
        bool endpoints_invalid, binaries_invalid, unusable; /* did not parse (already reported) */
} PolicyRule;


/* Values of the x-openshell.resources extension; 0 (or UINT64_MAX where noted) means "not set". */
typedef struct PolicyResources {
        uint64_t memory_max;       /* bytes; UINT64_MAX = infinity */
        uint64_t memory_high;      /* bytes; UINT64_MAX = infinity */
        uint64_t cpu_quota_percent;
        uint64_t cpu_weight;       /* 1..10000 */
        uint64_t tasks_max;        /* UINT64_MAX = infinity */
        uint64_t open_files;
} PolicyResources;

typedef struct Policy {
        char *file;
        unsigned version;

        /* filesystem_policy */
        bool has_filesystem_policy;
        bool include_workdir;
        PolicyPath *read_only;
        size_t n_read_only;
        PolicyPath *read_write;
        size_t n_read_write;

        /* landlock */
        PolicyLandlockCompat landlock_compatibility;
        bool landlock_set;
        PolicyPlace landlock_place;

        /* process: NULL when omitted; "sandbox" or a numeric id otherwise */
        char *run_as_user;
        char *run_as_group;
        PolicyPlace run_as_user_place, run_as_group_place;

        /* network_policies, in file order */
        PolicyRule *rules;
        size_t n_rules;

        /* x-openshell extensions */
        bool has_resources;
        PolicyPlace resources_place;
        PolicyResources resources;
        bool gpu_all;
        unsigned *gpu_devices; /* /dev/nvidiaN indices */
        size_t n_gpu_devices;
        PolicyPath *syscalls_allow; /* removed from the default extra deny set */
        size_t n_syscalls_allow;
        PolicyPath *syscalls_deny;  /* added to it */
        size_t n_syscalls_deny;
        PolicyPath *inaccessible;
        size_t n_inaccessible;
        bool memory_deny_write_execute; /* opt-in: default false, JIT runtimes need W+X memory */
        uint16_t *tcp_connect_ports;    /* loopback ports besides the proxy the agent may connect to */
        size_t n_tcp_connect_ports;
        uint16_t *tcp_bind_ports;       /* if set, Landlock restricts bind() to these */
        size_t n_tcp_bind_ports;
        bool tcp_bind_restricted;
} Policy;

Policy *policy_free(Policy *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Policy *, policy_free);

/* Parses and validates. Every problem is added to diags (errors and warnings); the result is -EBADMSG
 * if there was at least one error (nothing returned then), another negative errno for I/O or memory
 * errors. Warnings alone do not fail. */
int policy_load_file(const char *path, Policy **ret, DiagList *diags);
int policy_load_buffer(const char *name, const void *data, size_t size, Policy **ret, DiagList *diags);
/* The two steps, for callers that already hold a YAML tree (e.g. a sandbox spec with an inline policy).
 * policy_parse() checks structure and types; policy_validate() the rules of SPEC.md §1.12 and ours. */
int policy_parse(const char *file, const YamlNode *root, Policy **ret, DiagList *diags);
int policy_validate(Policy *p, DiagList *diags);
/* A reload of a running sandbox may change network_policies only: checks that candidate keeps every
 * static part of running (filesystem, process, landlock, x-openshell), with upstream's messages
 * (SPEC.md §1.11). Added paths are warnings (they take effect on restart). -EBADMSG if refused. */
int policy_check_reload(const Policy *running, const Policy *candidate, DiagList *diags);

const char *policy_protocol_to_string(PolicyProtocol p) _pure_;
PolicyProtocol policy_protocol_from_string(const char *s) _pure_;
const char *policy_tls_to_string(PolicyTls t) _pure_;
PolicyTls policy_tls_from_string(const char *s) _pure_;
const char *policy_enforcement_to_string(PolicyEnforcement e) _pure_;
PolicyEnforcement policy_enforcement_from_string(const char *s) _pure_;
const char *policy_access_to_string(PolicyAccess a) _pure_;
PolicyAccess policy_access_from_string(const char *s) _pure_;
const char *policy_landlock_compat_to_string(PolicyLandlockCompat c) _pure_;
PolicyLandlockCompat policy_landlock_compat_from_string(const char *s) _pure_;

/* Host normalisation: lowercases ASCII (and Latin-1/Greek/Cyrillic capitals), strips one trailing '.',
 * and encodes labels with non-ASCII characters as punycode ("xn--"). -EINVAL for invalid UTF-8. */
int policy_host_normalize(const char *host, char **ret);
/* Lexical path normalisation as upstream does it: collapse "//", strip trailing '/' (keeps "/"). */
int policy_path_normalize(const char *path, char **ret);

/* Glob matching as upstream's Rego glob.match(pattern, [delim], text): '*' matches any run of
 * characters except delim, '**' any run including delim, '?' one non-delim character, '[...]' a class
 * ('!' negates, ranges with '-'). */
bool policy_glob_match(const char *pattern, const char *text, char delim) _pure_;

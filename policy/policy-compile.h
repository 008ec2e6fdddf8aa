/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What an agent gets when its policy sets no x-openshell.resources. */
#define POLICY_DEFAULT_MEMORY_MAX (UINT64_C(4) << 30)
#define POLICY_DEFAULT_TASKS_MAX 512U

/* The policy compiler: one function from a validated Policy to the four things a sandbox is made of
 * (DESIGN.md "Policy"), each plain data with a printed form (policy-print.c):
 *   1. systemd unit properties for the transient agent unit ("Key=Value", unit-file spelling),
 *   2. the Landlock ruleset (paths -> access rights, TCP ports, scopes; masked per kernel ABI at apply),
 *   3. the extra seccomp filter for what SystemCallFilter= cannot express (argument filters),
 *   4. the egress table the proxy decides with (policy_egress_match()). */

#include <seccomp.h>

#include "policy.h"

/* Landlock rights, with the values of the kernel's <linux/landlock.h>: defined here because build
 * hosts' headers lag behind the kernels sandboxes run on. */
#define LL_FS_EXECUTE (UINT64_C(1) << 0)
#define LL_FS_WRITE_FILE (UINT64_C(1) << 1)
#define LL_FS_READ_FILE (UINT64_C(1) << 2)
#define LL_FS_READ_DIR (UINT64_C(1) << 3)
#define LL_FS_REMOVE_DIR (UINT64_C(1) << 4)
#define LL_FS_REMOVE_FILE (UINT64_C(1) << 5)
#define LL_FS_MAKE_CHAR (UINT64_C(1) << 6)
#define LL_FS_MAKE_DIR (UINT64_C(1) << 7)
#define LL_FS_MAKE_REG (UINT64_C(1) << 8)
#define LL_FS_MAKE_SOCK (UINT64_C(1) << 9)
#define LL_FS_MAKE_FIFO (UINT64_C(1) << 10)
#define LL_FS_MAKE_BLOCK (UINT64_C(1) << 11)
#define LL_FS_MAKE_SYM (UINT64_C(1) << 12)
#define LL_FS_REFER (UINT64_C(1) << 13)    /* ABI 2 */
#define LL_FS_TRUNCATE (UINT64_C(1) << 14) /* ABI 3 */
#define LL_FS_IOCTL_DEV (UINT64_C(1) << 15) /* ABI 5 */
#define LL_NET_BIND_TCP (UINT64_C(1) << 0)    /* ABI 4 */
#define LL_NET_CONNECT_TCP (UINT64_C(1) << 1) /* ABI 4 */
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (UINT64_C(1) << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (UINT64_C(1) << 1)               /* ABI 6 */
#define LL_ABI_MAX 6U

#define LL_FS_READ_ONLY (LL_FS_EXECUTE | LL_FS_READ_FILE | LL_FS_READ_DIR)
/* What a rule on a non-directory may carry (the kernel refuses directory rights on files). */
#define LL_FS_FILE_RIGHTS (LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_TRUNCATE | LL_FS_IOCTL_DEV)

/* Rights a kernel with Landlock ABI abi knows (0 for abi 0: no Landlock). */
uint64_t landlock_fs_rights_for_abi(unsigned abi) _pure_;
uint64_t landlock_net_rights_for_abi(unsigned abi) _pure_;
uint64_t landlock_scope_for_abi(unsigned abi) _pure_;
/* "execute,read_file,read_dir" for printing; names of the fs rights in bit order. */
const char *landlock_fs_right_to_string(unsigned bit) _pure_;

typedef enum LandlockOrigin {
        LANDLOCK_ORIGIN_POLICY,   /* filesystem_policy.read_only / read_write */
        LANDLOCK_ORIGIN_WORKDIR,  /* include_workdir */
        LANDLOCK_ORIGIN_BASELINE, /* added for every sandbox, as upstream's supervisor does */
        LANDLOCK_ORIGIN_GPU,      /* x-openshell.gpu */
        _LANDLOCK_ORIGIN_MAX,
        _LANDLOCK_ORIGIN_INVALID = -EINVAL,
} LandlockOrigin;

const char *landlock_origin_to_string(LandlockOrigin o) _pure_;

typedef struct LandlockPathRule {
        char *path;
        uint64_t access; /* at LL_ABI_MAX; mask with landlock_fs_rights_for_abi() at apply time */
        LandlockOrigin origin;
} LandlockPathRule;

typedef struct LandlockPortRule {
        uint16_t port;
        uint64_t access; /* LL_NET_* */
} LandlockPortRule;

typedef struct PolicyLandlock {
        PolicyLandlockCompat compatibility;
        uint64_t handled_fs, handled_net, scoped; /* at LL_ABI_MAX */
        LandlockPathRule *paths; /* sorted by path, unique */
        size_t n_paths;
        LandlockPortRule *ports; /* sorted by port */
        size_t n_ports;
} PolicyLandlock;

/* ---- seccomp ---- */

typedef enum SeccompOp {
        SECCOMP_OP_EQ,
        SECCOMP_OP_NE,
        SECCOMP_OP_MASKED_EQ, /* (arg & mask) == value */
        _SECCOMP_OP_MAX,
        _SECCOMP_OP_INVALID = -EINVAL,
} SeccompOp;

typedef struct SeccompArg {
        unsigned index;
        SeccompOp op;
        uint64_t mask;
        uint64_t value;
        const char *value_name; /* "AF_PACKET", "CLONE_NEWUSER", ... */
} SeccompArg;

typedef struct SeccompRule {
        const char *syscall;
        int error;         /* errno returned (EPERM, or ENOSYS for clone3) */
        SeccompArg args[2]; /* all must hold (AND) */
        unsigned n_args;
        const char *why;
} SeccompRule;

typedef struct PolicySeccomp {
        SeccompRule *rules; /* the filter's default action is "allow": systemd's filter is the allow list */
        size_t n_rules;
} PolicySeccomp;

/* Builds the filter for the local architectures (x86-64 + x86 + x32, or arm64 + arm, else native
 * only); syscalls of other architectures kill the process. */
int policy_seccomp_build(const PolicySeccomp *s, scmp_filter_ctx *ret);
/* Writes the BPF program (struct sock_filter[]) to fd, as seccomp_export_bpf() does. */
int policy_seccomp_export_bpf(const PolicySeccomp *s, int fd);
const char *seccomp_op_to_string(SeccompOp op) _pure_;

/* ---- egress ---- */

typedef enum EgressDecision {
        EGRESS_DENY,
        EGRESS_ALLOW,
        _EGRESS_DECISION_MAX,
        _EGRESS_DECISION_INVALID = -EINVAL,
} EgressDecision;

typedef enum EgressReason {
        EGRESS_REASON_ALLOWED,
        EGRESS_REASON_NO_POLICIES,     /* "network connections not allowed by policy" */
        EGRESS_REASON_NO_ENDPOINT,     /* "endpoint H:P is not allowed by any policy" */
        EGRESS_REASON_BINARY,          /* "binary 'X' not allowed in policy 'K'" */
        _EGRESS_REASON_MAX,
        _EGRESS_REASON_INVALID = -EINVAL,
} EgressReason;

typedef struct EgressEntry {
        const PolicyRule *rule;         /* points into the Policy, which must outlive the table */
        const PolicyEndpoint *endpoint;
        size_t endpoint_index;
} EgressEntry;

typedef struct PolicyEgress {
        EgressEntry *entries; /* sorted by rule key (then file order): the first match is the smallest key */
        size_t n_entries;
} PolicyEgress;

typedef struct EgressMatch {
        EgressDecision decision;
        EgressReason reason;
        const EgressEntry *entry; /* the matching entry (allow), or NULL */
        const char *rule;         /* its rule key, or NULL */
} EgressMatch;

/* Decides one connection as upstream's Rego does: allowed iff some rule has an endpoint matching
 * host:port AND a binary matching exe or one of its ancestors (glob, '/' delimiter); the rule reported
 * is the lexicographically smallest matching key; no match is deny. host may be a name (compared
 * case-insensitively, after IDN normalisation) or an IP literal (matched by hostless allowed_ips
 * endpoints). ancestors may be NULL. */
int policy_egress_match(const PolicyEgress *t, const char *host, uint16_t port, const char *exe, char *const *ancestors,
                        EgressMatch *ret);
/* Upstream's deny reason text for a decision made by policy_egress_match() with the same arguments,
 * e.g. "binary '/usr/bin/node' not allowed in policy 'api' (ancestors: [/usr/bin/bash -> /usr/bin/node])". */
int policy_egress_reason(const PolicyEgress *t, const EgressMatch *m, const char *host, uint16_t port, const char *exe,
                         char *const *ancestors, char **ret);
const char *egress_decision_to_string(EgressDecision d) _pure_;

typedef enum L7Decision {
        L7_ALLOW,
        L7_DENY_NOT_PERMITTED, /* "<METHOD> <path> not permitted by policy": no allow rule matches */
        L7_DENY_RULE,          /* "<METHOD> <path> blocked by deny rule" */
        _L7_DECISION_MAX,
        _L7_DECISION_INVALID = -EINVAL,
} L7Decision;

typedef struct L7QueryParam {
        const char *name, *value; /* decoded; a parameter given twice is two entries */
} L7QueryParam;

/* The L7 decision for one request on an endpoint with protocol rest/websocket (SPEC.md §1.7, §2.8):
 * deny rules win (one matches when method and path match and, for each of its query conditions, some
 * value of that parameter matches; a missing parameter means the deny rule does not apply); else
 * allowed iff an allow rule matches (method and path, and every value of each conditioned parameter
 * matches one of its globs; a missing parameter does not match). Methods compare exactly, "*" matches
 * any; paths are globs where '*' and '**' cross '/'. The caller applies e->enforcement (audit: log and
 * forward) and, for a scoped endpoint, selects it by e->path first (policy_l7_path_match()). */
L7Decision policy_l7_decide(const PolicyEndpoint *e, const char *method, const char *path, const L7QueryParam *query,
                            size_t n_query);
bool policy_l7_path_match(const char *pattern, const char *path) _pure_;
const char *l7_decision_to_string(L7Decision d) _pure_;

/* Builds the table (used by policy_compile()). */
int policy_egress_build(const Policy *p, PolicyEgress *ret);

/* ---- the compiler ---- */

typedef struct PolicyCompileOptions {
        const char *agent_user; /* what run_as_user 'sandbox' (or none) means; default SANDBOX_AGENT_USER */
        const char *workdir;    /* the workdir inside the sandbox; default "/sandbox" */
        uint16_t proxy_port;    /* the egress proxy on 127.0.0.1 in the sandbox's netns; default 3128 */
} PolicyCompileOptions;

typedef struct PolicyCompiled {
        const Policy *policy; /* not owned; must outlive this */
        char **unit;          /* "Key=Value" */
        PolicyLandlock landlock;
        PolicySeccomp seccomp;
        PolicyEgress egress;
} PolicyCompiled;

PolicyCompiled *policy_compiled_free(PolicyCompiled *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(PolicyCompiled *, policy_compiled_free);

/* o may be NULL for the defaults. */
int policy_compile(const Policy *p, const PolicyCompileOptions *o, PolicyCompiled **ret);

/* Printed forms (`openshell policy compile`): a systemd drop-in with the other three outputs as
 * comments, or JSON (format documented in policy/README.md). */
int policy_print_unit(const PolicyCompiled *c, FILE *f);
int policy_print_json(const PolicyCompiled *c, FILE *f);
/* The Landlock ruleset in the line format openshell-exec reads from an inherited fd (it links neither
 * libyaml nor json-c); see policy/README.md "Landlock ruleset for openshell-exec". */
int policy_landlock_serialize(const PolicyLandlock *l, FILE *f);

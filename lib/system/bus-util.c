/* SPDX-License-Identifier: Apache-2.0 */
#include <limits.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>

#include "bus-util.h"
#include "parse-util.h"
#include "string-util.h"

const char *bus_error_message(const sd_bus_error *e, int r) {
        if (e && e->message)
                return e->message;
        return strerror(r < 0 ? -r : r);
}

int bus_unit_path(const char *unit, char **ret) {
        return sd_bus_path_encode(SYSTEMD_UNIT_PATH_PREFIX, unit, ret);
}

typedef enum AssignmentKind {
        ASSIGN_BOOL,         /* b: yes/no/true/false/1/0/on/off */
        ASSIGN_STRING,       /* s */
        ASSIGN_STRV,         /* as: one element per assignment; repeated keys append */
        ASSIGN_CAPABILITIES, /* t: only the empty set for now ("CapabilityBoundingSet=") */
        ASSIGN_BIND_PATHS,   /* a(ssbt): "[-]SRC[:DST]"; '-' ignores a missing source */
        ASSIGN_UINT64,       /* t: decimal, or "infinity" (UINT64_MAX) */
        ASSIGN_SIZE,         /* t: bytes with an optional K/M/G/T suffix (1024-based), or "infinity" */
        ASSIGN_CPU_QUOTA,    /* "N%" -> CPUQuotaPerSecUSec t (N% of one CPU per second, in µs) */
        ASSIGN_RLIMIT,       /* "N" or "infinity" -> both KEY t and KEYSoft t, as systemd-run does */
        ASSIGN_FILTER_LIST,  /* (bas): "[~]WORD WORD..."; '~' makes it a deny list */
        ASSIGN_WORDS,        /* as: whitespace-separated words */
        ASSIGN_ERRNO,        /* i: errno name (EPERM, EACCES, ENOSYS) or number */
        ASSIGN_NAMESPACES,   /* t: yes (no namespaces may be created) or no */
        ASSIGN_DEVICE_ALLOW, /* a(ss): "PATH [rwm]" */
        ASSIGN_MODE,         /* u: octal */
        ASSIGN_CREDENTIAL,   /* a(ss): "ID:PATH" */
        ASSIGN_TMPFS,        /* a(ss): "PATH[:OPTIONS]" */
        _ASSIGN_KIND_MAX,
} AssignmentKind;

typedef struct AssignmentType {
        const char *key;
        AssignmentKind kind;
} AssignmentType;

/* Every key here exists in systemd 252 (the oldest version supported). */
static const AssignmentType assignment_table[] = {
        { "AmbientCapabilities", ASSIGN_CAPABILITIES },
        { "After", ASSIGN_STRV },
        { "BindPaths", ASSIGN_BIND_PATHS },
        { "BindReadOnlyPaths", ASSIGN_BIND_PATHS },
        { "BindsTo", ASSIGN_STRV },
        { "CapabilityBoundingSet", ASSIGN_CAPABILITIES },
        { "CPUQuota", ASSIGN_CPU_QUOTA },
        { "CPUWeight", ASSIGN_UINT64 },
        { "CollectMode", ASSIGN_STRING },
        { "Description", ASSIGN_STRING },
        { "DeviceAllow", ASSIGN_DEVICE_ALLOW },
        { "DevicePolicy", ASSIGN_STRING },
        { "Environment", ASSIGN_STRV },
        { "Group", ASSIGN_STRING },
        { "InaccessiblePaths", ASSIGN_STRV },
        { "KeyringMode", ASSIGN_STRING },
        { "LimitCORE", ASSIGN_RLIMIT },
        { "LoadCredential", ASSIGN_CREDENTIAL },
        { "LimitNOFILE", ASSIGN_RLIMIT },
        { "LockPersonality", ASSIGN_BOOL },
        { "MemoryDenyWriteExecute", ASSIGN_BOOL },
        { "MemoryHigh", ASSIGN_SIZE },
        { "MemoryMax", ASSIGN_SIZE },
        { "MountAPIVFS", ASSIGN_BOOL },
        { "NetworkNamespacePath", ASSIGN_STRING },
        { "NoNewPrivileges", ASSIGN_BOOL },
        { "PartOf", ASSIGN_STRV },
        { "PrivateDevices", ASSIGN_BOOL },
        { "PrivateNetwork", ASSIGN_BOOL },
        { "PrivateTmp", ASSIGN_BOOL },
        { "ProtectClock", ASSIGN_BOOL },
        { "ProtectControlGroups", ASSIGN_BOOL },
        { "ProtectHome", ASSIGN_STRING },
        { "ProtectHostname", ASSIGN_BOOL },
        { "ProtectKernelLogs", ASSIGN_BOOL },
        { "ProtectKernelModules", ASSIGN_BOOL },
        { "ProtectKernelTunables", ASSIGN_BOOL },
        { "ProtectProc", ASSIGN_STRING },
        { "ProtectSystem", ASSIGN_STRING },
        { "ReadOnlyPaths", ASSIGN_STRV },
        { "ReadWritePaths", ASSIGN_STRV },
        { "Requires", ASSIGN_STRV },
        { "RestrictAddressFamilies", ASSIGN_FILTER_LIST },
        { "RestrictNamespaces", ASSIGN_NAMESPACES },
        { "RestrictRealtime", ASSIGN_BOOL },
        { "RestrictSUIDSGID", ASSIGN_BOOL },
        { "RootDirectory", ASSIGN_STRING },
        { "Slice", ASSIGN_STRING },
        { "SystemCallArchitectures", ASSIGN_WORDS },
        { "SystemCallErrorNumber", ASSIGN_ERRNO },
        { "SystemCallFilter", ASSIGN_FILTER_LIST },
        { "TasksMax", ASSIGN_UINT64 },
        { "TemporaryFileSystem", ASSIGN_TMPFS },
        { "UMask", ASSIGN_MODE },
        { "User", ASSIGN_STRING },
        { "WorkingDirectory", ASSIGN_STRING },
};

static const AssignmentType *assignment_type_find(const char *key, size_t len) {
        for (size_t i = 0; i < ELEMENTSOF(assignment_table); i++)
                if (strlen(assignment_table[i].key) == len && strneq(assignment_table[i].key, key, len))
                        return &assignment_table[i];
        return NULL;
}

bool bus_unit_assignment_key_supported(const char *key) {
        return assignment_type_find(key, strlen(key));
}

static int parse_boolean(const char *v) {
        if (streq(v, "yes") || streq(v, "true") || streq(v, "1") || streq(v, "on"))
                return 1;
        if (streq(v, "no") || streq(v, "false") || streq(v, "0") || streq(v, "off"))
                return 0;
        return -EINVAL;
}

/* Decimal, or "infinity" (UINT64_MAX), as systemd's integer settings take them. */
static int parse_u64_or_infinity(const char *v, uint64_t *ret) {
        if (streq(v, "infinity")) {
                *ret = UINT64_MAX;
                return 0;
        }
        return safe_atou64(v, ret);
}

/* Appends an array of the whitespace-separated words of v ("as" contents, container already open). */
static int append_words(sd_bus_message *m, const char *v) {
        _cleanup_free_ char *copy = strdup(v);
        char *save = NULL;
        int r;

        if (!copy)
                return -ENOMEM;
        r = sd_bus_message_open_container(m, 'a', "s");
        if (r < 0)
                return r;
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                r = sd_bus_message_append(m, "s", w);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

static int append_filter_list(sd_bus_message *m, const char *v) {
        bool allow = *v != '~';
        int r;

        if (!allow)
                v++;
        if (isempty(v))
                return -EINVAL;
        r = sd_bus_message_open_container(m, 'v', "(bas)");
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'r', "bas");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "b", (int) allow);
        if (r < 0)
                return r;
        r = append_words(m, v);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

static int parse_errno_name(const char *v) {
        static const struct {
                const char *name;
                int value;
        } table[] = { { "EPERM", EPERM }, { "EACCES", EACCES }, { "ENOSYS", ENOSYS } };
        uint64_t x;

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq(v, table[i].name))
                        return table[i].value;
        if (safe_atou64(v, &x) < 0 || x == 0 || x > 4095)
                return -EINVAL;
        return (int) x;
}

static int append_device_allow(sd_bus_message *m, const char *v) {
        _cleanup_free_ char *path = NULL;
        const char *sp = strchr(v, ' ');
        const char *rights = sp ? sp + 1 : "rwm";

        path = sp ? strndup(v, (size_t) (sp - v)) : strdup(v);
        if (!path)
                return -ENOMEM;
        if (path[0] != '/' || isempty(rights) || strspn(rights, "rwm") != strlen(rights))
                return -EINVAL;
        return sd_bus_message_append(m, "v", "a(ss)", 1, path, rights);
}

static int append_bind_path(sd_bus_message *m, const char *v) {
        _cleanup_free_ char *src = NULL;
        const char *colon, *dst;
        bool ignore_enoent = false;
        int r;

        if (*v == '-') {
                ignore_enoent = true;
                v++;
        }
        colon = strchr(v, ':');
        src = colon ? strndup(v, (size_t) (colon - v)) : strdup(v);
        if (!src)
                return -ENOMEM;
        dst = colon ? colon + 1 : src;
        if (src[0] != '/' || dst[0] != '/' || strchr(dst, ':'))
                return -EINVAL;

        r = sd_bus_message_open_container(m, 'v', "a(ssbt)");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "a(ssbt)", 1, src, dst, (int) ignore_enoent, (uint64_t) MS_REC);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

static int append_tmpfs(sd_bus_message *m, const char *v) {
        _cleanup_free_ char *path = NULL;
        const char *colon = strchr(v, ':');

        path = colon ? strndup(v, (size_t) (colon - v)) : strdup(v);
        if (!path)
                return -ENOMEM;
        if (path[0] != '/')
                return -EINVAL;
        return sd_bus_message_append(m, "v", "a(ss)", 1, path, colon ? colon + 1 : "");
}

int bus_append_unit_assignment(sd_bus_message *m, const char *assignment) {
        const char *eq = strchr(assignment, '='), *v;
        const AssignmentType *t;
        int r;

        if (!eq || eq == assignment)
                return -EINVAL;
        t = assignment_type_find(assignment, (size_t) (eq - assignment));
        if (!t)
                return -EOPNOTSUPP;
        v = eq + 1;

        r = sd_bus_message_open_container(m, 'r', "sv");
        if (r < 0)
                return r;
        /* CPUQuota= is named differently on the bus: µs of CPU time per second. */
        r = sd_bus_message_append(m, "s", t->kind == ASSIGN_CPU_QUOTA ? "CPUQuotaPerSecUSec" : t->key);
        if (r < 0)
                return r;

        switch (t->kind) {
        case ASSIGN_BOOL:
                r = parse_boolean(v);
                if (r < 0)
                        return r;
                r = sd_bus_message_append(m, "v", "b", r);
                break;
        case ASSIGN_STRING:
                r = sd_bus_message_append(m, "v", "s", v);
                break;
        case ASSIGN_STRV:
                if (isempty(v))
                        return -EINVAL;
                r = sd_bus_message_append(m, "v", "as", 1, v);
                break;
        case ASSIGN_CAPABILITIES:
                /* Capability names come with the policy work; the sandbox only ever needs "none". */
                if (!isempty(v))
                        return -EINVAL;
                r = sd_bus_message_append(m, "v", "t", (uint64_t) 0);
                break;
        case ASSIGN_BIND_PATHS:
                r = append_bind_path(m, v);
                break;
        case ASSIGN_UINT64:
        case ASSIGN_SIZE: {
                uint64_t x;
                r = t->kind == ASSIGN_SIZE ? parse_size(v, &x) : parse_u64_or_infinity(v, &x);
                if (r < 0)
                        return r;
                r = sd_bus_message_append(m, "v", "t", x);
                break;
        }
        case ASSIGN_CPU_QUOTA: {
                _cleanup_free_ char *num = NULL;
                uint64_t pc;
                if (!endswith(v, "%"))
                        return -EINVAL;
                num = strndup(v, strlen(v) - 1);
                if (!num)
                        return -ENOMEM;
                r = safe_atou64(num, &pc);
                if (r < 0 || pc == 0 || pc > UINT64_MAX / 10000 / 2)
                        return -EINVAL;
                r = sd_bus_message_append(m, "v", "t", pc * 10000);
                break;
        }
        case ASSIGN_RLIMIT: {
                _cleanup_free_ char *soft = NULL;
                uint64_t x;
                r = parse_u64_or_infinity(v, &x);
                if (r < 0)
                        return r;
                r = sd_bus_message_append(m, "v", "t", x);
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
                if (asprintf_safe(&soft, "%sSoft", t->key) < 0)
                        return -ENOMEM;
                r = sd_bus_message_append(m, "(sv)", soft, "t", x);
                return r < 0 ? r : 0;
        }
        case ASSIGN_FILTER_LIST:
                r = append_filter_list(m, v);
                break;
        case ASSIGN_WORDS:
                if (isempty(v))
                        return -EINVAL;
                r = sd_bus_message_open_container(m, 'v', "as");
                if (r < 0)
                        return r;
                r = append_words(m, v);
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(m);
                break;
        case ASSIGN_ERRNO:
                r = parse_errno_name(v);
                if (r < 0)
                        return r;
                r = sd_bus_message_append(m, "v", "i", (int32_t) r);
                break;
        case ASSIGN_NAMESPACES:
                /* The property is the set of namespace types that MAY be created: "yes" = none. */
                r = parse_boolean(v);
                if (r < 0)
                        return r;
                r = sd_bus_message_append(m, "v", "t",
                                          r ? UINT64_C(0)
                                            : (uint64_t) (CLONE_NEWCGROUP | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWNS |
                                                          CLONE_NEWPID | CLONE_NEWUSER | CLONE_NEWUTS));
                break;
        case ASSIGN_DEVICE_ALLOW:
                r = append_device_allow(m, v);
                break;
        case ASSIGN_TMPFS:
                r = append_tmpfs(m, v);
                break;
        case ASSIGN_CREDENTIAL: {
                const char *colon = strchr(v, ':');
                _cleanup_free_ char *id = colon ? strndup(v, (size_t) (colon - v)) : NULL;
                if (!colon || colon == v || colon[1] != '/' || strchr(v, '/') < colon)
                        return -EINVAL;
                if (!id)
                        return -ENOMEM;
                r = sd_bus_message_append(m, "v", "a(ss)", 1, id, colon + 1);
                break;
        }
        case ASSIGN_MODE: {
                uint64_t mode;
                if (safe_atou64_full(v, 8, &mode) < 0 || mode > 07777)
                        return -EINVAL;
                r = sd_bus_message_append(m, "v", "u", (uint32_t) mode);
                break;
        }
        default:
                return -EINVAL;
        }
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

/* systemd expands $VAR and ${VAR} in ExecStart= arguments when it runs them; "$$" stands for "$".
 * The argv we pass is meant literally (a shell in it expands what it wants itself). */
static char *escape_dollars(const char *s) {
        size_t n = 0;
        char *e, *p;

        for (const char *c = s; *c; c++)
                n += *c == '$' ? 2 : 1;
        e = p = malloc(n + 1);
        if (!e)
                return NULL;
        for (const char *c = s; *c; c++) {
                if (*c == '$')
                        *p++ = '$';
                *p++ = *c;
        }
        *p = 0;
        return e;
}

int bus_append_exec_start(sd_bus_message *m, char *const *argv) {
        _cleanup_strv_free_ char **escaped = NULL;
        int r;

        if (strv_length(argv) == 0)
                return -EINVAL;
        STRV_FOREACH(a, argv) {
                r = strv_consume(&escaped, escape_dollars(*a));
                if (r < 0)
                        return r;
        }

        r = sd_bus_message_open_container(m, 'r', "sv");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", "ExecStart");
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'v', "a(sasb)");
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "(sasb)");
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'r', "sasb");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", argv[0]);
        if (r < 0)
                return r;
        r = sd_bus_message_append_strv(m, escaped);
        if (r < 0)
                return r;
        /* false: a non-zero exit is a failure, which the supervisor reports */
        r = sd_bus_message_append(m, "b", 0);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < 4; i++) {
                r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
        }
        return 0;
}

int bus_transient_unit_begin(sd_bus *bus, const char *unit, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, SYSTEMD_BUS_NAME, SYSTEMD_BUS_PATH, SYSTEMD_MANAGER_IFACE,
                                           "StartTransientUnit");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "ss", unit, "fail");
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

int bus_transient_unit_end(sd_bus_message *m, char *const *argv) {
        int r;

        r = bus_append_exec_start(m, argv);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        return sd_bus_message_append(m, "a(sa(sv))", 0);
}

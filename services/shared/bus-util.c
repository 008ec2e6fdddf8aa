/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <sys/mount.h>

#include "bus-util.h"
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
        { "CollectMode", ASSIGN_STRING },
        { "Description", ASSIGN_STRING },
        { "Environment", ASSIGN_STRV },
        { "Group", ASSIGN_STRING },
        { "InaccessiblePaths", ASSIGN_STRV },
        { "LockPersonality", ASSIGN_BOOL },
        { "NoNewPrivileges", ASSIGN_BOOL },
        { "PartOf", ASSIGN_STRV },
        { "PrivateDevices", ASSIGN_BOOL },
        { "PrivateNetwork", ASSIGN_BOOL },
        { "PrivateTmp", ASSIGN_BOOL },
        { "ProtectHome", ASSIGN_STRING },
        { "ProtectSystem", ASSIGN_STRING },
        { "ReadOnlyPaths", ASSIGN_STRV },
        { "ReadWritePaths", ASSIGN_STRV },
        { "Slice", ASSIGN_STRING },
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

int bus_append_unit_assignment(sd_bus_message *m, const char *assignment) {
        const char *eq = strchr(assignment, '='), *v;
        const AssignmentType *t;
        _cleanup_free_ char *key = NULL;
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
        r = sd_bus_message_append(m, "s", t->key);
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

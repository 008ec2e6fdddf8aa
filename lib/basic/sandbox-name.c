/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <string.h>

#include "sandbox-name.h"
#include "string-util.h"

static bool char_is_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool sandbox_name_is_valid(const char *name) {
        size_t n;

        if (isempty(name))
                return false;
        n = strlen(name);
        if (n > SANDBOX_NAME_MAX || !char_is_alnum(name[0]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!char_is_alnum(name[i]) && name[i] != '-' && name[i] != '_')
                        return false;
        return true;
}

static int derive(const char *prefix, const char *name, const char *suffix, char **ret) {
        if (!sandbox_name_is_valid(name))
                return -EINVAL;
        return asprintf_safe(ret, "%s%s%s", prefix, name, suffix);
}

int sandbox_spec_path(const char *name, char **ret) {
        return derive(SANDBOX_SPEC_DIR "/", name, ".yaml", ret);
}

int sandbox_policy_copy_path(const char *name, char **ret) {
        return derive(SANDBOX_POLICIES_DIR "/sandbox-", name, ".yaml", ret);
}

int sandbox_workdir_path(const char *name, char **ret) {
        return derive(SANDBOX_STATE_DIR "/", name, "", ret);
}

int sandbox_supervisor_unit(const char *name, char **ret) {
        return derive(SANDBOX_SUPERVISOR_PREFIX, name, ".service", ret);
}

int sandbox_agent_unit(const char *name, char **ret) {
        return derive(SANDBOX_AGENT_PREFIX, name, ".service", ret);
}

int sandbox_runtime_path(const char *name, char **ret) {
        return derive(SANDBOX_RUNTIME_DIR "/", name, "", ret);
}

int sandbox_slice_unit(const char *name, char **ret) {
        _cleanup_free_ char *escaped = NULL;
        char *p;

        if (!sandbox_name_is_valid(name))
                return -EINVAL;
        escaped = p = malloc(strlen(name) * 4 + 1);
        if (!escaped)
                return -ENOMEM;
        for (const char *c = name; *c; c++) {
                if (*c == '-') {
                        memcpy(p, "\\x2d", 4);
                        p += 4;
                } else
                        *p++ = *c;
        }
        *p = 0;
        return asprintf_safe(ret, "openshell-%s.slice", escaped);
}

int sandbox_proxy_user_name(const char *name, char **ret) {
        static const char prefix[] = "openshell-proxy-";
        uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a: stable across builds and machines */
        int r;

        if (!sandbox_name_is_valid(name))
                return -EINVAL;
        if (strlen(prefix) + strlen(name) <= SANDBOX_PROXY_USER_MAX) {
                r = asprintf_safe(ret, "%s%s", prefix, name);
                return r < 0 ? r : 0;
        }
        for (const unsigned char *c = (const unsigned char *) name; *c; c++)
                h = (h ^ *c) * 0x100000001b3ULL;
        r = asprintf_safe(ret, "openshell-prox_%016" PRIx64, h);
        return r < 0 ? r : 1;
}

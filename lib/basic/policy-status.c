/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "policy-status.h"
#include "string-util.h"

void policy_status_done(PolicyStatus *s) {
        s->message = mfree(s->message);
}

static bool hash_is_valid(const char *s, size_t n) {
        if (n != POLICY_HASH_HEX_LEN)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

int policy_status_parse(const char *text, PolicyStatus *ret) {
        PolicyStatus s = {};
        const char *p, *end;
        size_t n;

        if (startswith(text, "loaded ")) {
                s.loaded = true;
                p = text + strlen("loaded ");
        } else if (startswith(text, "failed "))
                p = text + strlen("failed ");
        else
                return -EBADMSG;

        n = strcspn(p, " \n");
        if (!hash_is_valid(p, n))
                return -EBADMSG;
        memcpy(s.hash, p, n);
        s.hash[n] = '\0';
        p += n;

        end = strchr(p, '\n');
        if (!end || end[1] != '\0')
                return -EBADMSG; /* one line, ended */
        if (s.loaded) {
                if (p != end)
                        return -EBADMSG;
        } else {
                if (*p != ' ' || end == p + 1)
                        return -EBADMSG;
                s.message = strndup(p + 1, end - p - 1);
                if (!s.message)
                        return -ENOMEM;
        }
        *ret = s;
        return 0;
}

int policy_status_format(bool loaded, const char *hash, const char *message, char **ret) {
        char *line;
        int r;

        if (!hash_is_valid(hash, strlen(hash)) || (!loaded && isempty(message)))
                return -EINVAL;
        r = loaded ? asprintf_safe(&line, "loaded %s\n", hash)
                   : asprintf_safe(&line, "failed %s %s\n", hash, message);
        if (r < 0)
                return r;
        /* One line whatever the message holds. */
        for (char *c = strchr(line, '\n'); c && c[1] != '\0'; c = strchr(c, '\n'))
                *c = ' ';
        *ret = line;
        return 0;
}

void hex_encode(const uint8_t *data, size_t n, char *ret) {
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < n; i++) {
                ret[2 * i] = digits[data[i] >> 4];
                ret[2 * i + 1] = digits[data[i] & 15];
        }
        ret[2 * n] = '\0';
}

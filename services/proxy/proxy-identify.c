/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "parse-util.h"
#include "proxy-identify.h"
#include "string-util.h"

void proxy_identity_done(ProxyIdentity *i) {
        i->exe = mfree(i->exe);
        i->ancestors = strv_free(i->ancestors);
        i->pid = 0;
}

int proxy_identify_request(const struct sockaddr *sa, socklen_t len, char **ret) {
        char ip[INET6_ADDRSTRLEN];

        if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) sa;
                if (!inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip)))
                        return -errno;
                return asprintf_safe(ret, "IDENTIFY 4 %s %u\n", ip, ntohs(in->sin_port));
        }
        if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
                if (!inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip)))
                        return -errno;
                return asprintf_safe(ret, "IDENTIFY 6 %s %u\n", ip, ntohs(in6->sin6_port));
        }
        return -EAFNOSUPPORT;
}

static bool valid_path(const char *s) {
        return s[0] == '/' && !string_has_cc(s) && strlen(s) < 4096;
}

int proxy_identify_reply_parse(const char *data, size_t size, ProxyIdentity *ret, char **ret_error) {
        _cleanup_free_ char *line = NULL;
        _cleanup_strv_free_ char **words = NULL;
        ProxyIdentity id = {};
        char *saveptr = NULL;

        if (size == 0 || size > PROXY_IDENTIFY_REPLY_MAX || data[size - 1] != '\n' || memchr(data, 0, size))
                return -EBADMSG;
        line = strndup(data, size - 1);
        if (!line)
                return -ENOMEM;
        if (strchr(line, '\n') || strchr(line, '\r'))
                return -EBADMSG;

        if (startswith(line, "ERR ") || streq(line, "ERR")) {
                char *reason = strdup(line[3] ? line + 4 : "unknown");
                if (!reason)
                        return -ENOMEM;
                for (char *c = reason; *c; c++)
                        if ((unsigned char) *c < 0x20 || *c == 0x7f)
                                *c = '?';
                *ret_error = reason;
                return -EREMOTEIO;
        }

        for (char *w = strtok_r(line, " ", &saveptr); w; w = strtok_r(NULL, " ", &saveptr))
                if (strv_extend(&words, w) < 0)
                        return -ENOMEM;
        if (!words || strv_length(words) < 3 || !streq(words[0], "OK"))
                return -EBADMSG;
        if (safe_atou64(words[1], &id.pid) < 0 || id.pid == 0)
                return -EBADMSG;
        if (strv_length(words) - 3 > PROXY_IDENTIFY_ANCESTORS_MAX)
                return -EBADMSG;
        STRV_FOREACH(w, words + 2)
                if (!valid_path(*w))
                        return -EBADMSG;
        id.exe = strdup(words[2]);
        if (!id.exe)
                return -ENOMEM;
        if (words[3]) {
                id.ancestors = strv_copy(words + 3);
                if (!id.ancestors) {
                        free(id.exe);
                        return -ENOMEM;
                }
        }
        *ret = id;
        return 0;
}

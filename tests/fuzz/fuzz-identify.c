/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for the supervisor's identify parsers: the request (what a possibly compromised proxy
 * sends), and, for robustness, the /proc texts (the kernel's) and the path escaping. Checks their
 * invariants: a parsed request has a family and a port; a found inode is not 0; an escaped path is
 * one field of printable ASCII. Built as a libFuzzer target with -Dfuzz=true (clang), and always as a
 * replay program that meson runs over the corpus. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "sandbox-identify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        IdentifyRequest req;
        char *text, *escaped = NULL;
        uint64_t inode;
        pid_t ppid;

        if (identify_request_parse(data, size, &req) >= 0 &&
            ((req.family != AF_INET && req.family != AF_INET6) || req.port == 0))
                abort();

        text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0;
        for (int v6 = 0; v6 <= 1; v6++)
                for (int family = 0; family <= 1; family++) {
                        IdentifyRequest r = { .family = family ? AF_INET6 : AF_INET, .port = 0xA1B2 };
                        r.address.in6.s6_addr[family ? 15 : 0] = family ? 1 : 127;
                        if (!family)
                                r.address.in.s_addr = htonl(INADDR_LOOPBACK);
                        if (proc_net_tcp_find_inode(text, v6, &r, 3128, &inode) >= 0 && inode == 0)
                                abort();
                }
        (void) proc_status_ppid(text, &ppid);
        if (identify_escape_path(text, &escaped) >= 0) {
                for (const char *c = escaped; *c; c++)
                        if (*c < 0x21 || *c > 0x7e)
                                abort();
                free(escaped);
        }
        free(text);
        return 0;
}

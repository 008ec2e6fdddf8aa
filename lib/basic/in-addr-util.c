/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <string.h>

#include "in-addr-util.h"
#include "parse-util.h"

int cidr_parse(const char *s, Cidr *ret) {
        char buf[INET6_ADDRSTRLEN];
        const char *slash = strchr(s, '/');
        size_t len = slash ? (size_t) (slash - s) : strlen(s);
        Cidr c = {};

        if (len >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, len);
        buf[len] = 0;
        if (inet_pton(AF_INET, buf, c.addr) == 1)
                c.family = AF_INET, c.prefix = 32;
        else if (inet_pton(AF_INET6, buf, c.addr) == 1)
                c.family = AF_INET6, c.prefix = 128;
        else
                return -EINVAL;
        if (slash) {
                unsigned v;
                if (safe_atou(slash + 1, &v) < 0 || v > c.prefix)
                        return -EINVAL;
                c.prefix = v;
        }
        *ret = c;
        return 0;
}

static bool prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits) {
        for (unsigned i = 0; i < bits; i++) {
                unsigned byte = i / 8, mask = 0x80U >> (i % 8);
                if ((a[byte] & mask) != (b[byte] & mask))
                        return false;
        }
        return true;
}

bool cidr_overlaps(const Cidr *a, const Cidr *b) {
        return a->family == b->family && prefix_equal(a->addr, b->addr, MIN(a->prefix, b->prefix));
}

bool cidr_contains(const Cidr *c, int family, const void *addr) {
        return c->family == family && prefix_equal(c->addr, addr, c->prefix);
}

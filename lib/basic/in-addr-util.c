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

typedef struct ClassRange {
        const char *cidr;
        InAddrClass class;
} ClassRange;

/* Checked in order: the first containing prefix decides, so the metadata hosts come before the ranges
 * that hold them. Everything not listed is public. */
static const ClassRange ipv4_ranges[] = {
        { "169.254.169.254/32", IN_ADDR_METADATA },
        { "100.100.100.200/32", IN_ADDR_METADATA },
        { "0.0.0.0/8", IN_ADDR_UNSPECIFIED },
        { "127.0.0.0/8", IN_ADDR_LOOPBACK },
        { "169.254.0.0/16", IN_ADDR_LINK_LOCAL },
        { "224.0.0.0/4", IN_ADDR_MULTICAST },
        { "240.0.0.0/4", IN_ADDR_RESERVED }, /* includes 255.255.255.255 */
        { "10.0.0.0/8", IN_ADDR_PRIVATE },
        { "172.16.0.0/12", IN_ADDR_PRIVATE },
        { "192.168.0.0/16", IN_ADDR_PRIVATE },
        { "100.64.0.0/10", IN_ADDR_PRIVATE },  /* CGNAT */
        { "192.0.0.0/24", IN_ADDR_PRIVATE },   /* IETF protocol assignments */
        { "198.18.0.0/15", IN_ADDR_PRIVATE },  /* benchmarking networks */
};

static const ClassRange ipv6_ranges[] = {
        { "fd00:ec2::254/128", IN_ADDR_METADATA },
        { "::/128", IN_ADDR_UNSPECIFIED },
        { "::1/128", IN_ADDR_LOOPBACK },
        { "fe80::/10", IN_ADDR_LINK_LOCAL },
        { "ff00::/8", IN_ADDR_MULTICAST },
        { "fc00::/7", IN_ADDR_PRIVATE },  /* unique local */
        { "fec0::/10", IN_ADDR_PRIVATE }, /* deprecated site-local */
        { "2001:db8::/32", IN_ADDR_RESERVED }, /* documentation */
        { "100::/64", IN_ADDR_RESERVED },      /* discard-only */
};

static InAddrClass classify_in(const ClassRange *ranges, size_t n, int family, const void *addr) {
        for (size_t i = 0; i < n; i++) {
                Cidr c;

                /* The table is constant and valid (the unit test parses every entry). */
                if (cidr_parse(ranges[i].cidr, &c) < 0)
                        continue;
                if (cidr_contains(&c, family, addr))
                        return ranges[i].class;
        }
        return IN_ADDR_PUBLIC;
}

InAddrClass in_addr_classify(int family, const void *addr) {
        static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        static const unsigned char zero[12] = {};
        static const unsigned char nat64[12] = { 0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };
        const unsigned char *a = addr;

        if (family == AF_INET)
                return classify_in(ipv4_ranges, ELEMENTSOF(ipv4_ranges), AF_INET, a);
        if (family != AF_INET6)
                return _IN_ADDR_CLASS_INVALID;

        /* ::ffff:a.b.c.d, ::a.b.c.d (except :: and ::1 themselves) and 64:ff9b::a.b.c.d reach the IPv4
         * address they carry. */
        if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0 ||
            (memcmp(a, zero, 12) == 0 && ((a[12] | a[13] | a[14]) != 0 || a[15] > 1)))
                return classify_in(ipv4_ranges, ELEMENTSOF(ipv4_ranges), AF_INET, a + 12);
        return classify_in(ipv6_ranges, ELEMENTSOF(ipv6_ranges), AF_INET6, a);
}

bool in_addr_class_always_blocked(InAddrClass c) {
        return c != IN_ADDR_PUBLIC && c != IN_ADDR_PRIVATE;
}

const char *in_addr_class_to_string(InAddrClass c) {
        static const char *const names[_IN_ADDR_CLASS_MAX] = {
                [IN_ADDR_PUBLIC] = "public",
                [IN_ADDR_PRIVATE] = "private",
                [IN_ADDR_LOOPBACK] = "loopback",
                [IN_ADDR_LINK_LOCAL] = "link-local",
                [IN_ADDR_UNSPECIFIED] = "unspecified",
                [IN_ADDR_METADATA] = "cloud metadata",
                [IN_ADDR_MULTICAST] = "multicast",
                [IN_ADDR_RESERVED] = "reserved",
        };
        return c >= 0 && c < _IN_ADDR_CLASS_MAX ? names[c] : NULL;
}

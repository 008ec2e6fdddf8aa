/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* IPv4/IPv6 addresses and prefixes ("10.0.0.0/8", "fd00::/8", or a bare address: a full-length
 * prefix), as policies name them in allowed_ips and as the egress matcher compares them. */

#include "macro.h"

typedef struct Cidr {
        int family; /* AF_INET or AF_INET6 */
        unsigned char addr[16];
        unsigned prefix; /* 0..32 or 0..128 */
} Cidr;

/* Strict: an address inet_pton() takes, then optionally '/' and a decimal prefix length within the
 * address's bits. -EINVAL for anything else; *ret untouched then. */
int cidr_parse(const char *s, Cidr *ret);
/* True if the two prefixes share an address (one contains the other). */
bool cidr_overlaps(const Cidr *a, const Cidr *b) _pure_;
/* True if addr (16 bytes for AF_INET6, 4 for AF_INET) of that family is inside c. */
bool cidr_contains(const Cidr *c, int family, const void *addr) _pure_;

/* What kind of destination an address is, for the egress proxy's address safety (openshell/SPEC.md
 * §2.7). IPv4 addresses embedded in IPv6 (mapped ::ffff:0:0/96, compatible ::/96, NAT64 64:ff9b::/96)
 * are classified as the IPv4 address they carry, so no spelling reaches a blocked range. */
typedef enum InAddrClass {
        IN_ADDR_PUBLIC,      /* globally routed: allowed when the policy allows the host */
        IN_ADDR_PRIVATE,     /* RFC 1918, CGNAT 100.64/10, ULA fc00::/7, site-local, ...: needs allowed_ips
                              * or an exactly declared host name */
        IN_ADDR_LOOPBACK,    /* 127/8, ::1: always refused */
        IN_ADDR_LINK_LOCAL,  /* 169.254/16, fe80::/10: always refused */
        IN_ADDR_UNSPECIFIED, /* 0/8, ::: always refused */
        IN_ADDR_METADATA,    /* cloud instance metadata (169.254.169.254, fd00:ec2::254, 100.100.100.200) */
        IN_ADDR_MULTICAST,   /* 224/4, ff00::/8: always refused (no TCP there) */
        IN_ADDR_RESERVED,    /* 240/4 and broadcast: always refused */
        _IN_ADDR_CLASS_MAX,
        _IN_ADDR_CLASS_INVALID = -EINVAL,
} InAddrClass;

/* addr: 4 bytes for AF_INET, 16 for AF_INET6. _IN_ADDR_CLASS_INVALID for another family. */
InAddrClass in_addr_classify(int family, const void *addr) _pure_;
/* True for the classes no policy can open (loopback, link-local, unspecified, metadata, multicast,
 * reserved). */
bool in_addr_class_always_blocked(InAddrClass c) _const_;
const char *in_addr_class_to_string(InAddrClass c) _const_;

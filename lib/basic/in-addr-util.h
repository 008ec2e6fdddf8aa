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

/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>

#include "check-util.h"
#include "in-addr-util.h"

static InAddrClass classify(const char *s) {
        unsigned char a[16];

        if (inet_pton(AF_INET, s, a) == 1)
                return in_addr_classify(AF_INET, a);
        ck_assert_int_eq(inet_pton(AF_INET6, s, a), 1);
        return in_addr_classify(AF_INET6, a);
}

START_TEST(test_classify) {
        static const struct {
                const char *addr;
                InAddrClass class;
        } cases[] = {
                { "8.8.8.8", IN_ADDR_PUBLIC },
                { "1.1.1.1", IN_ADDR_PUBLIC },
                { "2606:4700::1111", IN_ADDR_PUBLIC },
                { "127.0.0.1", IN_ADDR_LOOPBACK },
                { "127.255.255.254", IN_ADDR_LOOPBACK },
                { "::1", IN_ADDR_LOOPBACK },
                { "169.254.1.1", IN_ADDR_LINK_LOCAL },
                { "fe80::1", IN_ADDR_LINK_LOCAL },
                { "febf::1", IN_ADDR_LINK_LOCAL },
                { "0.0.0.0", IN_ADDR_UNSPECIFIED },
                { "0.1.2.3", IN_ADDR_UNSPECIFIED },
                { "::", IN_ADDR_UNSPECIFIED },
                { "169.254.169.254", IN_ADDR_METADATA },
                { "fd00:ec2::254", IN_ADDR_METADATA },
                { "100.100.100.200", IN_ADDR_METADATA },
                { "224.0.0.1", IN_ADDR_MULTICAST },
                { "ff02::1", IN_ADDR_MULTICAST },
                { "255.255.255.255", IN_ADDR_RESERVED },
                { "240.0.0.1", IN_ADDR_RESERVED },
                { "10.1.2.3", IN_ADDR_PRIVATE },
                { "172.16.0.1", IN_ADDR_PRIVATE },
                { "172.31.255.255", IN_ADDR_PRIVATE },
                { "172.32.0.1", IN_ADDR_PUBLIC },
                { "192.168.1.1", IN_ADDR_PRIVATE },
                { "100.64.0.1", IN_ADDR_PRIVATE },
                { "100.128.0.1", IN_ADDR_PUBLIC },
                { "fd12:3456::1", IN_ADDR_PRIVATE },
                { "fc00::1", IN_ADDR_PRIVATE },
                /* IPv4 carried in IPv6 is the IPv4 address it carries */
                { "::ffff:127.0.0.1", IN_ADDR_LOOPBACK },
                { "::ffff:169.254.169.254", IN_ADDR_METADATA },
                { "::ffff:10.0.0.1", IN_ADDR_PRIVATE },
                { "::ffff:8.8.8.8", IN_ADDR_PUBLIC },
                { "::127.0.0.1", IN_ADDR_LOOPBACK },
                { "::2", IN_ADDR_UNSPECIFIED },
                { "64:ff9b::7f00:1", IN_ADDR_LOOPBACK },
                { "64:ff9b::808:808", IN_ADDR_PUBLIC },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                ck_assert_msg(classify(cases[i].addr) == cases[i].class, "%s: got %s, expected %s", cases[i].addr,
                              in_addr_class_to_string(classify(cases[i].addr)),
                              in_addr_class_to_string(cases[i].class));
}
END_TEST

START_TEST(test_always_blocked) {
        ck_assert(!in_addr_class_always_blocked(IN_ADDR_PUBLIC));
        ck_assert(!in_addr_class_always_blocked(IN_ADDR_PRIVATE));
        for (InAddrClass c = IN_ADDR_LOOPBACK; c < _IN_ADDR_CLASS_MAX; c++) {
                ck_assert(in_addr_class_always_blocked(c));
                ck_assert_ptr_nonnull(in_addr_class_to_string(c));
        }
        ck_assert_ptr_null(in_addr_class_to_string(_IN_ADDR_CLASS_MAX));
}
END_TEST

START_TEST(test_bad_family) {
        unsigned char a[16] = {};

        ck_assert_int_eq(in_addr_classify(AF_UNIX, a), _IN_ADDR_CLASS_INVALID);
}
END_TEST

START_TEST(test_cidr) {
        Cidr c = { .prefix = 99 };
        unsigned char a[4];

        ck_assert_int_eq(cidr_parse("10.0.0.0/33", &c), -EINVAL);
        ck_assert_int_eq(cidr_parse("10.0.0.0/", &c), -EINVAL);
        ck_assert_int_eq(cidr_parse("nonsense", &c), -EINVAL);
        ck_assert_uint_eq(c.prefix, 99); /* untouched on failure */
        ck_assert_int_eq(cidr_parse("10.231.0.0/24", &c), 0);
        ck_assert_int_eq(inet_pton(AF_INET, "10.231.0.2", a), 1);
        ck_assert(cidr_contains(&c, AF_INET, a));
        ck_assert_int_eq(inet_pton(AF_INET, "10.231.1.2", a), 1);
        ck_assert(!cidr_contains(&c, AF_INET, a));
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("in-addr-util");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_classify);
        tcase_add_test(tc, test_always_blocked);
        tcase_add_test(tc, test_bad_family);
        tcase_add_test(tc, test_cidr);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}

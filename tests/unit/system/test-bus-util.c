/* SPDX-License-Identifier: Apache-2.0 */
/* Unit property assignments are marshalled in the D-Bus types systemd expects: build a message,
 * seal it, and read it back as systemd would. No bus connection is needed for that. */
#include <sys/mount.h>

#include "bus-test-util.h"
#include "bus-util.h"
#include "check-util.h"

/* Reads the next ("Key", variant) pair and checks the key and the variant's signature. */
static void expect_property(sd_bus_message *m, const char *key, const char *signature) {
        const char *k, *contents;
        char type;

        ck_assert_int_gt(sd_bus_message_enter_container(m, 'r', "sv"), 0);
        ck_assert_int_ge(sd_bus_message_read(m, "s", &k), 0);
        ck_assert_str_eq(k, key);
        ck_assert_int_gt(sd_bus_message_peek_type(m, &type, &contents), 0);
        ck_assert_int_eq(type, 'v');
        ck_assert_str_eq(contents, signature);
}

static void end_property(sd_bus_message *m) {
        ck_assert_int_ge(sd_bus_message_exit_container(m), 0);
}

START_TEST(test_assignments) {
        _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = test_properties_message_new(&bus);
        const char *s, *src, *dst;
        int b, ignore;
        uint64_t t, flags;

        ck_assert_int_eq(bus_append_unit_assignment(m, "PrivateTmp=yes"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "PrivateNetwork=off"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "ProtectSystem=strict"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "CapabilityBoundingSet="), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "Environment=A=b c"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "BindPaths=/var/lib/x:/sandbox"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "BindReadOnlyPaths=-/opt/tool"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "TemporaryFileSystem=/run:ro"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "TemporaryFileSystem=/var"), 0);
        test_properties_message_seal(m);

        expect_property(m, "PrivateTmp", "b");
        ck_assert_int_ge(sd_bus_message_read(m, "v", "b", &b), 0);
        ck_assert_int_eq(b, 1);
        end_property(m);

        expect_property(m, "PrivateNetwork", "b");
        ck_assert_int_ge(sd_bus_message_read(m, "v", "b", &b), 0);
        ck_assert_int_eq(b, 0);
        end_property(m);

        expect_property(m, "ProtectSystem", "s");
        ck_assert_int_ge(sd_bus_message_read(m, "v", "s", &s), 0);
        ck_assert_str_eq(s, "strict");
        end_property(m);

        expect_property(m, "CapabilityBoundingSet", "t");
        ck_assert_int_ge(sd_bus_message_read(m, "v", "t", &t), 0);
        ck_assert_uint_eq(t, 0);
        end_property(m);

        expect_property(m, "Environment", "as");
        ck_assert_int_ge(sd_bus_message_enter_container(m, 'v', "as"), 0);
        ck_assert_int_ge(sd_bus_message_enter_container(m, 'a', "s"), 0);
        ck_assert_int_gt(sd_bus_message_read(m, "s", &s), 0);
        ck_assert_str_eq(s, "A=b c");
        ck_assert_int_eq(sd_bus_message_read(m, "s", &s), 0);
        ck_assert_int_ge(sd_bus_message_exit_container(m), 0);
        ck_assert_int_ge(sd_bus_message_exit_container(m), 0);
        end_property(m);

        expect_property(m, "BindPaths", "a(ssbt)");
        ck_assert_int_ge(sd_bus_message_read(m, "v", "a(ssbt)", 1, &src, &dst, &ignore, &flags), 0);
        ck_assert_str_eq(src, "/var/lib/x");
        ck_assert_str_eq(dst, "/sandbox");
        ck_assert_int_eq(ignore, 0);
        ck_assert_uint_eq(flags, MS_REC);
        end_property(m);

        expect_property(m, "BindReadOnlyPaths", "a(ssbt)");
        ck_assert_int_ge(sd_bus_message_read(m, "v", "a(ssbt)", 1, &src, &dst, &ignore, &flags), 0);
        ck_assert_str_eq(src, "/opt/tool");
        ck_assert_str_eq(dst, "/opt/tool");
        ck_assert_int_eq(ignore, 1);
        end_property(m);

        expect_property(m, "TemporaryFileSystem", "a(ss)");
        ck_assert_int_ge(sd_bus_message_read(m, "v", "a(ss)", 1, &src, &s), 0);
        ck_assert_str_eq(src, "/run");
        ck_assert_str_eq(s, "ro");
        end_property(m);

        expect_property(m, "TemporaryFileSystem", "a(ss)");
        ck_assert_int_ge(sd_bus_message_read(m, "v", "a(ss)", 1, &src, &s), 0);
        ck_assert_str_eq(src, "/var");
        ck_assert_str_eq(s, "");
        end_property(m);
}
END_TEST

START_TEST(test_bad_assignments) {
        _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

        /* each on a fresh message: a failed append leaves a half-open container behind */
        static const struct {
                const char *a;
                int r;
        } cases[] = {
                { "NoSuchSetting=1", -EOPNOTSUPP },
                { "PrivateTmp=maybe", -EINVAL },
                { "=yes", -EINVAL },
                { "PrivateTmp", -EINVAL },
                { "CapabilityBoundingSet=CAP_NET_ADMIN", -EINVAL },
                { "BindPaths=relative:/sandbox", -EINVAL },
                { "BindPaths=/a:relative", -EINVAL },
                { "BindPaths=/a:/b:ro", -EINVAL },
                { "Environment=", -EINVAL },
                { "TemporaryFileSystem=run:ro", -EINVAL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                m = sd_bus_message_unref(m);
                bus = sd_bus_close_unref(bus);
                m = test_properties_message_new(&bus);
                ck_assert_msg(bus_append_unit_assignment(m, cases[i].a) == cases[i].r, "%s", cases[i].a);
        }
        ck_assert(bus_unit_assignment_key_supported("ProtectHome"));
        ck_assert(!bus_unit_assignment_key_supported("ProtectHom"));
}
END_TEST

START_TEST(test_exec_start) {
        _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = test_properties_message_new(&bus);
        char *argv[] = { (char *) "/usr/bin/agent", (char *) "--flag", (char *) "two words", (char *) "$HOME ${X} $$",
                         NULL };
        /* systemd would expand $VAR in ExecStart= arguments: sent escaped, they arrive literally */
        const char *expected[] = { "/usr/bin/agent", "--flag", "two words", "$$HOME $${X} $$$$" };
        char *empty[] = { NULL };
        const char *path, *a;
        int ignore;

        ck_assert_int_eq(bus_append_exec_start(m, empty), -EINVAL);
        ck_assert_int_eq(bus_append_exec_start(m, argv), 0);
        test_properties_message_seal(m);
        expect_property(m, "ExecStart", "a(sasb)");
        ck_assert_int_ge(sd_bus_message_enter_container(m, 'v', "a(sasb)"), 0);
        ck_assert_int_ge(sd_bus_message_enter_container(m, 'a', "(sasb)"), 0);
        ck_assert_int_ge(sd_bus_message_enter_container(m, 'r', "sasb"), 0);
        ck_assert_int_ge(sd_bus_message_read(m, "s", &path), 0);
        ck_assert_str_eq(path, "/usr/bin/agent");
        ck_assert_int_ge(sd_bus_message_enter_container(m, 'a', "s"), 0);
        for (size_t i = 0; i < ELEMENTSOF(expected); i++) {
                ck_assert_int_gt(sd_bus_message_read(m, "s", &a), 0);
                ck_assert_str_eq(a, expected[i]);
        }
        ck_assert_int_eq(sd_bus_message_read(m, "s", &a), 0);
        ck_assert_int_ge(sd_bus_message_exit_container(m), 0);
        ck_assert_int_ge(sd_bus_message_read(m, "b", &ignore), 0);
        ck_assert_int_eq(ignore, 0);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("bus-util");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_assignments);
        tcase_add_test(tc, test_bad_assignments);
        tcase_add_test(tc, test_exec_start);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}

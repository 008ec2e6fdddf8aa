/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "check-util.h"
#include "proxy-identify.h"
#include "buf.h"
#include "string-util.h"

START_TEST(test_request) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(40000) };
        struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(5) };
        struct sockaddr un = { .sa_family = AF_UNIX };
        char *c = NULL;

        ck_assert_int_eq(inet_pton(AF_INET, "127.0.0.1", &in.sin_addr), 1);
        ck_assert_int_eq(inet_pton(AF_INET6, "::1", &in6.sin6_addr), 1);
        ck_assert_int_eq(proxy_identify_request((struct sockaddr *) &in, sizeof(in), &a), 0);
        ck_assert_str_eq(a, "IDENTIFY 4 127.0.0.1 40000\n");
        ck_assert_int_eq(proxy_identify_request((struct sockaddr *) &in6, sizeof(in6), &b), 0);
        ck_assert_str_eq(b, "IDENTIFY 6 ::1 5\n");
        ck_assert_int_eq(proxy_identify_request(&un, sizeof(un), &c), -EAFNOSUPPORT);
        ck_assert_int_eq(proxy_identify_request((struct sockaddr *) &in, sizeof(in) - 1, &c), -EAFNOSUPPORT);
        ck_assert_ptr_null(c);
}
END_TEST

static int parse(const char *s, ProxyIdentity *id, char **error) {
        return proxy_identify_reply_parse(s, strlen(s), id, error);
}

START_TEST(test_reply) {
        ProxyIdentity id = {};
        char *error = NULL;

        ck_assert_int_eq(parse("OK 42 /usr/bin/curl\n", &id, &error), 0);
        ck_assert_uint_eq(id.pid, 42);
        ck_assert_str_eq(id.exe, "/usr/bin/curl");
        ck_assert_ptr_null(id.ancestors);
        proxy_identity_done(&id);

        ck_assert_int_eq(parse("OK 7 /usr/bin/node /usr/bin/bash /usr/lib/systemd/systemd\n", &id, &error), 0);
        ck_assert_str_eq(id.exe, "/usr/bin/node");
        ck_assert_uint_eq(strv_length(id.ancestors), 2);
        ck_assert_str_eq(id.ancestors[0], "/usr/bin/bash");
        proxy_identity_done(&id);

        ck_assert_int_eq(parse("ERR no such socket\n", &id, &error), -EREMOTEIO);
        ck_assert_str_eq(error, "no such socket");
        error = mfree(error);
        ck_assert_int_eq(parse("ERR\n", &id, &error), -EREMOTEIO);
        ck_assert_str_eq(error, "unknown");
        error = mfree(error);
        ck_assert_int_eq(parse("ERR a\tb\n", &id, &error), -EREMOTEIO);
        ck_assert_str_eq(error, "a?b"); /* sanitised */
        error = mfree(error);

        static const char *const bad[] = {
                "OK 42 /usr/bin/curl",          /* no newline */
                "OK 42\n",                      /* no exe */
                "OK 0 /usr/bin/curl\n",         /* pid 0 */
                "OK -1 /usr/bin/curl\n",
                "OK 42 curl\n",                 /* relative */
                "OK 42 /usr/bin/curl relative\n",
                "OK 42 /usr/bin/\x01x\n",
                "OK 42 /a\n\n",
                "MAYBE 42 /a\n",
                "",
        };
        id.pid = 99;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(parse(bad[i], &id, &error) == -EBADMSG, "%s", bad[i]);
        ck_assert_int_eq(proxy_identify_reply_parse("OK 4 /a\0\n", 9, &id, &error), -EBADMSG);
        ck_assert_uint_eq(id.pid, 99); /* untouched */
        ck_assert_ptr_null(error);
}
END_TEST

START_TEST(test_reply_limits) {
        _cleanup_free_ char *many = NULL;
        Buf b = BUF_INIT(PROXY_IDENTIFY_REPLY_MAX * 2);
        ProxyIdentity id = {};
        char *error = NULL;

        ck_assert_int_ge(buf_printf(&b, "OK 1 /e"), 0);
        for (unsigned i = 0; i <= PROXY_IDENTIFY_ANCESTORS_MAX; i++)
                ck_assert_int_ge(buf_printf(&b, " /a%u", i), 0);
        ck_assert_int_ge(buf_printf(&b, "\n"), 0);
        ck_assert_int_ge(buf_terminate(&b), 0);
        many = b.data;
        ck_assert_int_eq(parse(many, &id, &error), -EBADMSG);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("proxy-identify");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_request);
        tcase_add_test(tc, test_reply);
        tcase_add_test(tc, test_reply_limits);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}

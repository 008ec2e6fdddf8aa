/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <string.h>

#include "check-util.h"
#include "string-util.h"
#include "yaml-node.h"

/* Loads text and returns the result; diags receives the problems. */
static int load(const char *text, YamlNode **ret, DiagList *diags) {
        return yaml_load_buffer("t.yaml", text, strlen(text), ret, diags);
}

/* The single formatted diagnostic of a failed load. */
static char *load_error(const char *text) {
        _cleanup_(diag_list_done) DiagList d = {};
        YamlNode *root = (YamlNode *) 0x1;
        char *s = NULL;

        ck_assert_int_eq(load(text, &root, &d), -EBADMSG);
        ck_assert_ptr_eq(root, (YamlNode *) 0x1); /* untouched on failure */
        ck_assert_uint_eq(d.n_errors, 1);
        ck_assert_int_eq(diag_format(&d.items[0], &s), 0);
        return s;
}

START_TEST(test_tree_and_marks) {
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_(yaml_node_freep) YamlNode *root = NULL;
        const YamlNode *cmd, *env, *n;
        int64_t i;
        bool b;

        ck_assert_int_eq(load("# comment\n"
                              "command: [a, 'b c']\n"
                              "environment:\n"
                              "  X: 1\n"
                              "  Y: \"yes\"\n"
                              "flag: true\n"
                              "nothing: ~\n"
                              "port: 65535\n",
                              &root, &d),
                         0);
        ck_assert_uint_eq(d.n_errors, 0);
        ck_assert_int_eq(root->type, YAML_NODE_MAPPING);
        ck_assert_uint_eq(root->line, 2);
        ck_assert_uint_eq(root->column, 1);

        cmd = yaml_mapping_get(root, "command");
        ck_assert_int_eq(cmd->type, YAML_NODE_SEQUENCE);
        ck_assert_uint_eq(cmd->n_items, 2);
        ck_assert_str_eq(cmd->items[1]->value, "b c");
        ck_assert_uint_eq(cmd->items[1]->line, 2);
        ck_assert_uint_eq(cmd->items[1]->column, 14);
        ck_assert(!cmd->items[1]->plain);

        env = yaml_mapping_get(root, "environment");
        n = yaml_mapping_get(env, "Y");
        ck_assert_str_eq(yaml_node_describe(n), "a string"); /* quoted: not a boolean */
        ck_assert_int_eq(yaml_node_get_bool(n, &b), -EINVAL);
        ck_assert_uint_eq(n->line, 5);
        ck_assert_uint_eq(n->column, 6);

        ck_assert_int_eq(yaml_node_get_bool(yaml_mapping_get(root, "flag"), &b), 0);
        ck_assert(b);
        ck_assert(yaml_node_is_null(yaml_mapping_get(root, "nothing")));
        ck_assert_ptr_null(yaml_node_get_string(yaml_mapping_get(root, "nothing")));
        ck_assert_int_eq(yaml_node_get_integer(yaml_mapping_get(root, "port"), 1, 65535, &i), 0);
        ck_assert_int_eq(i, 65535);
        ck_assert_int_eq(yaml_node_get_integer(yaml_mapping_get(root, "port"), 1, 65534, &i), -ERANGE);
        ck_assert_int_eq(yaml_node_get_integer(yaml_mapping_get(root, "flag"), 0, 1, &i), -EINVAL);
        ck_assert_ptr_null(yaml_mapping_get(root, "absent"));
        ck_assert_str_eq(yaml_node_describe(cmd), "a list");
        ck_assert_str_eq(yaml_node_describe(env), "a mapping");
}
END_TEST

START_TEST(test_empty) {
        _cleanup_(diag_list_done) DiagList d = {};
        YamlNode *root = (YamlNode *) 0x1;

        ck_assert_int_eq(load("", &root, &d), 0);
        ck_assert_ptr_null(root);
        root = (YamlNode *) 0x1;
        ck_assert_int_eq(load("# only a comment\n\n", &root, &d), 0);
        ck_assert_ptr_null(root);
        ck_assert_uint_eq(d.n_errors, 0);
}
END_TEST

START_TEST(test_errors) {
        static const struct {
                const char *text, *error;
        } cases[] = {
                { "a: 1\na: 2\n", "t.yaml:2:1: duplicate key 'a' (first given at line 1)" },
                { "base: &x {a: 1}\ncopy: *x\n",
                  "t.yaml:2:7: YAML aliases ('*x') are not supported (write the value out in full)" },
                { "a: 1\n---\nb: 2\n", "t.yaml:2:1: more than one YAML document in one file (remove '---')" },
                { "? [a, b]\n: c\n", "t.yaml:1:3: mapping keys must be strings, not a list" },
                { "a: !!python/object x\n", "t.yaml:1:4: YAML tag 'tag:yaml.org,2002:python/object' is not supported" },
                { "a: [1, 2\n", "t.yaml:2:1: invalid YAML: did not find expected ',' or ']' while parsing a flow sequence" },
                { "a: \"\\0\"\n", "t.yaml:1:4: string contains a NUL character" },
                { "a:\tb\n  c: d\n", NULL }, /* any syntax error, checked below for its place only */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *e = load_error(cases[i].text);
                if (cases[i].error)
                        ck_assert_str_eq(e, cases[i].error);
                else
                        ck_assert(startswith(e, "t.yaml:"));
        }
}
END_TEST

START_TEST(test_not_utf8) {
        static const struct {
                const char *text, *error;
        } cases[] = {
                { "a: \xff\xfe\n", "t.yaml:1:4: invalid UTF-8 (byte 0xff); the file must be UTF-8 text" },
                { "a: b\nc: d\xc3\n", "t.yaml:2:5: invalid UTF-8 (byte 0xc3); the file must be UTF-8 text" },
                { "a: \xc3\xa9\xc0\xaf\n", "t.yaml:1:5: invalid UTF-8 (byte 0xc0); the file must be UTF-8 text" }, /* overlong */
                { "a: \xed\xa0\x80\n", "t.yaml:1:4: invalid UTF-8 (byte 0xed); the file must be UTF-8 text" },  /* surrogate */
                { "a: \xf4\x90\x80\x80\n", "t.yaml:1:4: invalid UTF-8 (byte 0xf4); the file must be UTF-8 text" },
        };
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_(yaml_node_freep) YamlNode *root = NULL;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *e = load_error(cases[i].text);
                ck_assert_str_eq(e, cases[i].error);
        }
        /* valid multi-byte text passes, and columns count characters */
        ck_assert_int_eq(load("caf\xc3\xa9: \xe2\x82\xac\xf0\x9f\x98\x80\n", &root, &d), 0);
        ck_assert_str_eq(root->items[1]->value, "\xe2\x82\xac\xf0\x9f\x98\x80");
}
END_TEST

START_TEST(test_limits) {
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_free_ char *deep = NULL, *e = NULL;
        YamlNode *root = NULL;
        size_t n = YAML_DEPTH_MAX + 1;

        /* nesting one level too deep */
        deep = malloc(2 * n + 1);
        ck_assert_ptr_nonnull(deep);
        memset(deep, '[', n);
        memset(deep + n, ']', n);
        deep[2 * n] = 0;
        e = load_error(deep);
        ck_assert_str_eq(e, "t.yaml:1:65: nesting is too deep (more than 64 levels)");

        /* exactly at the limit is fine */
        deep[n - 1] = ' ';
        deep[n] = ' ';
        ck_assert_int_eq(load(deep, &root, &d), 0);
        yaml_node_free(root);

        /* too large */
        ck_assert_int_eq(yaml_load_buffer("big.yaml", deep, YAML_FILE_SIZE_MAX + 1, &root, &d), -EBADMSG);
        free(e);
        e = NULL;
        ck_assert_int_eq(diag_format(&d.items[d.n_items - 1], &e), 0);
        ck_assert_str_eq(e, "big.yaml: file is too large (4194305 bytes, at most 4194304)");
}
END_TEST

START_TEST(test_file) {
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_(yaml_node_freep) YamlNode *root = NULL;
        _cleanup_free_ char *e = NULL;
        char path[] = "/tmp/test-yaml-node.XXXXXX";
        int fd = mkstemp(path);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "k: v\n", 5), 5);
        close(fd);
        ck_assert_int_eq(yaml_load_file(path, &root, &d), 0);
        ck_assert_str_eq(yaml_mapping_get(root, "k")->value, "v");
        unlink(path);

        ck_assert_int_eq(yaml_load_file(path, &root, &d), -ENOENT);
        ck_assert_int_eq(diag_format(&d.items[0], &e), 0);
        ck_assert(endswith(e, ": cannot open file: No such file or directory"));
        free(e);
        e = NULL;
        ck_assert_int_eq(yaml_load_file("/tmp", &root, &d), -EBADMSG);
        ck_assert_int_eq(diag_format(&d.items[1], &e), 0);
        ck_assert_str_eq(e, "/tmp: not a regular file");
}
END_TEST

START_TEST(test_diag_cap) {
        _cleanup_(diag_list_done) DiagList d = {};

        for (unsigned i = 0; i < DIAG_LIST_MAX + 5; i++)
                ck_assert_int_eq(diag_add(&d, DIAG_ERROR, "f", i + 1, 1, "k", "error %u", i), 0);
        ck_assert_uint_eq(d.n_items, DIAG_LIST_MAX);
        ck_assert_uint_eq(d.n_errors, DIAG_LIST_MAX + 5);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("yaml-node");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_tree_and_marks);
        tcase_add_test(tc, test_empty);
        tcase_add_test(tc, test_errors);
        tcase_add_test(tc, test_not_utf8);
        tcase_add_test(tc, test_limits);
        tcase_add_test(tc, test_file);
        tcase_add_test(tc, test_diag_cap);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}

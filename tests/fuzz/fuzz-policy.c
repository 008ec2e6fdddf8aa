/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the policy engine: arbitrary bytes through the YAML loader, the parser, the
 * validator and, when they are accepted, the compiler (all four outputs, both printed forms, the
 * seccomp filter build) and the egress matcher.
 *
 * Build with clang -Dfuzz=true for libFuzzer (`fuzz-policy tests/fuzz/corpus/fuzz-policy`); without it
 * the same code is linked with tests/lib/fuzz-replay-main.c into fuzz-policy-replay, which meson's 'fuzz' suite
 * runs over the corpus as a regression test. */

#include <string.h>

#include "policy-compile.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const Policy *p) {
        static const char *const hosts[] = { "api.github.com", "a.b.example.com", "10.1.2.3", "xn--bcher-kva.example",
                                             "BÜCHER.example", "" };
        char *ancestors[] = { (char *) "/usr/bin/node", NULL };
        PolicyCompiled *c = NULL;
        scmp_filter_ctx ctx = NULL;
        FILE *null;

        if (policy_compile(p, NULL, &c) < 0)
                return;
        null = fopen("/dev/null", "we");
        if (null) {
                (void) policy_print_unit(c, null);
                (void) policy_print_json(c, null);
                fclose(null);
        }
        for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
                EgressMatch m;
                char *reason = NULL;

                if (policy_egress_match(&c->egress, hosts[i], 443, "/usr/bin/curl", ancestors, &m) < 0)
                        continue;
                if (policy_egress_reason(&c->egress, &m, hosts[i], 443, "/usr/bin/curl", ancestors, &reason) >= 0)
                        free(reason);
        }
        for (size_t i = 0; i < c->egress.n_entries; i++) {
                L7QueryParam q[] = { { "q", "x" }, { "debug", "1" } };
                (void) policy_l7_decide(c->egress.entries[i].endpoint, "GET", "/a/b?c=d", q, 2);
        }
        null = fopen("/dev/null", "we");
        if (null) {
                (void) policy_landlock_serialize(&c->landlock, null);
                fclose(null);
        }
        if (policy_seccomp_build(&c->seccomp, &ctx) >= 0)
                seccomp_release(ctx);
        policy_compiled_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        DiagList d = {};
        Policy *p = NULL;

        /* bigger inputs only test the size cap, which is tested elsewhere; keep iterations fast */
        if (size > 256 * 1024)
                return 0;
        if (policy_load_buffer("fuzz.yaml", data, size, &p, &d) >= 0) {
                DiagList same = {};
                /* property: a valid policy may always be reloaded over itself */
                if (policy_check_reload(p, p, &same) != 0)
                        abort();
                diag_list_done(&same);
                exercise(p);
        }
        for (size_t i = 0; i < d.n_items; i++) {
                char *s = NULL;
                if (diag_format(&d.items[i], &s) >= 0)
                        free(s);
        }
        diag_list_done(&d);
        policy_free(p);
        return 0;
}

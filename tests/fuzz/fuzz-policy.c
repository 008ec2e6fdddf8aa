/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the policy engine: arbitrary bytes through the YAML loader, the parser, the
 * validator and, when they are accepted, the compiler (all four outputs, both printed forms, the
 * seccomp filter build) and the egress matcher.
 *
 * Build with clang -Dfuzz=true for libFuzzer (`fuzz-policy tests/fuzz/corpus/fuzz-policy`); without it
 * the same code is linked with FUZZ_REPLAY_MAIN into fuzz-policy-replay, which meson's 'fuzz' suite
 * runs over the corpus as a regression test. */

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

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

#ifdef FUZZ_REPLAY_MAIN
static int replay_file(int dfd, const char *name) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ uint8_t *buf = NULL;
        struct stat st;
        size_t n = 0;

        fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return 0;
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (n < (size_t) st.st_size) {
                ssize_t k = read(fd, buf + n, (size_t) st.st_size - n);
                if (k <= 0)
                        return k < 0 ? -errno : -EIO;
                n += (size_t) k;
        }
        (void) LLVMFuzzerTestOneInput(buf, n);
        return 1;
}

/* Replays every file of the directories (or files) named on the command line. */
int main(int argc, char *argv[]) {
        unsigned count = 0;

        for (int i = 1; i < argc; i++) {
                _cleanup_(closedirp) DIR *d = opendir(argv[i]);

                if (!d) {
                        int r = replay_file(AT_FDCWD, argv[i]);
                        if (r < 0) {
                                fprintf(stderr, "Cannot read %s: %s\n", argv[i], strerror(-r));
                                return EXIT_FAILURE;
                        }
                        count += (unsigned) r;
                        continue;
                }
                for (struct dirent *de; (de = readdir(d));) {
                        int r;
                        if (de->d_name[0] == '.')
                                continue;
                        r = replay_file(dirfd(d), de->d_name);
                        if (r < 0) {
                                fprintf(stderr, "Cannot read %s/%s: %s\n", argv[i], de->d_name, strerror(-r));
                                return EXIT_FAILURE;
                        }
                        count += (unsigned) r;
                }
        }
        printf("%u inputs replayed\n", count);
        return count > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
#endif

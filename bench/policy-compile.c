/* SPDX-License-Identifier: Apache-2.0 */
/* Benchmark of the policy engine on a generated policy with 1,000 endpoints and 200 paths.
 *
 * Prints the time of each stage and its ratio to a baseline measured in the same run (loading the
 * same YAML into a tree, without looking at it), so results compare across machines. Never asserts a
 * time: see bench/README.md.
 *
 *   policy-compile [ITERATIONS]      (default 50) */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy-compile.h"
#include "policy.h"
#include "string-util.h"
#include "yaml-node.h"

#define N_RULES 100
#define ENDPOINTS_PER_RULE 10 /* 1,000 endpoints */
#define N_PATHS 100           /* per list: 200 paths */
#define N_LOOKUPS 10000

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static int generate(char **ret, size_t *ret_size) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return -ENOMEM;
        fputs("version: 1\nfilesystem_policy:\n  include_workdir: true\n  read_only:\n", f);
        for (unsigned i = 0; i < N_PATHS; i++)
                fprintf(f, "    - /opt/ro/%u/lib\n", i);
        fputs("  read_write:\n", f);
        for (unsigned i = 0; i < N_PATHS; i++)
                fprintf(f, "    - /srv/rw/%u/data\n", i);
        fputs("landlock:\n  compatibility: hard_requirement\nnetwork_policies:\n", f);
        for (unsigned r = 0; r < N_RULES; r++) {
                fprintf(f, "  rule_%03u:\n    name: rule-%u\n    endpoints:\n", r, r);
                for (unsigned e = 0; e < ENDPOINTS_PER_RULE; e++) {
                        switch (e % 3) {
                        case 0:
                                fprintf(f, "      - { host: api%u.service%u.example.com, port: 443 }\n", e, r);
                                break;
                        case 1:
                                fprintf(f, "      - { host: \"*.cdn%u.example.net\", ports: [443, 8443] }\n", r * 10 + e);
                                break;
                        default:
                                fprintf(f,
                                        "      - host: rest%u.example.org\n        port: 443\n        protocol: rest\n"
                                        "        enforcement: enforce\n        rules:\n"
                                        "          - allow: { method: GET, path: \"/v1/**\" }\n"
                                        "          - allow: { method: POST, path: \"/v1/items\" }\n",
                                        r * 10 + e);
                        }
                }
                fprintf(f, "    binaries:\n      - { path: /usr/bin/tool%u }\n      - { path: \"/opt/agent%u/**\" }\n", r, r);
        }
        if (fclose(f) != 0)
                return -errno;
        *ret = buf;
        *ret_size = size;
        return 0;
}

typedef struct Stage {
        const char *name;
        uint64_t ns;
} Stage;

int main(int argc, char *argv[]) {
        _cleanup_free_ char *yaml = NULL;
        unsigned iterations = argc > 1 ? (unsigned) atoi(argv[1]) : 50;
        Stage st[5] = { { "yaml tree (baseline)" }, { "parse + validate" }, { "compile (4 outputs)" },
                        { "print unit + json" }, { "10k egress lookups" } };
        size_t size = 0;
        FILE *null = fopen("/dev/null", "we");
        int r;

        if (iterations == 0 || !null) {
                fprintf(stderr, "usage: policy-compile [ITERATIONS>0]\n");
                return EXIT_FAILURE;
        }
        r = generate(&yaml, &size);
        if (r < 0) {
                fprintf(stderr, "Failed to generate the policy: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }

        for (unsigned it = 0; it < iterations; it++) {
                _cleanup_(diag_list_done) DiagList d1 = {}, d2 = {};
                _cleanup_(yaml_node_freep) YamlNode *root = NULL;
                _cleanup_(policy_freep) Policy *p = NULL;
                _cleanup_(policy_compiled_freep) PolicyCompiled *c = NULL;
                uint64_t t;

                t = now_ns();
                r = yaml_load_buffer("bench.yaml", yaml, size, &root, &d1);
                st[0].ns += now_ns() - t;
                if (r < 0) {
                        diag_list_print(&d1, stderr);
                        return EXIT_FAILURE;
                }

                t = now_ns();
                r = policy_load_buffer("bench.yaml", yaml, size, &p, &d2);
                st[1].ns += now_ns() - t;
                if (r < 0) {
                        diag_list_print(&d2, stderr);
                        return EXIT_FAILURE;
                }

                t = now_ns();
                r = policy_compile(p, NULL, &c);
                st[2].ns += now_ns() - t;
                if (r < 0) {
                        fprintf(stderr, "Failed to compile: %s\n", strerror(-r));
                        return EXIT_FAILURE;
                }

                t = now_ns();
                (void) policy_print_unit(c, null);
                (void) policy_print_json(c, null);
                st[3].ns += now_ns() - t;

                t = now_ns();
                for (unsigned i = 0; i < N_LOOKUPS; i++) {
                        char host[64], exe[64];
                        EgressMatch m;
                        /* half hits (various rules), half misses that scan the whole table */
                        if (i % 2)
                                snprintf(host, sizeof(host), "api%u.service%u.example.com", (i / 2) % 10 / 3 * 3,
                                         i % N_RULES);
                        else
                                snprintf(host, sizeof(host), "miss%u.example.com", i);
                        snprintf(exe, sizeof(exe), "/usr/bin/tool%u", i % N_RULES);
                        (void) policy_egress_match(&c->egress, host, 443, exe, NULL, &m);
                }
                st[4].ns += now_ns() - t;
        }
        fclose(null);

        printf("policy: %u rules, %u endpoints, %u paths, %zu bytes of YAML; %u iterations\n", N_RULES,
               N_RULES * ENDPOINTS_PER_RULE, 2 * N_PATHS, size, iterations);
        printf("%-22s %12s %10s\n", "stage", "mean", "ratio");
        for (size_t i = 0; i < ELEMENTSOF(st); i++)
                printf("%-22s %9.3f ms %9.2fx\n", st[i].name, (double) st[i].ns / iterations / 1e6,
                       (double) st[i].ns / (double) (st[0].ns ?: 1));
        return EXIT_SUCCESS;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* openshell policy validate|compile: offline; reads policy files, talks to nobody. */

#include <getopt.h>
#include <string.h>

#include "log.h"
#include "openshell.h"
#include "policy-compile.h"
#include "policy.h"
#include "string-util.h"

static int policy_validate_verb(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "quiet", no_argument, NULL, 'q' },
                {},
        };
        bool quiet = false, invalid = false;
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "hq", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf("Usage: openshell policy validate [--quiet] FILE...\n\n"
                               "Check sandbox policy files: every error and warning is printed as\n"
                               "FILE:LINE:COLUMN: path.to.key: message. Exit status 0 if all files are valid\n"
                               "(warnings do not fail), 1 if any is invalid, 2 on usage errors.\n\n"
                               "  -q --quiet   Do not print \"FILE: valid\" lines\n");
                        return EXIT_SUCCESS;
                case 'q':
                        quiet = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (optind >= argc) {
                log_error("policy validate needs at least one FILE");
                return EXIT_USAGE;
        }

        for (int i = optind; i < argc; i++) {
                _cleanup_(policy_freep) Policy *p = NULL;
                _cleanup_(diag_list_done) DiagList d = {};
                int r;

                r = policy_load_file(argv[i], &p, &d);
                diag_list_print(&d, stderr);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0) {
                        if (d.n_errors == 0)
                                log_error_errno(r, "%s: cannot read policy: %m", argv[i]);
                        invalid = true;
                        continue;
                }
                if (!quiet)
                        printf("%s: valid%s\n", argv[i], d.n_warnings ? " (with warnings)" : "");
        }
        return invalid ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int policy_compile_verb(int argc, char *argv[]) {
        enum { ARG_FORMAT = 0x100 };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "format", required_argument, NULL, ARG_FORMAT },
                {},
        };
        _cleanup_(policy_compiled_freep) PolicyCompiled *compiled = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_(diag_list_done) DiagList d = {};
        bool json = false;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf("Usage: openshell policy compile [--format=unit|json] FILE\n\n"
                               "Print what a policy becomes: the systemd settings of the agent unit (a drop-in\n"
                               "a person can read and paste), with the Landlock ruleset, the extra seccomp filter\n"
                               "and the egress table as comments (unit, the default), or all four as JSON.\n");
                        return EXIT_SUCCESS;
                case ARG_FORMAT:
                        if (streq(optarg, "json"))
                                json = true;
                        else if (streq(optarg, "unit"))
                                json = false;
                        else {
                                log_error("unknown --format '%s' (expected unit or json)", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (argc - optind != 1) {
                log_error("policy compile needs exactly one FILE");
                return EXIT_USAGE;
        }

        r = policy_load_file(argv[optind], &p, &d);
        diag_list_print(&d, stderr);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                if (d.n_errors == 0)
                        log_error_errno(r, "%s: cannot read policy: %m", argv[optind]);
                return EXIT_FAILURE;
        }
        r = policy_compile(p, NULL, &compiled);
        if (r < 0)
                return log_error_errno(r, "Failed to compile %s: %m", argv[optind]);
        r = json ? policy_print_json(compiled, stdout) : policy_print_unit(compiled, stdout);
        if (r >= 0 && fflush(stdout) != 0)
                r = -errno;
        if (r < 0)
                return log_error_errno(r, "Failed to write the compiled policy: %m");
        return EXIT_SUCCESS;
}

static const Verb policy_verbs[] = {
        { "validate", "Check policy files and print every problem", policy_validate_verb },
        { "compile", "Print the systemd, Landlock, seccomp and egress settings of a policy", policy_compile_verb },
};

int verb_policy(int argc, char *argv[]) {
        if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "-h")) {
                FILE *f = argc < 2 ? stderr : stdout;
                fprintf(f, "Usage: openshell policy COMMAND ...\n\nCommands:\n");
                verb_print_table(policy_verbs, ELEMENTSOF(policy_verbs), f);
                return argc < 2 ? EXIT_USAGE : EXIT_SUCCESS;
        }
        return verb_dispatch("policy", policy_verbs, ELEMENTSOF(policy_verbs), argc - 1, argv + 1);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* openshell policy validate|compile: offline; reads policy files, talks to nobody. */

#include <getopt.h>
#include <string.h>

#include "log.h"
#include "openshell.h"
#include "policy-compile.h"
#include "policy.h"
#include "string-util.h"

static const struct option validate_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "quiet", no_argument, NULL, 'q' },
        {},
};

static int policy_validate_run(int argc, char *argv[]) {
        bool quiet = false, invalid = false;
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "hq", validate_options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return verb_help();
                case 'q':
                        quiet = true;
                        break;
                default:
                        return verb_usage();
                }
        if (optind >= argc)
                return usage_error("policy validate needs at least one FILE");

        for (int i = optind; i < argc; i++) {
                _cleanup_(policy_freep) Policy *p = NULL;
                _cleanup_(diag_list_done) DiagList d = {};
                int r;

                r = policy_load_file(argv[i], &p, &d);
                log_diag_list(&d);
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

enum { ARG_FORMAT = 0x100 };

static const struct option compile_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "format", required_argument, NULL, ARG_FORMAT },
        {},
};

static int policy_compile_run(int argc, char *argv[]) {
        _cleanup_(policy_compiled_freep) PolicyCompiled *compiled = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_(diag_list_done) DiagList d = {};
        bool json = false;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", compile_options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return verb_help();
                case ARG_FORMAT:
                        if (streq(optarg, "json"))
                                json = true;
                        else if (streq(optarg, "unit"))
                                json = false;
                        else
                                return usage_error("unknown --format '%s' (expected unit or json)", optarg);
                        break;
                default:
                        return verb_usage();
                }
        if (argc - optind != 1)
                return usage_error("policy compile needs exactly one FILE");

        r = policy_load_file(argv[optind], &p, &d);
        log_diag_list(&d);
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

static const Verb policy_validate_verb = {
        .name = "validate",
        .summary = "Check policy files and print every problem",
        .synopsis = "[--quiet] FILE...",
        .description =
                "Check sandbox policy files, in upstream OpenShell's policy format, with upstream's rules and "
                "messages. Every error and warning of every FILE is printed to standard error as "
                "FILE:LINE:COLUMN: path.to.key: message, and 'FILE: valid' (or 'valid (with warnings)') to "
                "standard output. A key upstream defines but this implementation does not enforce yet is an error "
                "that says so, never ignored. Reads only the files; needs neither root nor systemd.\n",
        .options = (const VerbItem[]) {
                { "-q, --quiet", "Do not print the 'FILE: valid' lines: only problems." },
                {},
        },
        .exit_status = (const VerbItem[]) {
                { "0", "Every FILE is valid (warnings do not count)." },
                { "1", "A FILE is invalid or cannot be read." },
                VERB_EXIT_USAGE,
                {},
        },
        .examples = "  openshell policy validate my-policy.yaml\n"
                    "  openshell policy validate -q /etc/openshell/policies/*.yaml\n",
        .see_also = "openshell policy compile, openshell sandbox create --policy; the policy format in "
                    "policy/README.md of openshell-systemd.\n",
        .run = policy_validate_run,
        .getopt = validate_options,
};

static const Verb policy_compile_verb = {
        .name = "compile",
        .summary = "Print the systemd, Landlock, seccomp and egress settings of a policy",
        .synopsis = "[--format=unit|json] FILE",
        .description =
                "Validate FILE, as 'policy validate' does, and print what it becomes for a sandbox's agent unit, "
                "so that a person can review it before granting access: the unit's settings (User=, "
                "ProtectSystem=, BindPaths=, SystemCallFilter=, MemoryMax=, ...), the Landlock ruleset "
                "openshell-exec applies, the seccomp filter systemd's SystemCallFilter= cannot express, and the "
                "egress table (endpoints, ports, binaries, decision). The supervisor adds a fixed floor of "
                "restrictions after these settings, which no policy can lift. Needs neither root nor systemd.\n",
        .options = (const VerbItem[]) {
                { "--format=unit|json",
                  "unit (the default): a drop-in for the agent unit, with the Landlock ruleset, the seccomp "
                  "filter and the egress table as comments. json: all four as one JSON object, for programs." },
                {},
        },
        .exit_status = (const VerbItem[]) {
                { "0", "The compiled policy was printed." },
                { "1", "FILE is invalid or cannot be read (the problems are on standard error), or the output "
                       "cannot be written." },
                VERB_EXIT_USAGE,
                {},
        },
        .examples = "  openshell policy compile my-policy.yaml\n"
                    "  openshell policy compile --format=json my-policy.yaml | jq .unit\n",
        .see_also = "systemd.exec(5), systemd.resource-control(5), landlock(7), systemd-analyze(1) security, "
                    "openshell policy validate.\n",
        .run = policy_compile_run,
        .getopt = compile_options,
};

const Verb policy_verb = {
        .name = "policy",
        .summary = "Validate and compile sandbox policies",
        .description =
                "Sandbox policies are upstream OpenShell's policy YAML (filesystem_policy, landlock, process, "
                "network_policies), with this project's extensions under the key x-openshell. These commands "
                "check a policy and show what it becomes; they read files only. A sandbox gets its policy with "
                "'openshell sandbox create --policy FILE'.\n",
        .see_also = "openshell sandbox create, the policy format in policy/README.md of openshell-systemd.\n",
        .verbs = (const Verb *const[]) {
                &policy_validate_verb,
                &policy_compile_verb,
                NULL,
        },
};

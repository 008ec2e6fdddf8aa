/* SPDX-License-Identifier: Apache-2.0 */
/* openshell: the command line of openshell-systemd. Command names and arguments follow upstream
 * OpenShell's CLI, so that its users' command lines keep working. This file holds the root of the
 * command tree, its global options and `openshell help`. */

#include <getopt.h>
#include <stdio.h>

#include "log.h"
#include "openshell.h"
#include "sandbox-name.h"

static int help_run(int argc, char *argv[]) {
        _cleanup_free_ char *path = NULL;
        const Verb *v;
        int r;

        if (!verb_parse_no_options(argc, argv, &r))
                return r;
        v = verb_find(argv + optind, (size_t) (argc - optind), &path);
        if (!v)
                return verb_usage();
        return verb_help_show(v, path);
}

static const Verb help_verb = {
        .name = "help",
        .summary = "Show the manual of openshell, a group or a command",
        .synopsis = "[GROUP [COMMAND]]",
        .description = "Print the manual of GROUP COMMAND (for example 'openshell help sandbox create'), of GROUP, "
                       "or of openshell itself, to standard output. The same as 'openshell [GROUP [COMMAND]] "
                       "--help'.\n",
        .exit_status = (const VerbItem[]) {
                { "0", "The manual was printed." },
                { "1", "Standard output could not be written." },
                VERB_EXIT_USAGE,
                {},
        },
        .examples = "  openshell help sandbox exec\n"
                    "  openshell help inference | less\n",
        .see_also = "man(1)\n",
        .run = help_run,
        .getopt = verb_no_options,
};

static const struct option openshell_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        {},
};

const Verb openshell_verb = {
        .name = "openshell",
        .summary = "run AI agents in sandboxes made of systemd units",
        .synopsis = "[-h|--help] [-V|--version]\n"
                    "GROUP COMMAND [OPTIONS] [ARGS...]\n"
                    "help [GROUP [COMMAND]]",
        .description =
                "openshell manages the sandboxes and the inference broker of openshell-systemd. Command names and "
                "options follow upstream NVIDIA OpenShell's CLI, so that its users' command lines keep working; an "
                "upstream option this implementation lacks is refused with 'not supported yet' (or, where a "
                "command's manual says so, accepted and ignored), never silently misread.\n"
                "\n"
                "A sandbox NAME is two systemd units. The supervisor openshell-sandbox@NAME.service, an instance "
                "of a static template, reads the spec " SANDBOX_SPEC_DIR "/NAME.yaml, compiles its policy and "
                "starts the agent: the transient unit " SANDBOX_AGENT_PREFIX "NAME.service with every restriction "
                "systemd can give (file system, users, system calls, namespaces, resources) plus a Landlock "
                "ruleset and a seccomp filter. The agent unit is bound to the supervisor: stopping either stops "
                "both. Its workdir " SANDBOX_STATE_DIR "/NAME is mounted at " SANDBOX_WORKDIR_IN_SANDBOX
                " and kept across restarts.\n"
                "\n"
                "The commands talk to systemd over the system bus and write files under /etc/openshell, so "
                "most of them need root; everything they do can also be done with systemctl, journalctl and an "
                "editor, as each command's manual shows. Results go to standard output, messages to standard "
                "error prefixed with 'openshell:'; OPENSHELL_LOG_LEVEL=debug|info|warn|error chooses how much is "
                "said (default info).\n",
        .options = (const VerbItem[]) {
                { "-V, --version", "Print the version and exit." },
                {},
        },
        .exit_status = (const VerbItem[]) {
                { "0", "Success." },
                { "1", "The operation failed; standard error says why." },
                VERB_EXIT_USAGE,
                { "N", "'sandbox exec' and 'sandbox connect' end with the exit status of the command they ran." },
                {},
        },
        .files = (const VerbItem[]) {
                { SANDBOX_SPEC_DIR "/NAME.yaml", "A sandbox's spec: command, policy, profile, environment." },
                { POLICIES_DIR "/", "Policies of the administrator, and the copies 'sandbox create --policy' makes." },
                { DATADIR "/policies/default.yaml", "The policy of a sandbox whose spec and profile name none." },
                { PROFILES_DIR "/NAME/", "Profiles for 'sandbox create --from NAME'." },
                { SANDBOX_STATE_DIR "/NAME/", "A sandbox's workdir, its " SANDBOX_WORKDIR_IN_SANDBOX "." },
                { SANDBOX_RUNTIME_DIR "/NAME/",
                  "What the supervisor applied to the agent, for 'exec' and 'connect'." },
                { "/etc/openshell/providers/NAME.yaml", "A provider's type and configuration (no secrets)." },
                { "/etc/openshell/credentials/NAME", "A provider's secrets, readable by root only." },
                { "/etc/openshell/inference.yaml", "The routes of inference.local." },
                {},
        },
        .examples = "Run an agent in a sandbox, look at it, run a command next to it, remove it:\n"
                    "\n"
                    "  openshell sandbox create demo -- /usr/local/bin/my-agent --serve\n"
                    "  openshell sandbox get demo\n"
                    "  openshell sandbox exec demo -- ls -l /sandbox\n"
                    "  openshell sandbox delete demo --purge\n"
                    "\n"
                    "Route inference.local to a local vLLM server:\n"
                    "\n"
                    "  openshell provider create --name vllm --type openai \\\n"
                    "      --config OPENAI_BASE_URL=http://127.0.0.1:8000/v1\n"
                    "  openshell inference set --provider vllm --model meta-llama/Llama-3.1-8B-Instruct\n",
        .see_also = "systemctl(1), journalctl(1), systemd.exec(5), systemd.resource-control(5), "
                    "systemd-analyze(1), landlock(7), seccomp(2); README.md of openshell-systemd.\n",
        .getopt = openshell_options,
        .verbs = (const Verb *const[]) {
                &sandbox_verb,
                &status_verb,
                &policy_verb,
                &provider_verb,
                &inference_verb,
                &logs_verb,
                &help_verb,
                NULL,
        },
};

int openshell_run(int argc, char *argv[]) {
        int c;

        log_set_prefix("openshell");
        /* getopt names the program by argv[0] in its messages: the name users type, not a path. */
        argv[0] = (char *) "openshell";
        /* Stop at the first non-option: the rest belongs to the command. */
        optind = 0;
        while ((c = getopt_long(argc, argv, "+hV", openshell_options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return verb_help_show(&openshell_verb, "openshell");
                case 'V':
                        printf("openshell %s\n", PROJECT_VERSION);
                        return EXIT_SUCCESS;
                default:
                        return verb_usage();
                }
        return verb_dispatch(&openshell_verb, "openshell", argc - optind, argv + optind);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* openshell: the command line of openshell-systemd. Command names and arguments follow upstream
 * OpenShell's CLI, so that its users' command lines keep working. */

#include <getopt.h>
#include <string.h>

#include "log.h"
#include "openshell.h"
#include "string-util.h"

static const Verb groups[] = {
        { "sandbox", "Create, list and manage sandboxes", verb_sandbox },
        { "status", "What this machine offers sandboxes", verb_status },
        { "policy", "Validate and compile sandbox policies", verb_policy },
        { "provider", "Create and manage inference providers (credentials, endpoints)", verb_provider },
        { "inference", "Set and show the route of inference.local", verb_inference },
};

void verb_print_table(const Verb *table, size_t n, FILE *f) {
        for (size_t i = 0; i < n; i++)
                fprintf(f, "  %-12s %s\n", table[i].name, table[i].summary);
}

int verb_dispatch(const char *group, const Verb *table, size_t n, int argc, char *argv[]) {
        const char *names[64] = {};
        const char *hint;

        for (size_t i = 0; i < n; i++)
                if (streq(table[i].name, argv[0]))
                        return table[i].dispatch(argc, argv);

        for (size_t i = 0; i < n && i + 1 < ELEMENTSOF(names); i++)
                names[i] = table[i].name;
        hint = string_suggest(argv[0], names);
        if (hint)
                log_error("unknown command '%s%s%s' (did you mean '%s'?)", group ? group : "", group ? " " : "",
                          argv[0], hint);
        else
                log_error("unknown command '%s%s%s'; see 'openshell %s--help'", group ? group : "", group ? " " : "",
                          argv[0], group ? group : "");
        return EXIT_USAGE;
}

static void help(FILE *f) {
        fprintf(f,
                "Usage: openshell [--help] [--version] COMMAND ...\n"
                "\n"
                "Run AI agents in sandboxes made of systemd units.\n"
                "\n"
                "Commands:\n");
        verb_print_table(groups, ELEMENTSOF(groups), f);
        fprintf(f,
                "\n"
                "Options:\n"
                "  -h --help      Show this help\n"
                "     --version  Show the version\n"
                "\n"
                "Run 'openshell COMMAND --help' for the options of a command.\n");
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        int c;

        log_setup();
        log_set_prefix("openshell");

        /* Stop at the first non-option: the rest belongs to the command. */
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help(stdout);
                        return EXIT_SUCCESS;
                case 'V':
                        printf("openshell %s\n", PROJECT_VERSION);
                        return EXIT_SUCCESS;
                default:
                        return EXIT_USAGE;
                }

        if (optind >= argc) {
                help(stderr);
                return EXIT_USAGE;
        }
        c = verb_dispatch(NULL, groups, ELEMENTSOF(groups), argc - optind, argv + optind);
        /* Verbs return an exit status, or a negative errno they have already reported. */
        return c < 0 ? EXIT_FAILURE : c;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* openshell-broker: the socket-activated inference broker behind openshell-broker.socket.
 *
 * One process, one sd-event loop, no threads. Clients (host users, and sandboxes through their
 * supervisor) speak OpenAI-compatible HTTP/1.1 on /run/openshell/broker.sock (and optionally a loopback
 * TCP port). Each request is matched to a route (/etc/openshell/inference.yaml), its `model` is
 * overwritten, client credentials are stripped and the provider's injected, and it is sent to one of
 * the route's backends with libcurl's multi socket API driven by the same loop. Answers, SSE streams
 * included, are forwarded chunk by chunk as they arrive. Every request ends in one journal entry.
 * The parts are listed in broker-manager.h; this file is the command line and run(). */

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "broker-manager.h"
#include "fs-util.h"
#include "log.h"
#include "main-func.h"
#include "parse-util.h"

/* More client connections than this would need more descriptors than a process gets. */
#define CONNECTIONS_MAX 1000000U
/* A timeout beyond a year is a typo. */
#define TIMEOUT_SEC_MAX (86400U * 365U)

static int parse_seconds(const char *s, usec_t *ret) {
        uint32_t v;
        int r;

        r = safe_atou32(s, &v);
        if (r < 0)
                return r;
        if (v > TIMEOUT_SEC_MAX)
                return -ERANGE;
        *ret = (usec_t) v * USEC_PER_SEC;
        return 0;
}

static void help(void) {
        printf("openshell-broker [OPTIONS]\n\n"
               "Socket-activated inference broker (started by openshell-broker.socket).\n\n"
               "  -h --help                 Show this help\n"
               "     --version              Show the version\n"
               "     --config-dir=DIR       Read DIR/inference.yaml and DIR/providers/ (default %s)\n"
               "     --credentials-dir=DIR  Provider secrets, one file per provider (default: the service's\n"
               "                            $CREDENTIALS_DIRECTORY/%sNAME, else %s/NAME)\n"
               "     --idle-timeout=SEC     Exit after SEC seconds without a request (0: never; default 120)\n"
               "     --request-timeout=SEC  Time a client has to send a request head, and then its body\n"
               "                            (default 10)\n"
               "     --stream-idle-timeout=SEC  Cut an answer whose backend sends nothing for SEC seconds\n"
               "                            (default 120)\n"
               "     --max-connections=N    Client connections at most (default %u)\n",
               BROKER_CONFIG_DIR, BROKER_CREDENTIAL_PREFIX, BROKER_CREDENTIALS_DIR, CONNECTIONS_MAX_DEFAULT);
}

static int parse_argv(Manager *m, int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_CONFIG_DIR,
                ARG_CREDENTIALS_DIR,
                ARG_IDLE,
                ARG_REQUEST,
                ARG_STREAM_IDLE,
                ARG_MAX_CONN,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config-dir", required_argument, NULL, ARG_CONFIG_DIR },
                { "credentials-dir", required_argument, NULL, ARG_CREDENTIALS_DIR },
                { "idle-timeout", required_argument, NULL, ARG_IDLE },
                { "request-timeout", required_argument, NULL, ARG_REQUEST },
                { "stream-idle-timeout", required_argument, NULL, ARG_STREAM_IDLE },
                { "max-connections", required_argument, NULL, ARG_MAX_CONN },
                {}
        };
        const char *creds;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("openshell-broker %s\n", PROJECT_VERSION);
                        return 0;
                case ARG_CONFIG_DIR:
                        free(m->config_dir);
                        m->config_dir = strdup(optarg);
                        if (!m->config_dir)
                                return log_oom();
                        break;
                case ARG_CREDENTIALS_DIR:
                        free(m->credentials_dir);
                        m->credentials_dir = strdup(optarg);
                        if (!m->credentials_dir)
                                return log_oom();
                        break;
                case ARG_IDLE:
                        r = parse_seconds(optarg, &m->idle_timeout);
                        if (r < 0)
                                return log_error_errno(r, "Invalid --idle-timeout: %s", optarg);
                        break;
                case ARG_REQUEST:
                        r = parse_seconds(optarg, &m->request_timeout);
                        if (r >= 0 && m->request_timeout == 0)
                                r = -ERANGE;
                        if (r < 0)
                                return log_error_errno(r, "Invalid --request-timeout: %s", optarg);
                        break;
                case ARG_STREAM_IDLE:
                        r = parse_seconds(optarg, &m->stream_idle_timeout);
                        if (r >= 0 && m->stream_idle_timeout == 0)
                                r = -ERANGE;
                        if (r < 0)
                                return log_error_errno(r, "Invalid --stream-idle-timeout: %s", optarg);
                        break;
                case ARG_MAX_CONN:
                        r = safe_atou(optarg, &m->max_connections);
                        if (r < 0 || m->max_connections == 0 || m->max_connections > CONNECTIONS_MAX)
                                return log_error_errno(r < 0 ? r : SYNTHETIC_ERRNO(ERANGE),
                                                       "Invalid --max-connections: %s", optarg);
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unknown option.");
                }
        if (optind < argc)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "This program takes no arguments.");

        if (!m->config_dir && !(m->config_dir = strdup(BROKER_CONFIG_DIR)))
                return log_oom();
        if (m->credentials_dir)
                m->credential_prefix = "";
        else if ((creds = secure_getenv("CREDENTIALS_DIRECTORY"))) {
                m->credentials_dir = strdup(creds);
                m->credential_prefix = BROKER_CREDENTIAL_PREFIX;
        } else {
                m->credentials_dir = strdup(BROKER_CREDENTIALS_DIR);
                m->credential_prefix = "";
        }
        if (!m->credentials_dir)
                return log_oom();
        return 1;
}

static int run(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        r = manager_new(&m);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate manager: %m");
        r = parse_argv(m, argc, argv);
        if (r <= 0)
                return r;

        /* Each stream holds two descriptors (client and backend). */
        r = rlimit_nofile_raise();
        if (r < 0)
                log_debug_errno(r, "Failed to raise RLIMIT_NOFILE, ignoring: %m");
        r = manager_setup_event(m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up event loop and signals: %m");
        r = manager_setup_curl(m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up libcurl on the event loop: %m");
        (void) manager_load_config(m); /* an invalid file is reported per request (503) and logged */
        r = manager_listen(m);
        if (r == -ENXIO)
                return log_error_errno(r, "No listening socket passed: openshell-broker is started by "
                                          "openshell-broker.socket (or for testing: systemd-socket-activate -l PATH "
                                          "openshell-broker).");
        if (r < 0)
                return log_error_errno(r, "Failed to listen on the sockets passed by systemd: %m");
        r = manager_start_probes(m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up health probe timer: %m");
        r = manager_start_idle_timer(m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up idle timer: %m");
        r = manager_run(m);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return 0;
}

DEFINE_MAIN_FUNCTION(run);

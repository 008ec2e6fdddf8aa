/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Active health checks: while a backend's circuit is open (broker-backend.h) the broker probes it every
 * PROBE_INTERVAL, and closes the circuit as soon as it answers. Backends that work are judged on real
 * traffic only. */

#include <curl/curl.h>

#include "broker-backend.h"
#include "broker-manager.h"

struct Probe {
        Manager *manager;
        BackendState *backend;
        CURL *easy;
        char *url;
        Probe *next;
};

Probe *probe_free(Probe *p);
/* libcurl ended the transfer easy, if it is one of the probes'. */
void probe_finish(Manager *m, CURL *easy, int result);

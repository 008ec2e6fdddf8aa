/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The route of a request: the one named like the client's model (so one broker can offer several
 * models, e.g. a route "claude" next to inference.local), else the one named like the Host header
 * (without port), else inference.local; NULL if none exists. */

#include "broker-config.h"
#include "macro.h"

const Route *route_choose(const BrokerConfig *c, const char *host, const char *model) _pure_;

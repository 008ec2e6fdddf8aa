/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "broker-route.h"
#include "string-util.h"

const Route *route_choose(const BrokerConfig *c, const char *host, const char *model) {
        const Route *route = NULL;

        if (model)
                route = broker_config_find_route(c, model);
        if (!route && host) {
                size_t l = strcspn(host, ":");
                for (size_t i = 0; c && i < c->n_routes; i++)
                        if (strlen(c->routes[i].name) == l && strneq(c->routes[i].name, host, l)) {
                                route = &c->routes[i];
                                break;
                        }
        }
        return route ?: broker_config_find_route(c, BROKER_DEFAULT_ROUTE);
}

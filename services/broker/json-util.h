/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* json-c's cleanup helper. Here rather than in a layer: lib/basic and lib/common stay free of json-c,
 * and lib/system is what talks to systemd, not a home for every library a program links. */

#include <json-c/json.h>

static inline void json_object_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

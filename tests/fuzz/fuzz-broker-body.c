/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for what the broker reads in JSON without building it again: the token-usage scanner
 * (answers from a GPU server) and the check that lets a client's body go upstream unchanged. Checks
 * their invariants: counts are -1 or non-negative; a body passed unchanged is one whose parsed
 * "model" is the route's. Built as a libFuzzer target with -Dfuzz=true (clang), and always as a
 * replay program that meson runs over the corpus. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker-body.h"
#include "broker-usage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char model[] = "route-model";
        const char *text = (const char *) data;
        TokenUsage u = TOKEN_USAGE_UNKNOWN;
        json_object *o = NULL;

        if (usage_parse_json(text, size, &u) >= 0 && (u.in < -1 || u.out < -1))
                abort();

        if (request_body_parse(text, size, &o) >= 0 && o) {
                if (request_body_unchanged(o, text, size, model)) {
                        const char *m = request_body_model(o);
                        if (!m || strcmp(m, model) != 0)
                                abort();
                }
                json_object_put(o);
        }
        return 0;
}

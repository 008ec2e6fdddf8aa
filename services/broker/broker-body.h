/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The request body: a JSON object (-EBADMSG for anything else, trailing bytes, or nesting deeper than
 * BROKER_JSON_DEPTH_MAX), its "model" as the client wrote it (NULL if absent or not a string), and the
 * body serialized again with "model" set to the route's. rewrite_model() is parse + rewrite. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#define BROKER_JSON_DEPTH_MAX 64
int request_body_parse(const char *body, size_t size, json_object **ret);
const char *request_body_model(json_object *o);
int request_body_rewrite(json_object *o, const char *model, char **ret, size_t *ret_size);
int rewrite_model(const char *body, size_t size, const char *model, char **ret, size_t *ret_size);
/* Whether the client's body can go upstream byte for byte, without being serialized again: its
 * "model" (o is body parsed) is the route's already, and no top-level key is written twice (parsers
 * disagree on which of two "model"s counts: what a backend reads must be what the broker checked). */
bool request_body_unchanged(json_object *o, const char *body, size_t size, const char *model);

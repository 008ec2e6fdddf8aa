/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "broker-body.h"
#include "json-scan.h"

static json_object *json_parse_bounded(const char *data, size_t size) {
        json_tokener *tok;
        json_object *o;

        if (size > INT32_MAX)
                return NULL;
        tok = json_tokener_new_ex(BROKER_JSON_DEPTH_MAX);
        if (!tok)
                return NULL;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, data, (int) size);
        /* Trailing bytes after the value are an error, as is a truncated value. */
        if (o && (json_tokener_get_error(tok) != json_tokener_success ||
                  json_tokener_get_parse_end(tok) != size)) {
                size_t end = json_tokener_get_parse_end(tok);
                bool only_space = true;

                for (size_t i = end; i < size; i++)
                        if (!strchr(" \t\r\n", data[i]))
                                only_space = false;
                if (!only_space || json_tokener_get_error(tok) != json_tokener_success) {
                        json_object_put(o);
                        o = NULL;
                }
        }
        json_tokener_free(tok);
        return o;
}

int request_body_parse(const char *body, size_t size, json_object **ret) {
        json_object *o = json_parse_bounded(body, size);

        if (!o)
                return -EBADMSG;
        if (!json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return -EBADMSG;
        }
        *ret = o;
        return 0;
}

const char *request_body_model(json_object *o) {
        json_object *m;

        if (!json_object_object_get_ex(o, "model", &m) || !json_object_is_type(m, json_type_string))
                return NULL;
        return json_object_get_string(m);
}

int request_body_rewrite(json_object *o, const char *model, char **ret, size_t *ret_size) {
        json_object *m = json_object_new_string(model);
        const char *s;
        size_t l;
        char *copy;

        if (!m)
                return -ENOMEM;
        if (json_object_object_add(o, "model", m) < 0) {
                json_object_put(m);
                return -ENOMEM;
        }
        s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &l);
        copy = s ? strndup(s, l) : NULL;
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        *ret_size = l;
        return 0;
}

int rewrite_model(const char *body, size_t size, const char *model, char **ret, size_t *ret_size) {
        json_object *o = NULL;
        int r;

        r = request_body_parse(body, size, &o);
        if (r < 0)
                return r;
        r = request_body_rewrite(o, model, ret, ret_size);
        json_object_put(o);
        return r;
}

bool request_body_unchanged(json_object *o, const char *body, size_t size, const char *model) {
        json_object *m;
        const char *p = body, *end = body + size;
        JsonMember member;
        size_t n = 0;
        int r;

        if (!json_object_object_get_ex(o, "model", &m) || !json_object_is_type(m, json_type_string) ||
            (size_t) json_object_get_string_len(m) != strlen(model) || !streq(json_object_get_string(m), model))
                return false;
        /* json-c keeps one member per key: fewer members than written means a key appears twice. */
        for (bool first = true; (r = json_next_member(&p, end, first, &member)) > 0; first = false)
                n++;
        return r == 0 && n == (size_t) json_object_object_length(o);
}

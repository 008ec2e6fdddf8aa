/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A YAML document as a small tree whose every node remembers where it was written (line, column), so
 * that each error can point at the place a person must fix. Loading is bounded and strict: size,
 * nesting and node count are capped, aliases are refused (no "billion laughs"), duplicate mapping
 * keys are errors, input must be UTF-8, and a file holds exactly one document. */

#include "diag.h"

#define YAML_FILE_SIZE_MAX (4U * 1024U * 1024U)
#define YAML_DEPTH_MAX 64U
#define YAML_NODES_MAX 200000U

typedef enum YamlNodeType {
        YAML_NODE_SCALAR,
        YAML_NODE_SEQUENCE,
        YAML_NODE_MAPPING,
        _YAML_NODE_TYPE_MAX,
        _YAML_NODE_TYPE_INVALID = -EINVAL,
} YamlNodeType;

typedef struct YamlNode YamlNode;
struct YamlNode {
        YamlNodeType type;
        unsigned line, column; /* 1-based */
        /* Scalars: the text and whether it was written without quotes (only plain scalars can mean
         * null, a boolean or a number). */
        char *value;
        bool plain;
        /* Sequences: n_items children. Mappings: n_items children as key, value, key, value, ...; keys
         * are always scalars and unique. */
        YamlNode **items;
        size_t n_items;
};

YamlNode *yaml_node_free(YamlNode *n);
DEFINE_TRIVIAL_CLEANUP_FUNC(YamlNode *, yaml_node_free);

/* Parses a document. On success *ret is the root, or NULL for an empty document (only comments or
 * whitespace). Problems are added to diags as errors, with name as the file name; the return value
 * is then -EBADMSG (or another negative errno for I/O and memory failures). */
int yaml_load_buffer(const char *name, const void *data, size_t size, YamlNode **ret, DiagList *diags);
int yaml_load_file(const char *path, YamlNode **ret, DiagList *diags);

const char *yaml_node_type_to_string(YamlNodeType t) _pure_;
/* A short description of what a node is, for "expected a list, got a mapping" messages:
 * "a mapping", "a list", "null", "a boolean", "a number", "a string". */
const char *yaml_node_describe(const YamlNode *n) _pure_;

bool yaml_node_is_null(const YamlNode *n) _pure_;
/* YAML 1.2 core schema booleans (true/false in their usual spellings); returns -EINVAL otherwise. */
int yaml_node_get_bool(const YamlNode *n, bool *ret);
/* A plain decimal integer within [min, max]; -EINVAL if not an integer, -ERANGE if outside. */
int yaml_node_get_integer(const YamlNode *n, int64_t min, int64_t max, int64_t *ret);
/* Any scalar that is not null, as text (numbers and booleans as written). */
const char *yaml_node_get_string(const YamlNode *n) _pure_;

/* A finding at a node of the tree (at may be NULL: the finding has no place in the file). */
#define yaml_report(rep, level, at, path, ...)                                                          \
        ({                                                                                              \
                const YamlNode *_at_ = (at);                                                            \
                diag_report(rep, level, _at_ ? _at_->line : 0, _at_ ? _at_->column : 0, path, __VA_ARGS__); \
        })
#define yaml_error(rep, at, path, ...) yaml_report(rep, DIAG_ERROR, at, path, __VA_ARGS__)
#define yaml_warning(rep, at, path, ...) yaml_report(rep, DIAG_WARNING, at, path, __VA_ARGS__)

/* Mapping lookup by key; NULL if absent or not a mapping. */
YamlNode *yaml_mapping_get(const YamlNode *mapping, const char *key) _pure_;

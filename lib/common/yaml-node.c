/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "string-util.h"
#include "yaml-node.h"

/* A mapping with more entries than this is not a configuration anyone writes by hand; the cap also
 * bounds the duplicate-key check, which compares each key with the earlier ones. */
#define YAML_MAPPING_ENTRIES_MAX 4096U

YamlNode *yaml_node_free(YamlNode *n) {
        if (!n)
                return NULL;
        for (size_t i = 0; i < n->n_items; i++)
                yaml_node_free(n->items[i]);
        free(n->items);
        free(n->value);
        free(n);
        return NULL;
}

typedef struct Loader {
        const char *name;
        DiagList *diags;
        YamlNode *root;
        YamlNode *stack[YAML_DEPTH_MAX];
        unsigned depth;
        size_t n_nodes;
        unsigned n_documents;
} Loader;

static int loader_error(Loader *l, const yaml_mark_t *mark, const char *fmt, ...) _printf_(3, 4);
static int loader_error(Loader *l, const yaml_mark_t *mark, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = diag_addv(l->diags, DIAG_ERROR, l->name, (unsigned) mark->line + 1, (unsigned) mark->column + 1, NULL,
                      fmt, ap);
        va_end(ap);
        return r < 0 ? r : -EBADMSG;
}

static int append_child(YamlNode *parent, YamlNode *child) {
        /* The capacity is implied by the count: 4, then doubled each time the count reaches a power of two. */
        if (parent->n_items == 0 || (parent->n_items >= 4 && (parent->n_items & (parent->n_items - 1)) == 0)) {
                size_t cap = parent->n_items == 0 ? 4 : parent->n_items * 2;
                YamlNode **items = reallocarray(parent->items, cap, sizeof(YamlNode *));
                if (!items)
                        return -ENOMEM;
                parent->items = items;
        }
        parent->items[parent->n_items++] = child;
        return 0;
}

/* Puts a finished or just-opened node into its parent (or makes it the root), checking what only the
 * parent can tell: keys must be scalars and unique. Takes ownership of n. */
static int loader_attach(Loader *l, YamlNode *n, const yaml_mark_t *mark) {
        _cleanup_(yaml_node_freep) YamlNode *node = n;
        YamlNode *parent;
        int r;

        if (++l->n_nodes > YAML_NODES_MAX)
                return loader_error(l, mark, "document has too many nodes (more than %u)", YAML_NODES_MAX);

        if (l->depth == 0) {
                l->root = TAKE_PTR(node);
                return 0;
        }

        parent = l->stack[l->depth - 1];
        if (parent->type == YAML_NODE_MAPPING && parent->n_items % 2 == 0) {
                if (node->type != YAML_NODE_SCALAR)
                        return loader_error(l, mark, "mapping keys must be strings, not %s",
                                            yaml_node_describe(node));
                if (parent->n_items / 2 >= YAML_MAPPING_ENTRIES_MAX)
                        return loader_error(l, mark, "mapping has too many entries (more than %u)",
                                            YAML_MAPPING_ENTRIES_MAX);
                for (size_t i = 0; i < parent->n_items; i += 2)
                        if (streq(parent->items[i]->value, node->value))
                                return loader_error(l, mark, "duplicate key '%s' (first given at line %u)",
                                                    node->value, parent->items[i]->line);
        }

        r = append_child(parent, node);
        if (r < 0)
                return r;
        TAKE_PTR(node);
        return 0;
}

static int node_new(YamlNodeType type, const yaml_mark_t *mark, YamlNode **ret) {
        YamlNode *n = calloc(1, sizeof(YamlNode));

        if (!n)
                return -ENOMEM;
        n->type = type;
        n->line = (unsigned) mark->line + 1;
        n->column = (unsigned) mark->column + 1;
        *ret = n;
        return 0;
}

static int check_tag(Loader *l, const yaml_char_t *tag, const yaml_mark_t *mark, const char *allowed) {
        if (!tag || streq((const char *) tag, allowed))
                return 0;
        return loader_error(l, mark, "YAML tag '%s' is not supported", (const char *) tag);
}

static int loader_event(Loader *l, const yaml_event_t *e) {
        const yaml_mark_t *mark = &e->start_mark;
        YamlNode *n;
        int r;

        switch (e->type) {
        case YAML_DOCUMENT_START_EVENT:
                if (++l->n_documents > 1)
                        return loader_error(l, mark, "more than one YAML document in one file (remove '---')");
                return 0;

        case YAML_ALIAS_EVENT:
                return loader_error(l, mark,
                                    "YAML aliases ('*%s') are not supported (write the value out in full)",
                                    (const char *) e->data.alias.anchor);

        case YAML_SCALAR_EVENT:
                r = check_tag(l, e->data.scalar.tag, mark, YAML_STR_TAG);
                if (r < 0)
                        return r;
                if (memchr(e->data.scalar.value, 0, e->data.scalar.length))
                        return loader_error(l, mark, "string contains a NUL character");
                r = node_new(YAML_NODE_SCALAR, mark, &n);
                if (r < 0)
                        return r;
                n->value = strndup((const char *) e->data.scalar.value, e->data.scalar.length);
                if (!n->value) {
                        yaml_node_free(n);
                        return -ENOMEM;
                }
                n->plain = e->data.scalar.plain_implicit && !e->data.scalar.tag;
                return loader_attach(l, n, mark);

        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
                bool seq = e->type == YAML_SEQUENCE_START_EVENT;

                r = check_tag(l, seq ? e->data.sequence_start.tag : e->data.mapping_start.tag, mark,
                              seq ? YAML_SEQ_TAG : YAML_MAP_TAG);
                if (r < 0)
                        return r;
                if (l->depth >= YAML_DEPTH_MAX)
                        return loader_error(l, mark, "nesting is too deep (more than %u levels)", YAML_DEPTH_MAX);
                r = node_new(seq ? YAML_NODE_SEQUENCE : YAML_NODE_MAPPING, mark, &n);
                if (r < 0)
                        return r;
                r = loader_attach(l, n, mark);
                if (r < 0)
                        return r;
                l->stack[l->depth++] = n;
                return 0;
        }

        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
                assert(l->depth > 0);
                l->depth--;
                return 0;

        default:
                return 0;
        }
}

/* Returns the offset of the first byte that is not part of well-formed UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or SIZE_MAX if all is well. libyaml checks this too,
 * but reports no usable position. */
static size_t utf8_find_invalid(const uint8_t *s, size_t n) {
        for (size_t i = 0; i < n;) {
                uint8_t c = s[i];
                size_t len;
                uint32_t cp, min;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if ((c & 0xE0) == 0xC0)
                        len = 2, cp = c & 0x1F, min = 0x80;
                else if ((c & 0xF0) == 0xE0)
                        len = 3, cp = c & 0x0F, min = 0x800;
                else if ((c & 0xF8) == 0xF0)
                        len = 4, cp = c & 0x07, min = 0x10000;
                else
                        return i;
                if (n - i < len)
                        return i;
                for (size_t k = 1; k < len; k++) {
                        if ((s[i + k] & 0xC0) != 0x80)
                                return i;
                        cp = (cp << 6) | (s[i + k] & 0x3F);
                }
                if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                        return i;
                i += len;
        }
        return SIZE_MAX;
}

static int check_utf8(const char *name, const uint8_t *data, size_t size, DiagList *diags) {
        size_t bad = utf8_find_invalid(data, size);
        unsigned line = 1, column = 1;
        int r;

        if (bad == SIZE_MAX)
                return 0;
        for (size_t i = 0; i < bad; i++) {
                if (data[i] == '\n') {
                        line++;
                        column = 1;
                } else if ((data[i] & 0xC0) != 0x80) /* count characters, not bytes */
                        column++;
        }
        r = diag_add(diags, DIAG_ERROR, name, line, column, NULL,
                     "invalid UTF-8 (byte 0x%02x); the file must be UTF-8 text", data[bad]);
        return r < 0 ? r : -EBADMSG;
}

int yaml_load_buffer(const char *name, const void *data, size_t size, YamlNode **ret, DiagList *diags) {
        Loader l = { .name = name, .diags = diags };
        yaml_parser_t parser;
        int r = 0;

        if (size > YAML_FILE_SIZE_MAX) {
                r = diag_add(diags, DIAG_ERROR, name, 0, 0, NULL, "file is too large (%zu bytes, at most %u)",
                             size, YAML_FILE_SIZE_MAX);
                return r < 0 ? r : -EBADMSG;
        }

        r = check_utf8(name, data, size, diags);
        if (r < 0)
                return r;

        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        /* Only UTF-8: libyaml would otherwise also accept UTF-16 with a byte order mark. */
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
        yaml_parser_set_input_string(&parser, data, size);

        for (bool done = false; !done && r >= 0;) {
                yaml_event_t e;

                if (!yaml_parser_parse(&parser, &e)) {
                        if (parser.error == YAML_MEMORY_ERROR)
                                r = -ENOMEM;
                        else if (parser.context)
                                r = loader_error(&l, &parser.problem_mark, "invalid YAML: %s %s", parser.problem,
                                                 parser.context);
                        else
                                r = loader_error(&l, &parser.problem_mark, "invalid YAML: %s",
                                                 parser.problem ?: "parse error");
                        break;
                }
                done = e.type == YAML_STREAM_END_EVENT;
                r = loader_event(&l, &e);
                yaml_event_delete(&e);
        }
        yaml_parser_delete(&parser);

        if (r < 0) {
                yaml_node_free(l.root);
                return r;
        }
        *ret = l.root;
        return 0;
}

int yaml_load_file(const char *path, YamlNode **ret, DiagList *diags) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        size_t n = 0;
        int r;

        /* O_NONBLOCK: a FIFO named by a user must not hang us; we only read regular files. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                r = -errno;
                (void) diag_add(diags, DIAG_ERROR, path, 0, 0, NULL, "cannot open file: %s", strerror(-r));
                return r;
        }
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode)) {
                r = diag_add(diags, DIAG_ERROR, path, 0, 0, NULL, "not a regular file");
                return r < 0 ? r : -EBADMSG;
        }
        if (st.st_size > (off_t) YAML_FILE_SIZE_MAX) {
                r = diag_add(diags, DIAG_ERROR, path, 0, 0, NULL, "file is too large (%jd bytes, at most %u)",
                             (intmax_t) st.st_size, YAML_FILE_SIZE_MAX);
                return r < 0 ? r : -EBADMSG;
        }

        /* Read up to one byte past the limit, so a file that grows while we read is still caught. */
        buf = malloc(YAML_FILE_SIZE_MAX + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, buf + n, YAML_FILE_SIZE_MAX + 1 - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > YAML_FILE_SIZE_MAX)
                        break;
        }
        return yaml_load_buffer(path, buf, n, ret, diags);
}

const char *yaml_node_type_to_string(YamlNodeType t) {
        static const char *const table[_YAML_NODE_TYPE_MAX] = {
                [YAML_NODE_SCALAR] = "scalar",
                [YAML_NODE_SEQUENCE] = "sequence",
                [YAML_NODE_MAPPING] = "mapping",
        };
        return t >= 0 && t < _YAML_NODE_TYPE_MAX ? table[t] : NULL;
}

bool yaml_node_is_null(const YamlNode *n) {
        if (!n)
                return true;
        return n->type == YAML_NODE_SCALAR && n->plain &&
               (isempty(n->value) || streq(n->value, "~") || streq(n->value, "null") ||
                streq(n->value, "Null") || streq(n->value, "NULL"));
}

int yaml_node_get_bool(const YamlNode *n, bool *ret) {
        static const char *const yes[] = { "true", "True", "TRUE" }, *const no[] = { "false", "False", "FALSE" };

        if (!n || n->type != YAML_NODE_SCALAR || !n->plain)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (streq(n->value, yes[i])) {
                        *ret = true;
                        return 0;
                }
                if (streq(n->value, no[i])) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

int yaml_node_get_integer(const YamlNode *n, int64_t min, int64_t max, int64_t *ret) {
        const char *p;
        bool neg = false;
        uint64_t v = 0;

        if (!n || n->type != YAML_NODE_SCALAR || !n->plain || isempty(n->value))
                return -EINVAL;
        p = n->value;
        if (*p == '-' || *p == '+')
                neg = *p++ == '-';
        if (!*p)
                return -EINVAL;
        for (; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                if (v > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        if (v > (uint64_t) INT64_MAX)
                return -ERANGE;
        if ((neg ? -(int64_t) v : (int64_t) v) < min || (neg ? -(int64_t) v : (int64_t) v) > max)
                return -ERANGE;
        *ret = neg ? -(int64_t) v : (int64_t) v;
        return 0;
}

const char *yaml_node_describe(const YamlNode *n) {
        bool b;
        int64_t i;

        if (!n || yaml_node_is_null(n))
                return "null";
        switch (n->type) {
        case YAML_NODE_MAPPING:
                return "a mapping";
        case YAML_NODE_SEQUENCE:
                return "a list";
        default:
                if (yaml_node_get_bool(n, &b) >= 0)
                        return "a boolean";
                if (yaml_node_get_integer(n, INT64_MIN, INT64_MAX, &i) != -EINVAL)
                        return "a number";
                return "a string";
        }
}

const char *yaml_node_get_string(const YamlNode *n) {
        if (!n || n->type != YAML_NODE_SCALAR || yaml_node_is_null(n))
                return NULL;
        return n->value;
}

YamlNode *yaml_mapping_get(const YamlNode *m, const char *key) {
        if (!m || m->type != YAML_NODE_MAPPING)
                return NULL;
        for (size_t i = 0; i + 1 < m->n_items; i += 2)
                if (streq(m->items[i]->value, key))
                        return m->items[i + 1];
        return NULL;
}

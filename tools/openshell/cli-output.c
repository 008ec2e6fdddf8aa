/* SPDX-License-Identifier: Apache-2.0 */
#include "cli-output.h"
#include "log.h"
#include "string-util.h"

static const char *const output_format_table[_OUTPUT_FORMAT_MAX + 1] = {
        [OUTPUT_TABLE] = "table",
        [OUTPUT_JSON] = "json",
        [OUTPUT_YAML] = "yaml",
        [_OUTPUT_FORMAT_MAX] = NULL,
};

int parse_output_format(const char *s, OutputFormat *ret) {
        const char *hint;

        for (OutputFormat f = 0; f < _OUTPUT_FORMAT_MAX; f++)
                if (streq(s, output_format_table[f])) {
                        *ret = f;
                        return 0;
                }
        hint = string_suggest(s, output_format_table);
        log_error("unknown output format '%s'%s%s%s (table, json or yaml)", s, hint ? " (did you mean '" : "",
                  hint ?: "", hint ? "'?)" : "");
        return -EINVAL;
}

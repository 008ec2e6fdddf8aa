/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* -o, --output table|json|yaml: one parser for every command that takes it. */

#include "macro.h"

typedef enum OutputFormat {
        OUTPUT_TABLE,
        OUTPUT_JSON,
        OUTPUT_YAML,
        _OUTPUT_FORMAT_MAX,
        _OUTPUT_FORMAT_INVALID = -EINVAL,
} OutputFormat;

/* Logs the error, with a "did you mean", and returns -EINVAL for an unknown format. */
int parse_output_format(const char *s, OutputFormat *ret);

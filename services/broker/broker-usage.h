/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The token counts of an answer, for the audit event and the metrics. */

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

typedef struct TokenUsage {
        int64_t in, out; /* -1: not reported */
} TokenUsage;
#define TOKEN_USAGE_UNKNOWN ((TokenUsage) { -1, -1 })

/* Token counts from a complete JSON answer: usage.{prompt,completion,input,output}_tokens, also nested
 * in "response" (Responses API events) or "message" (Anthropic message_start). The text is scanned,
 * not parsed into objects; -EBADMSG if it is not a JSON object. */
int usage_parse_json(const char *data, size_t size, TokenUsage *u);

/* Finds usage in an SSE stream as it passes: each "data:" line is examined, nothing else kept. */
#define SSE_LINE_MAX (256U * 1024U)
typedef struct SseScanner {
        Buf line;
        bool skipping; /* the current line was too long: ignored up to its end */
        TokenUsage usage;
} SseScanner;
void sse_scanner_init(SseScanner *s);
void sse_scanner_done(SseScanner *s);
void sse_scanner_feed(SseScanner *s, const char *data, size_t size);

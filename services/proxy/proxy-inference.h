/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Which requests to inference.local the proxy hands to the broker (openshell/SPEC.md §2.9). Pure: no
 * I/O, no allocation. */

/* The protocol id of upstream's pattern table (SPEC.md §2.9) for METHOD and PATH (path only, no
 * query), e.g. "openai_chat_completions", or NULL if the request matches none. */
const char *proxy_inference_match(const char *method, const char *path);

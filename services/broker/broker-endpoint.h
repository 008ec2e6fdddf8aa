/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The inference endpoints the broker serves (openshell/SPEC.md §2.9): which protocol a method + path
 * is, and whether a provider type speaks it. */

#include "broker-config.h"
#include "macro.h"

typedef enum InferenceProtocol {
        PROTOCOL_CHAT_COMPLETIONS,
        PROTOCOL_COMPLETIONS,
        PROTOCOL_RESPONSES,
        PROTOCOL_EMBEDDINGS,
        PROTOCOL_MESSAGES,
        PROTOCOL_MODELS,
        _PROTOCOL_MAX,
        _PROTOCOL_INVALID = -EINVAL,
} InferenceProtocol;

const char *inference_protocol_to_string(InferenceProtocol p) _pure_;
/* -ENOENT when no pattern matches (the caller answers 403 "connection not allowed by policy"). */
int inference_classify(const char *method, const char *path, InferenceProtocol *ret);
bool provider_supports(ProviderType t, InferenceProtocol p) _pure_;

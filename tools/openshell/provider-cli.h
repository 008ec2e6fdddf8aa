/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Helpers shared by `openshell provider` and `openshell inference` (they log their errors). */

#include "broker-config.h"

typedef enum OutputFormat {
        OUTPUT_TABLE,
        OUTPUT_JSON,
        OUTPUT_YAML,
} OutputFormat;

int parse_output_format(const char *s, OutputFormat *ret);
/* openai|nvidia|anthropic, with "did you mean" and "not supported yet" for upstream's other types. */
int parse_provider_type(const char *s, ProviderType *ret);
/* Provider names follow sandbox names (lib/basic/sandbox-name.h). */
int check_provider_name(const char *name);

typedef enum BrokerNotify {
        BROKER_RELOAD, /* systemctl try-reload-or-restart: re-read inference.yaml and providers */
        BROKER_RESTART, /* systemctl try-restart: new credentials come only with LoadCredential= at start */
} BrokerNotify;

/* Tells a running openshell-broker.service about changed files over sd-bus; does nothing when the
 * broker is not running, not installed, or there is no system bus. Never fails. */
void broker_notify(BrokerNotify what);

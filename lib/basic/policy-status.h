/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The policy status of a running sandbox: one line the supervisor writes (atomically) into its
 * runtime folder at start and after each reload attempt, and `openshell policy get|set --wait` reads.
 *
 *   loaded SHA256HEX\n               the policy whose bytes hash to SHA256HEX is in force
 *   failed SHA256HEX MESSAGE\n       a reload of those bytes was refused; the previous policy stays
 *
 * SHA256HEX is the SHA-256 of the policy file's bytes as the supervisor read them (lowercase hex), or
 * POLICY_HASH_NONE when it could not read them (an unreadable file, an invalid spec). */

#include "macro.h"

#define POLICY_STATUS_FILE "policy-status"
#define POLICY_HASH_HEX_LEN 64
#define POLICY_HASH_NONE "0000000000000000000000000000000000000000000000000000000000000000"

typedef struct PolicyStatus {
        bool loaded;
        char hash[POLICY_HASH_HEX_LEN + 1];
        char *message; /* failed: why; NULL when loaded */
} PolicyStatus;

void policy_status_done(PolicyStatus *s);

/* Parses TEXT (the file's contents); -EBADMSG when it is not one of the two lines above. */
int policy_status_parse(const char *text, PolicyStatus *ret);

/* The line for a status; MESSAGE is required when !LOADED (its newlines become spaces). */
int policy_status_format(bool loaded, const char *hash, const char *message, char **ret);

/* Lowercase hex of N bytes into RET (2N+1 bytes). */
void hex_encode(const uint8_t *data, size_t n, char *ret);

/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "log.h"

/* run() returns a negative errno on failure (logged already) or an exit status >= 0. */
#define DEFINE_MAIN_FUNCTION(impl)                                                                      \
        int main(int argc, char *argv[]) {                                                              \
                int _r_;                                                                                \
                log_setup();                                                                            \
                _r_ = impl(argc, argv);                                                                 \
                return _r_ < 0 ? EXIT_FAILURE : _r_;                                                    \
        }

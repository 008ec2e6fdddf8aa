/* SPDX-License-Identifier: Apache-2.0 */
/* openshell: the command line of openshell-systemd. Everything but main() is in the static library
 * the unit tests link as well (tests/unit/tools). */

#include "main-func.h"
#include "openshell.h"

DEFINE_MAIN_FUNCTION(openshell_run);

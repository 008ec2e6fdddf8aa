#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The manual pages built by tools/openshell/openshell-man: one for openshell, each group and each
# command that `openshell --help` lists (and no other), each rendering with groff without a warning,
# each naming its command with the summary its --help shows.
#
#   test-man-pages.sh OPENSHELL MAN1_DIR
set -euo pipefail

openshell=$1 mandir=$2
fail=0
command -v groff >/dev/null || { echo "groff is missing (tools/install-deps installs groff-base)"; exit 77; }

# The commands of the root's COMMANDS section ("sandbox create", "status"): rows at the section's
# indentation; continuation lines of a wrapped summary are indented further.
mapfile -t commands < <("$openshell" --help |
    sed -n '/^COMMANDS$/,/^[A-Z]/p' | sed -nE 's/^       ([a-z][a-z-]*( [a-z][a-z-]*)?)  .*/\1/p')
[ ${#commands[@]} -ge 10 ] || { echo "FAIL: only ${#commands[@]} commands found in 'openshell --help'"; exit 1; }

expected=("openshell")
for c in "${commands[@]}"; do
    expected+=("openshell ${c%% *}" "openshell $c")
done
mapfile -t expected < <(printf '%s\n' "${expected[@]}" | sort -u)

# Collapses what a NAME section says into one line of single spaces.
squeeze() { tr -s ' \n' '  ' | sed -E 's/^ //; s/ $//'; }

for path in "${expected[@]}"; do
    page="$mandir/${path// /-}.1"
    if [ ! -f "$page" ]; then
        echo "FAIL: no page for '$path' ($page)"
        fail=1
        continue
    fi
    warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1) || warnings="groff failed: $warnings"
    if [ -n "$warnings" ]; then
        echo "FAIL: $page renders with warnings:"
        echo "$warnings"
        fail=1
    fi
    # read is split on the spaces of path on purpose: "openshell sandbox create" -> its arguments.
    read -ra words <<<"$path"
    want=$("$openshell" "${words[@]:1}" --help | sed -n '/^NAME$/,/^$/{/^NAME$/d;p}' | squeeze)
    got=$(groff -man -Tutf8 -rHY=0 -P-cbou "$page" 2>/dev/null | sed -n '/^NAME$/,/^$/{/^NAME$/d;p}' | squeeze)
    if [ "$got" != "${want/"$path" -/"${path// /-}" -}" ]; then
        echo "FAIL: the NAME of $page is '$got'; --help says '$want'"
        fail=1
    fi
done

mapfile -t extra < <(comm -13 <(printf '%s.1\n' "${expected[@]// /-}" | sort) <(find "$mandir" -mindepth 1 -maxdepth 1 -printf "%f\n" | sort))
if [ ${#extra[@]} -gt 0 ]; then
    echo "FAIL: pages of no command: ${extra[*]}"
    fail=1
fi

[ $fail = 0 ] && echo "PASS: ${#expected[@]} pages, each rendering without warnings"
exit $fail

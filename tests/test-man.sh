#!/bin/bash
# Each man page renders with man(1) -l, without a groff warning, and has
# the sections an admin looks for: NAME naming the page, SYNOPSIS,
# EXAMPLES with at least one example, SEE ALSO.
# Usage: test-man.sh PAGE...   (the pages meson built from docs/man/*.rst)
set -u
if [ $# -eq 0 ]; then
    echo "1..0 # SKIP rst2man (python3-docutils) is not installed, so no man pages were built"
    exit 77
fi
if ! command -v man >/dev/null; then
    echo "1..0 # SKIP man (man-db) is not installed"
    exit 77
fi
. "$(dirname "$0")/tap-lib.sh"
for page in "$@"; do
    base=$(basename "$page")
    name=${base%.*}
    text=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -P cat -l "$page" 2>"$page.err")
    rc=$?
    if [ "$rc" -eq 0 ] && [ ! -s "$page.err" ]; then ok "$base: man -l renders it, no warnings"; else bad "$base: man -l exit $rc: $(cat "$page.err")"; fi
    for s in NAME SYNOPSIS DESCRIPTION EXAMPLES "SEE ALSO"; do
        if printf '%s\n' "$text" | grep -qx "$s"; then ok "$base: has $s"; else bad "$base: no $s section"; fi
    done
    if printf '%s\n' "$text" | grep -A1 -x NAME | grep -q "^ *$name - "; then ok "$base: NAME is '$name - ...'"; else bad "$base: NAME does not start with '$name - '"; fi
    # an example is an indented literal line after EXAMPLES, before SEE ALSO
    n=$(printf '%s\n' "$text" | sed -n '/^EXAMPLES$/,/^SEE ALSO$/p' | grep -c '^          [a-z<$/]')
    if [ "$n" -ge 2 ]; then ok "$base: EXAMPLES holds $n example lines"; else bad "$base: EXAMPLES holds $n example lines"; fi
    rm -f "$page.err"
done
finish

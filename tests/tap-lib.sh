# Sourced by the shell tests: TAP-style counters and, for root tiers, a
# private network and mount namespace.
#   ok TEXT / bad TEXT / check TEXT CMD...   count and print one result
#   finish                                   print the totals, exit status
#   enter_private_ns "$0" "$@"               re-exec once under unshare, then
#                                            mount a sysfs of the new netns
#   check_promtool FILE                      promtool check metrics: no finding
pass=0 fail=0
ok()  { pass=$((pass + 1)); echo "ok - $*"; }
bad() { fail=$((fail + 1)); echo "not ok - $*"; }
check() { local w=$1; shift; if "$@"; then ok "$w"; else bad "$w"; fi; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; }
enter_private_ns() {
    if [ "$(id -u)" -ne 0 ]; then echo "1..0 # SKIP needs root"; exit 77; fi
    if [ -z "${VSPAN_IN_NS:-}" ]; then
        VSPAN_IN_NS=1 exec unshare --net --mount --propagation private "$@"
    fi
    mount -t sysfs sysfs /sys
    ip link set lo up
}

# Prometheus's own linter on vspanctl metrics output (tests/setup-deps
# fetches promtool from Debian's prometheus package)
check_promtool() {
    local promtool lint
    promtool=$(command -v promtool || echo "${VSPAN_TOOLS_DIR:-/var/cache/vspan-tools}/promtool")
    if [ -x "$promtool" ]; then
        lint=$("$promtool" check metrics <"$1" 2>&1)
        check "promtool check metrics accepts the output, no lint findings ($lint)" test -z "$lint"
    else
        bad "promtool is not installed (tests/setup-deps fetches it from Debian's prometheus package)"
    fi
}

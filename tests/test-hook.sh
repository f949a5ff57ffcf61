#!/bin/bash
# vspan-hook without and with a misbehaving vspand (no root needed):
# migrate/restore print nothing, a hung vspand costs a bounded time and a
# clear line, the fallback decides from the XML and the config alone.
# Usage: test-hook.sh BUILD_DIR SOURCE_DIR
set -u
BUILD=$1 SRC=$2
HOOK=$BUILD/hooks/vspan-hook
T=$(mktemp -d)
hung_pid=""
trap '[ -n "$hung_pid" ] && kill "$hung_pid" 2>/dev/null; rm -rf "$T"' EXIT
. "$(dirname "$0")/tap-lib.sh"

plain="<domain><name>plain</name><devices><interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/></interface></devices></domain>"
mon="<domain><name>mon</name><metadata><vspan:domain xmlns:vspan='urn:vspan:domain:1'><vspan:mirror appliance='ids-a'/></vspan:domain></metadata><devices><interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/></interface></devices></domain>"
policy="<domain><name>onpolicy</name><devices><interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br-tenants'/></interface></devices></domain>"
export VSPAN_CONFIG=$SRC/docs/examples/vspan.xml
export VSPAN_SOCKET=$T/none.sock

# hook PHASE SUB XML -> $rc, $out, $err
hook() {
    printf '%s' "$3" | "$HOOK" dom "$1" "$2" - >"$T/out" 2>"$T/err"
    rc=$?
    out=$(cat "$T/out")
    err=$(cat "$T/err")
}
expect() {  # NAME RC STDERR
    if [ "$rc" -eq "$2" ] && [ "$err" = "$3" ] && [ -z "$out" ]; then ok "$1"
    else bad "$1: rc=$rc stdout='$out' stderr='$err'"; fi
}

why="vspand is not running ($T/none.sock: No such file or directory)"
for ph in migrate restore; do
    hook $ph begin "$mon"; expect "$ph prints nothing and keeps the XML" 0 ""
done
hook prepare begin "$plain"; expect "vspand down: a domain needing nothing starts" 0 ""
hook start begin "$plain"; expect "vspand down: ... at start too" 0 ""
hook prepare begin "$mon"
expect "vspand down: an annotated domain is refused, saying what to do" 1 \
    "vspan: $why, and domain 'mon' needs it; start vspand or set <hook on-agent-unavailable=\"allow\"/> in $VSPAN_CONFIG"
hook prepare begin "$policy"
expect "vspand down: a domain on a mirrored bridge is refused too" 1 \
    "vspan: $why, and domain 'onpolicy' needs it; start vspand or set <hook on-agent-unavailable=\"allow\"/> in $VSPAN_CONFIG"
for ph in "stopped end" "release end" "reconnect begin" "started begin"; do
    hook $ph "$mon"; expect "vspand down: '$ph' never fails" 0 ""
done
sed 's/on-agent-unavailable="refuse"/on-agent-unavailable="allow"/' "$VSPAN_CONFIG" >"$T/allow.xml"
VSPAN_CONFIG=$T/allow.xml hook prepare begin "$mon"
expect "on-agent-unavailable=allow: starts unmonitored, with a warning" 0 \
    "vspan: $why; domain 'mon' starts unmonitored (on-agent-unavailable=\"allow\")"
hook prepare begin "<domain><name>x</name><metadata><vspan:domain xmlns:vspan='urn:vspan:domain:1'><vspan:mirror appliance='ids-a' direction='up'/></vspan:domain></metadata></domain>"
expect "vspand down: a malformed annotation is refused with the parser's words" 1 \
    "vspan: $why, and the domain cannot be checked without it: domain 'x' line 1: <vspan:mirror appliance=\"ids-a\">: direction 'up' is not valid; use one of: both, from-vm, to-vm"

# a vspand that accepts and never answers
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
' "$T/hung.sock" &
hung_pid=$!
for _ in $(seq 50); do [ -S "$T/hung.sock" ] && break; sleep 0.05; done
s=$(date +%s%N)
VSPAN_SOCKET=$T/hung.sock VSPAN_HOOK_TIMEOUT_MS=1000 hook prepare begin "$mon"
ms=$(( ($(date +%s%N) - s) / 1000000 ))
if [ "$ms" -lt 3000 ]; then ok "a hung vspand costs a bounded time ($ms ms for a 1000 ms bound)"; else bad "hung vspand took $ms ms"; fi
expect "a hung vspand gives a clear refusal" 1 \
    "vspan: vspand did not answer within 1000 ms ($T/hung.sock: timed out), and domain 'mon' needs it; start vspand or set <hook on-agent-unavailable=\"allow\"/> in $VSPAN_CONFIG"
VSPAN_SOCKET=$T/hung.sock VSPAN_HOOK_TIMEOUT_MS=1000 hook prepare begin "$plain"
expect "after a hung vspand's bound, a domain needing nothing starts" 0 ""

finish

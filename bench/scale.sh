#!/bin/bash
# Scale: N domains of one tap each started through the hook into one vspand
# (no libvirt), in a private network namespace, for two builds in the same
# run (a baseline and the one under test).  Run by bench/run inside
# `unshare --net --mount`:
#   scale.sh LABEL BUILD_DIR N CYCLES   -> one markdown row
# Columns: vspand RSS after N starts; vspand's time to answer status and
# metrics (socket round trip, median of 5); hook start p50/p95 (whole
# vspan-hook process); vspand CPU time spent on CYCLES add/delete cycles of
# veth pairs that have nothing to do with vspan.
set -euo pipefail
LABEL=$1 BUILD=$2 N=$3 CYCLES=${4:-200}
T=$(mktemp -d)
vspand_pid=""
cleanup() {
    [ -n "$vspand_pid" ] && kill "$vspand_pid" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
mount -t sysfs sysfs /sys
ip link set lo up
export VSPAN_SOCKET=$T/sock VSPAN_CONFIG=$T/vspan.xml

printf '%s\n' '<vspan><appliance name="ids" domain="ids"><sink type="tap" dev="vspan-scale"/></appliance></vspan>' >"$T/vspan.xml"
for i in $(seq "$N"); do echo "tuntap add dev st$i mode tap"; done | ip -batch -
"$BUILD/agent/vspand" --config "$T/vspan.xml" --state-dir "$T/state" --socket "$T/sock" --libvirt-uri none \
    >"$T/vspand.log" 2>&1 &
vspand_pid=$!
for _ in $(seq 100); do "$BUILD/agent/vspanctl" status >/dev/null 2>&1 && break; sleep 0.1; done

us_since() { echo $(( ($(date +%s%N) - $1) / 1000 )); }   # microseconds since $1 (ns)
pct() { sort -n | awk -v p="$1" '{a[NR]=$1} END {i=int((NR*p+99)/100); if (i<1) i=1; printf "%.1f", a[i]/1000}'; }
# CPU time of vspand in ms, from the scheduler's nanosecond account
cpu_ms() { awk '{printf "%.3f", $1 / 1e6}' "/proc/$vspand_pid/schedstat"; }

for i in $(seq "$N"); do
    mac=$(printf '52:54:00:%02x:%02x:%02x' $((i >> 16 & 255)) $((i >> 8 & 255)) $((i & 255)))
    uuid=$(printf '00000000-0000-4000-8000-%012d' "$i")
    xml="<domain><name>s$i</name><uuid>$uuid</uuid><metadata><vspan:domain xmlns:vspan='urn:vspan:domain:1'><vspan:mirror appliance='ids'/></vspan:domain></metadata><devices><interface type='bridge'><mac address='$mac'/><source bridge='br0'/><target dev='st$i'/></interface></devices></domain>"
    t=$(date +%s%N)
    printf '%s' "$xml" | "$BUILD/hooks/vspan-hook" "s$i" start begin - || { echo "hook start of s$i failed" >&2; exit 1; }
    us_since "$t" >>"$T/hook"
done
mirrored=$(tc filter show dev "st$N" ingress | grep -c 'Mirror to device vspan-scale' || true)
rss=$(awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$vspand_pid/status")

# vspand's own time for a request: socket round trip, median of 5 (the
# vspanctl process around it adds its start-up, ~35 ms here, to both builds)
ask() {
    python3 - "$T/sock" "$1" <<'PY'
import socket, statistics, struct, sys, time
def frame(cmd):   # GVariant (sa{ss}): the string, no arguments, its end offset
    body = cmd.encode() + b"\0"
    body += bytes([len(body)])
    return struct.pack(">I", len(body)) + body
def recv(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise SystemExit("vspand closed the connection")
        b += c
    return b
ts = []
for _ in range(5):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    t = time.perf_counter()
    s.sendall(frame(sys.argv[2]))
    n = struct.unpack(">I", recv(s, 4))[0]
    recv(s, n)
    ts.append((time.perf_counter() - t) * 1000)
    s.close()
print("%.1f" % statistics.median(ts))
PY
}
st=$(ask status)
me=$(ask metrics)
"$BUILD/agent/vspanctl" status --json | grep -q '"mac":"52:54:00:00:00:01"' || { echo "status lacks s1's mirror" >&2; exit 1; }

# unrelated link churn: what vspand spends on links it does not manage
sleep 1
before=$(cpu_ms)
for i in $(seq "$CYCLES"); do echo "link add xa$i type veth peer name xb$i"; echo "link del xa$i"; done | ip -batch -
sleep 1.5    # vspand's repair timer is 100 ms; let every event land
churn=$(awk -v a="$before" -v b="$(cpu_ms)" 'BEGIN {printf "%.0f", b - a}')

printf '| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n' "$LABEL" "$N" "$rss" "$st" "$me" \
    "$(pct 50 <"$T/hook")" "$(pct 95 <"$T/hook")" "$churn" "$([ "$mirrored" = 1 ] && echo yes || echo NO)"

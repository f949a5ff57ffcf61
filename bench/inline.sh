#!/bin/bash
# Inline (IPS) mode, measured: VM a's NIC (vnetA) through an appliance that
# is a kernel bridge in a namespace, against the same flow direct, and with
# the appliance failed open (its programs in place, frames going around).
# Then the fail-open gaps: pings every 1 ms from a while the appliance loses
# carrier, black-holes (canaries every 50 ms, fail-after 3), or is deleted.
# Real vspand and vspan-hook (VSPAN_BUILD); run by bench/run inside
# `unshare --net --mount`; prints markdown rows.
set -euo pipefail
BUILD=$1 REPS=${2:-5} DUR=${3:-4}

. "$(dirname "$0")/bridge-lib.sh"
T=$(mktemp -d)
export VSPAN_SOCKET=$T/vspand.sock VSPAN_BPF_DIR=$BUILD/bpf
appliance_up() {
    ip netns add ips
    ip link add vspan-ipsa0 type veth peer name a0 netns ips
    ip link add vspan-ipsa1 type veth peer name a1 netns ips
    ip -n ips link add name abr type bridge
    for d in a0 a1; do ip -n ips link set "$d" master abr up; done
    ip -n ips link set abr up
    # GSO super-frames cross the redirects whole: as the admin guide asks
    # of an appliance that validates checksums, none here
}
appliance_up
cat >"$T/vspan.xml" <<'XML'
<vspan>
  <appliance name="ips" domain="ips" mode="inline">
    <sink type="inline" vm-side="vspan-ipsa0" net-side="vspan-ipsa1" ports="existing"/>
    <health canary="on" interval="50ms" fail-after="3"/>
  </appliance>
</vspan>
XML
"$BUILD/agent/vspand" --config "$T/vspan.xml" --state-dir "$T/state" --socket "$VSPAN_SOCKET" \
    --libvirt-uri none >"$T/log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do "$BUILD/agent/vspanctl" status >/dev/null 2>&1 && break; sleep 0.1; done
mac=$(ip -n a link show eth0 | sed -n 's/.*link\/ether \([^ ]*\).*/\1/p')
xml="<domain><name>a</name><uuid>6f1c1c9e-2c1a-4c55-9d1e-0a3c1d2e3f51</uuid><metadata><vspan:domain xmlns:vspan='urn:vspan:domain:1'><vspan:inline appliance='ips'/></vspan:domain></metadata><devices><interface type='bridge'><mac address='$mac'/><source bridge='br0'/><target dev='vnetA'/></interface></devices></domain>"
state() { "$BUILD/agent/vspanctl" status --json | sed -n 's/.*"inline":\[{[^]]*"state":"\([a-z]*\)".*/\1/p'; }
wait_state() { for _ in $(seq 100); do [ "$(state)" = "$1" ] && return 0; sleep 0.05; done; echo "wait for state $1 ran out" >&2; return 1; }
fwd() { cat /sys/class/net/vspan-ipsa1/statistics/rx_packets; }
setup() {
    case $1 in
    direct) ;;
    inline) printf '%s' "$xml" | "$BUILD/hooks/vspan-hook" a start begin - && wait_state through ;;
    bypass) printf '%s' "$xml" | "$BUILD/hooks/vspan-hook" a start begin - && ip -n ips link set a0 down && wait_state bypass ;;
    esac
}
teardown() {
    case $1 in
    direct) ;;
    *) ip -n ips link set a0 up; printf '%s' "$xml" | "$BUILD/hooks/vspan-hook" a release end - ;;
    esac
}

declare -A tcp udp through
modes="direct inline bypass"
for r in $(seq "$REPS"); do
    for m in $modes; do   # interleaved: machine noise spreads over all modes
        setup "$m"
        before=$(fwd)
        bps=$(tcp_bps)
        pps=$(udp64_pps)
        through[$m]="${through[$m]:-} $(( $(fwd) - before ))"
        tcp[$m]="${tcp[$m]:-} $bps"
        udp[$m]="${udp[$m]:-} $pps"
        teardown "$m"
    done
done
base_tcp=$(echo "${tcp[direct]}" | median)
base_udp=$(echo "${udp[direct]}" | median)
echo "| mode | TCP Gbit/s | TCP vs direct | UDP 64 B pkt/s | pkt/s vs direct | frames the appliance forwarded per repetition |"
echo "|---|---|---|---|---|---|"
for m in $modes; do
    t=$(echo "${tcp[$m]}" | median)
    u=$(echo "${udp[$m]}" | median)
    c=$(echo "${through[$m]}" | median)
    awk -v m="$m" -v t="$t" -v u="$u" -v bt="$base_tcp" -v bu="$base_udp" -v c="$c" 'BEGIN {
        printf "| %s | %.2f | %.2f | %.0f | %.2f | %d |\n", m, t/1e9, t/bt, u, u/bu, c }'
done

# ---- fail-open gaps: one run each, pings every 1 ms for 3 s ---------------------
echo
echo "| failure | longest gap between echo replies, ms (pings every 1 ms) | echo requests lost | target |"
echo "|---|---|---|---|"
setup inline
gap() {  # gap WHAT TARGET ACTION...
    local what=$1 target=$2; shift 2
    ip netns exec a ping -D -i 0.001 -W 1 -w 3 -c 3000 10.99.0.2 >"$T/ping" 2>&1 &
    local p=$!
    sleep 1
    "$@"
    wait "$p" || true
    python3 - "$T/ping" "$what" "$target" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
ts = [float(t) for t in re.findall(r"^\[(\d+\.\d+)\] \d+ bytes from", text, re.M)]
m = re.search(r"(\d+) packets transmitted, (\d+) received", text)
gap = max(b - a for a, b in zip(ts, ts[1:])) * 1000 if len(ts) > 1 else float("nan")
print("| %s | %.1f | %d of %s | %s |" % (sys.argv[2], gap, int(m.group(1)) - int(m.group(2)), m.group(1), sys.argv[3]))
PY
}
gap "carrier loss (the appliance's VM-side port down)" "10 ms" ip -n ips link set a0 down
ip -n ips link set a0 up; wait_state through
blackhole() { printf 'table bridge f {\n chain c {\n type filter hook forward priority 0; policy drop;\n }\n}\n' | ip netns exec ips nft -f -; }
gap "black hole (up, forwarding nothing; canary 50 ms x fail-after 3)" "150 ms + one interval" blackhole
ip netns exec ips nft delete table bridge f; wait_state through
gap "appliance deleted (namespace and ports gone)" "10 ms" ip netns del ips
teardown inline 2>/dev/null || true
rm -rf "$T"

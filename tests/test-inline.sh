#!/bin/bash
# Inline (IPS) mode against the real kernel (root; its own network and mount
# namespace): VMs are network namespaces behind veth "taps" on bridge br0;
# the appliance is a namespace bridging its two veth ports (vspan-ipsa0,
# facing the VMs, and vspan-ipsa1, facing the bridge) with an nft drop rule;
# vspand is started as the package starts it and told of the VMs by the
# real hook.  tcpdump, nft and iproute2 are the witnesses.
# Usage: test-inline.sh BUILD_DIR
set -u
BUILD=$(realpath "$1")
. "$(dirname "$0")/tap-lib.sh"
enter_private_ns "$0" "$@"
T=$(mktemp -d)
chmod 0755 "$T"
pid="" bg=()
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    for p in "${bg[@]}"; do kill "$p" 2>/dev/null; done
    for n in vma vmb peer ips; do ip netns del "$n" 2>/dev/null; done
    umount "$T/bpffs" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' TERM
export VSPAN_SOCKET=$T/run/vspand.sock VSPAN_BPF_DIR=$BUILD/bpf VSPAN_BPF_PINDIR=$T/bpffs/vspan
mkdir -p "$T/bpffs" && mount -t bpf bpf "$T/bpffs"
CTL=$BUILD/agent/vspanctl
log() { echo "# $*"; }
# in_ns NS CMD...: run CMD in network namespace NS
in_ns() { local n=$1; shift; ip netns exec "$n" "$@"; }

# ---- the network: br0 with VMs A, B (inline) and a peer (not) -------------
ip link add br0 type bridge
ip link set br0 up
vm() {  # vm NS HOSTDEV MAC IP
    ip netns add "$1"
    ip link add "$2" type veth peer name eth0 netns "$1"
    ip link set "$2" master br0 up
    in_ns "$1" ip link set lo up
    in_ns "$1" ip link set eth0 address "$3" up
    in_ns "$1" ip addr add "$4/24" dev eth0
}
vm vma ia0 52:54:00:00:00:0a 10.9.0.1
vm vmb ib0 52:54:00:00:00:0b 10.9.0.2
vm peer pr0 52:54:00:00:00:0c 10.9.0.3
# the appliance: a bridge between its two ports, dropping TCP port 7777
appliance_up() {
    ip netns add ips
    ip link add vspan-ipsa0 type veth peer name a0 netns ips
    ip link add vspan-ipsa1 type veth peer name a1 netns ips
    # a plain learning bridge (not VLAN-aware): it forwards the tagged
    # frames as they are
    in_ns ips ip link add name abr type bridge
    for d in a0 a1; do in_ns ips ip link set "$d" master abr up; done
    in_ns ips ip link set abr up
    in_ns ips nft -f - <<'NFT'
table bridge ips {
    counter seen {}
    chain pass {
        type filter hook forward priority 0;
        counter name seen
        tcp dport 7777 drop
    }
}
NFT
}
appliance_up
seen() { in_ns ips nft list counter bridge ips seen 2>/dev/null | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }
# the host bridge: frames that carry vspan's mark (0x00100000) past the taps
nft -f - <<'NFT'
table bridge host {
    counter marked {}
    counter total {}
    chain pass {
        type filter hook forward priority 0;
        counter name total
        meta mark & 0x00100000 != 0 counter name marked
    }
    chain in {
        type filter hook input priority 0;
        meta mark & 0x00100000 != 0 counter name marked
    }
}
NFT
host_counter() { nft list counter bridge host "$1" | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }

cat >"$T/vspan.xml" <<'XML'
<vspan>
  <appliance name="ips-a" domain="ips-a" mode="inline" on-failure="bypass">
    <sink type="inline" vm-side="vspan-ipsa0" net-side="vspan-ipsa1"/>
    <health canary="on" interval="50ms" fail-after="3"/>
  </appliance>
  <appliance name="ids" domain="ids"><sink type="tap" dev="vspan-ids0"/></appliance>
</vspan>
XML
start_agent() {
    "$BUILD/agent/vspand" --config "$T/vspan.xml" --state-dir "$T/state" --socket "$VSPAN_SOCKET" \
        --libvirt-uri none ${VSPAN_TEST_DEBUG:+--debug} >>"$T/log" 2>&1 &
    pid=$!
    for _ in $(seq 50); do "$CTL" status >/dev/null 2>&1 && break; sleep 0.1; done
}
start_agent
# a domain: its NIC on TAP with MAC, passing ips-a; mirrored to ids too when $4
domain() {
    local mirror=""
    [ -n "${4:-}" ] && mirror="<vspan:mirror appliance='ids'/>"
    printf '%s' "<domain><name>$1</name><uuid>$5</uuid><metadata><vspan:domain xmlns:vspan='urn:vspan:domain:1'><vspan:inline appliance='ips-a'/>$mirror</vspan:domain></metadata><devices><interface type='bridge'><mac address='$3'/><source bridge='br0'/><target dev='$2'/></interface></devices></domain>"
}
domain vma ia0 52:54:00:00:00:0a mirror 6f1c1c9e-2c1a-4c55-9d1e-0a3c1d2e3f41 | "$BUILD/hooks/vspan-hook" vma start begin -
check "the start hook of VM A succeeds" test $? = 0
domain vmb ib0 52:54:00:00:00:0b "" 6f1c1c9e-2c1a-4c55-9d1e-0a3c1d2e3f42 | "$BUILD/hooks/vspan-hook" vmb start begin -
check "the start hook of VM B succeeds" test $? = 0
tc filter show dev ia0 ingress >"$T/tc-ia0"
tc filter show dev ia0 egress >>"$T/tc-ia0"
check "ia0 runs the inline programs on both hooks (tc: pref 48894/48902 ingress, 48894 egress)" \
    test "$(grep -c 'vspan-inline-ips-a.*direct-action' "$T/tc-ia0")" = 3
check "the appliance's ports run theirs" sh -c \
    "tc filter show dev vspan-ipsa0 ingress | grep -q 'vspan-inline-ips-a' && tc filter show dev vspan-ipsa1 ingress | grep -q 'vspan-inline-ips-a'"
cat "$T/tc-ia0"
"$CTL" status
s0=$(seen)
in_ns vma ping -c 3 -i 0.2 -W 1 10.9.0.3 >"$T/ping" 2>&1
check "A pings the peer through the appliance (3/3)" grep -q "3 received" "$T/ping"
s1=$(seen)
check "the appliance forwarded them ($s0 -> $s1 frames)" test "$((s1 - s0))" -ge 6
[ -n "${VSPAN_TEST_DEBUG:-}" ] && { in_ns vma ip neigh; tc -s filter show dev ia0 ingress; tc -s filter show dev vspan-ipsa1 ingress; in_ns ips ip -s link; bpftool map dump name vspan_app; bpftool map dump name vspan_counters; bpftool map dump name vspan_canary; }
cat "$T/log"
[ -n "${VSPAN_TEST_PAUSE:-}" ] && { echo paused; sleep 900; }
finish

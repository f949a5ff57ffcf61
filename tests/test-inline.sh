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
    [ -n "$pid" ] && { kill -9 "$pid"; wait "$pid"; } 2>/dev/null
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
    <sink type="inline" vm-side="vspan-ipsa0" net-side="vspan-ipsa1" ports="existing"/>
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

# ---- helpers --------------------------------------------------------------
# frames.py: send one Ethernet frame / count the frames of one ethertype that
# carry a payload / a TCP server and client that compare what they moved
cat >"$T/net.py" <<'PY'
import hashlib, os, socket, struct, sys, time
cmd = sys.argv[1]
if cmd == "send":            # send DEV DST-MAC ETHERTYPE PAYLOAD
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((sys.argv[2], 0))
    src = s.getsockname()[4]
    dst = bytes.fromhex(sys.argv[3].replace(":", ""))
    s.send(dst + src + struct.pack(">H", int(sys.argv[4], 16)) + sys.argv[5].encode().ljust(46, b"\0"))
elif cmd == "sendtag":       # sendtag DEV DST-MAC SRC-MAC VID ETHERTYPE PAYLOAD: one 802.1Q frame
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((sys.argv[2], 0))
    mac = lambda m: bytes.fromhex(m.replace(":", ""))
    s.send(mac(sys.argv[3]) + mac(sys.argv[4]) + struct.pack(">HHH", 0x8100, int(sys.argv[5]), int(sys.argv[6], 16))
           + sys.argv[7].encode().ljust(46, b"\0"))
elif cmd == "count":         # count DEV ETHERTYPE PAYLOAD SECONDS: frames of it received
    proto = int(sys.argv[3], 16)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(proto))
    s.bind((sys.argv[2], proto))
    s.settimeout(0.2)
    n, end = 0, time.time() + float(sys.argv[5])
    open(sys.argv[6], "w").close()          # ready
    while time.time() < end:
        try:
            data, addr = s.recvfrom(2048)
        except socket.timeout:
            continue
        if addr[2] != socket.PACKET_OUTGOING and sys.argv[4].encode() in data:
            n += 1
    print(n)
elif cmd == "serve":         # serve PORT FILE: receive to EOF, write its sha256; then send 4 MB back
    l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("0.0.0.0", int(sys.argv[2])))
    l.listen(4)
    open(sys.argv[3] + ".ready", "w").close()
    while True:
        c, _ = l.accept()
        h = hashlib.sha256()
        while True:
            b = c.recv(65536)
            if not b:
                break
            h.update(b)
        data = os.urandom(4 << 20)
        c.sendall(hashlib.sha256(data).hexdigest().encode() + b"\n" + data)
        c.close()
        with open(sys.argv[3], "w") as f:
            f.write(h.hexdigest() + "\n")
elif cmd == "client":        # client IP PORT: send 4 MB, print its sha256 and whether the reply matched
    data = os.urandom(4 << 20)
    c = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=3)
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        b = c.recv(65536)
        if not b:
            break
        got += b
    head, _, body = got.partition(b"\n")
    print(hashlib.sha256(data).hexdigest(), "back-ok" if hashlib.sha256(body).hexdigest().encode() == head and len(body) == 4 << 20 else "back-bad")
PY
py() { python3 "$T/net.py" "$@"; }
# count_in NS DEV ETHERTYPE PAYLOAD SECONDS OUT: count in the background
count_in() {
    rm -f "$T/ready.$6"
    ip netns exec "$1" python3 "$T/net.py" count "$2" "$3" "$4" "$5" "$T/ready.$6" >"$T/$6" 2>&1 </dev/null &
    bg+=($!)
    for _ in $(seq 50); do [ -e "$T/ready.$6" ] && break; sleep 0.05; done
}
agent_json() { "$CTL" status --json; }
# the value of KEY in the inline appliance's status
inline_field() { agent_json | sed -n "s/.*\"inline\":\[{[^]]*\"$1\":\"\{0,1\}\([^,\"]*\).*/\1/p"; }
# fail_open WHAT BOUND_MS ACTION...: A pings the peer every 10 ms for 3 s;
# at 1 s ACTION fails the appliance; the longest time between two echo
# replies (how long traffic stopped) is logged and must stay within BOUND_MS,
# so that a switch that never comes fails (bench/inline.sh measures it)
fail_open() {
    local what=$1 bound=$2 stream gap
    shift 2
    ip netns exec vma ping -D -i 0.01 -W 1 -w 3 -c 300 10.9.0.3 >"$T/stream" 2>&1 </dev/null &
    stream=$!
    bg+=($stream)
    sleep 1
    "$@"
    wait "$stream"
    gap=$(python3 - "$T/stream" <<'PY'
import re, sys
ts = [float(t) for t in re.findall(r"^\[(\d+\.\d+)\] \d+ bytes from", open(sys.argv[1]).read(), re.M)]
print("%d" % (max(b - a for a, b in zip(ts, ts[1:])) * 1000) if len(ts) > 1 else "none")
PY
)
    log "$what: echo replies stopped for $gap ms (pings every 10 ms)"
    check "bypass on $what: the pings go on after $gap ms (bound: $bound ms)" test "$gap" != none -a "${gap:-99999}" -le "$bound"
}
# wait_state STATE: the inline appliance's state is STATE within 5 s
wait_state() {
    for _ in $(seq 50); do [ "$(inline_field state)" = "$1" ] && return 0; sleep 0.1; done
    log "wait ran out after 5 s: state $1 (it is $(inline_field state))"
    return 1
}

# ---- through the appliance ------------------------------------------------
s0=$(seen)
in_ns vma ping -c 3 -i 0.2 -W 1 10.9.0.3 >"$T/ping" 2>&1
check "A pings the peer through the appliance (3/3)" grep -q "3 received" "$T/ping"
s1=$(seen)
check "the appliance forwarded the echo requests and replies ($s0 -> $s1 frames)" test "$((s1 - s0))" -ge 6
check "status: ips-a is 'through', healthy" test "$(inline_field state)-$(inline_field why)" = "through-healthy"
check "status: 2 VMs pass ips-a" test "$(inline_field vms)" = 2
in_ns vma ip -6 addr add fd00::a/64 dev eth0 nodad
in_ns peer ip -6 addr add fd00::c/64 dev eth0 nodad
in_ns vma ping -6 -c 2 -i 0.2 -W 1 fd00::c >"$T/ping6" 2>&1
in_ns peer ping -6 -c 2 -i 0.2 -W 1 fd00::a >>"$T/ping6" 2>&1
check "IPv6 both ways: neighbour discovery through the appliance, A -> peer and peer -> A" \
    test "$(grep -c '2 received' "$T/ping6")" = 2
in_ns peer ip neigh flush dev eth0
in_ns peer ping -c 1 -W 1 10.9.0.1 >/dev/null 2>&1
check "ARP from the peer's side resolves A" sh -c "ip netns exec peer ip neigh show 10.9.0.1 | grep -q 52:54:00:00:00:0a"

# TCP, 4 MB each way, byte for byte; the appliance's drop rule holds
ip netns exec peer python3 "$T/net.py" serve 7778 "$T/srv" </dev/null >/dev/null 2>&1 &
bg+=($!)
ip netns exec peer python3 "$T/net.py" serve 7777 "$T/srv7777" </dev/null >/dev/null 2>&1 &
bg+=($!)
for _ in $(seq 50); do [ -e "$T/srv.ready" ] && [ -e "$T/srv7777.ready" ] && break; sleep 0.1; done
out=$(in_ns vma python3 "$T/net.py" client 10.9.0.3 7778 2>&1)
sleep 0.2
check "TCP through the appliance: 4 MB from A arrive byte-identical, 4 MB back too ($out)" \
    test "${out#* }-$(cat "$T/srv" 2>/dev/null)" = "back-ok-${out%% *}"
out=$(in_ns vma python3 "$T/net.py" client 10.9.0.3 7777 2>&1)
case $out in *"timed out"*) ok "the appliance's drop rule holds: TCP to port 7777 from A times out" ;;
*) bad "TCP to port 7777 should be dropped by the appliance: $out" ;; esac

# each frame once: the peer sees each echo request once; B sees A's broadcast once
count_in peer eth0 88b6 once-a 1.5 peer.once
count_in vmb eth0 88b6 once-a 1.5 vmb.once
in_ns vma python3 "$T/net.py" send eth0 ff:ff:ff:ff:ff:ff 88b6 once-a
wait "${bg[-1]}" "${bg[-2]}" 2>/dev/null
check "A's one broadcast reaches the peer once ($(cat "$T/peer.once")) and B once ($(cat "$T/vmb.once"))" \
    test "$(cat "$T/peer.once")-$(cat "$T/vmb.once")" = "1-1"
check "between A and B the appliance inspected it once (inspected_once $(inline_field inspected_once))" \
    test "$(inline_field inspected_once)" -ge 1
# overlapping broadcast: one from the peer reaches A once and B once, each
# through the appliance under its own tag
ip netns exec ips tcpdump -nei a1 -w "$T/a1.pcap" </dev/null >/dev/null 2>&1 &
dump=$!
bg+=($dump)
sleep 0.5
count_in vma eth0 88b6 once-p 1.5 vma.once
count_in vmb eth0 88b6 once-p 1.5 vmb.once2
in_ns peer python3 "$T/net.py" send eth0 ff:ff:ff:ff:ff:ff 88b6 once-p
wait "${bg[-1]}" "${bg[-2]}" 2>/dev/null
sleep 0.3
kill "$dump"; wait "$dump" 2>/dev/null
tags=$(tcpdump -enr "$T/a1.pcap" 2>/dev/null | grep -v 'vlan 4094' | grep -c 'ethertype Unknown (0x88b6)')
vids=$(tcpdump -enr "$T/a1.pcap" 2>/dev/null | grep 'ethertype Unknown (0x88b6)' | grep -o 'vlan [0-9]*' | sort -u | paste -sd,)
check "the peer's broadcast reaches A once ($(cat "$T/vma.once")) and B once ($(cat "$T/vmb.once2"))" \
    test "$(cat "$T/vma.once")-$(cat "$T/vmb.once2")" = "1-1"
check "it entered the appliance twice, under A's and B's tags ($tags frames: $vids)" test "$tags-$vids" = "2-vlan 1,vlan 2"
check "no frame on br0 carried vspan's mark ($(host_counter marked) of $(host_counter total) forwarded)" \
    test "$(host_counter marked)" = 0 -a "$(host_counter total)" -gt 10

# frames the appliance makes itself: under A's tag (VID 1) with A's source
# MAC it may send for A (an IPS that rewrites); with another source MAC (its
# own) the frame is dropped, never delivered as A's, and counted
f0=$(inline_field dropped_foreign_mac)
count_in peer eth0 88b6 from-ips 1.5 peer.ips
in_ns ips python3 "$T/net.py" sendtag a1 ff:ff:ff:ff:ff:ff 52:54:00:00:00:0a 1 88b6 from-ips-as-a
in_ns ips python3 "$T/net.py" sendtag a1 ff:ff:ff:ff:ff:ff 02:00:00:00:00:99 1 88b6 from-ips-foreign
wait "${bg[-1]}" 2>/dev/null
check "from the appliance under A's tag: A's source MAC is delivered, a foreign one is not (the peer saw $(cat "$T/peer.ips") of 2)" \
    test "$(cat "$T/peer.ips")" = 1
check "the foreign one is counted (dropped_foreign_mac $f0 -> $(inline_field dropped_foreign_mac))" \
    test "$(inline_field dropped_foreign_mac)" = "$((f0 + 1))"
check "the appliance's own untagged frames (its IPv6 ND/MLD) are dropped and counted ($(inline_field dropped_unknown_tag))" \
    test "$(inline_field dropped_unknown_tag)" -gt 0
"$CTL" metrics >"$T/metrics"
check "metrics: the appliance is through, with its frames by what became of them" sh -c \
    "grep -qx 'vspan_inline_through{appliance=\"ips-a\"} 1' '$T/metrics' && grep -qx 'vspan_inline_frames_total{appliance=\"ips-a\",what=\"dropped_foreign_mac\"} $((f0 + 1))' '$T/metrics'"
check_promtool "$T/metrics"
check "metrics: no copy-sink series for an inline appliance" sh -c "! grep -q 'vspan_sink_up{appliance=\"ips-a\"' '$T/metrics'"

# mirrors on an inline NIC copy what A really sent and received: each echo
# request and reply once; a frame to A that the appliance drops is not copied
"$BUILD/tests/tap-capture" vspan-ids0 "$T/ids.pcap" </dev/null >/dev/null 2>&1 &
cap=$!
bg+=($cap)
sleep 0.3
in_ns vma ping -c 3 -i 0.2 -W 1 -p 7a7a 10.9.0.3 >/dev/null 2>&1
in_ns peer python3 -c '
import socket
s = socket.socket(); s.settimeout(1)
try: s.connect(("10.9.0.1", 7777))
except Exception: pass' 2>/dev/null
sleep 0.3
kill "$cap"; wait "$cap" 2>/dev/null
req=$(tcpdump -nr "$T/ids.pcap" 'icmp[icmptype] = icmp-echo' 2>/dev/null | grep -c 'ICMP echo request')
rep=$(tcpdump -nr "$T/ids.pcap" 'icmp[icmptype] = icmp-echoreply' 2>/dev/null | grep -c 'ICMP echo reply')
syn=$(tcpdump -nr "$T/ids.pcap" 'tcp dst port 7777' 2>/dev/null | wc -l)
check "the mirror of A copied 3 echo requests and 3 replies, each once ($req, $rep)" test "$req-$rep" = "3-3"
check "the peer's SYNs to A's port 7777, dropped by the appliance, were not copied as received ($syn)" test "$syn" = 0

# ---- failing open -----------------------------------------------------------
sw0=$(inline_field switches)
fail_open "carrier loss (the appliance's VM-side port down)" 500 in_ns ips ip link set a0 down
check "status: bypass, a port has no carrier" sh -c "'$CTL' status | grep -q '^inline appliance ips-a (domain ips-a): bypass (a port has no carrier'"
check "the switch was logged" grep -q "inline appliance 'ips-a': through -> bypass: a port has no carrier" "$T/log"
"$CTL" doctor --config "$T/vspan.xml" >"$T/doctor" 2>&1
check "doctor warns that ips-a's VMs go around it" \
    grep -q "^warn  appliance ips-a *status: bypass (a port has no carrier (the appliance is down or gone)) for " "$T/doctor"
check "doctor names the veth port that takes TSO, with the fix" \
    grep -q "^warn  appliance ips-a *status: vspan-ipsa1 takes TCP segmentation offload .* ethtool -K vspan-ipsa1 tso off gso off" "$T/doctor"
s2=$(seen)
in_ns vma ping -c 2 -i 0.2 -W 1 10.9.0.3 >/dev/null 2>&1
check "around the appliance: it saw none of them ($s2 -> $(seen))" test "$(seen)" = "$s2"
in_ns ips ip link set a0 up
wait_state through
in_ns vma ping -c 2 -i 0.2 -W 1 10.9.0.3 >/dev/null 2>&1
check "back through the appliance once its port is up ($(inline_field state); it saw $s2 -> $(seen))" \
    test "$(inline_field state)" = through -a "$(seen)" -ge "$((s2 + 4))"
check "status counts both switches ($sw0 -> $(inline_field switches))" test "$(inline_field switches)" = "$((sw0 + 2))"

# an appliance that is up but forwards nothing: only the canaries tell
fail_open "a black hole (up, forwarding nothing; canary every 50 ms, fail-after 3)" 1000 \
    in_ns ips nft insert rule bridge ips pass drop
check "status says why" sh -c "'$CTL' status | grep -q '^inline appliance ips-a (domain ips-a): bypass (its canaries do not come back'"
in_ns ips nft flush chain bridge ips pass
in_ns ips nft add rule bridge ips pass counter name seen
in_ns ips nft add rule bridge ips pass tcp dport 7777 drop
wait_state through
check "through again once the canaries come back" test "$(inline_field state)" = through

# the appliance deleted (its namespace and ports gone), then back
fail_open "the appliance deleted (namespace and ports gone)" 500 ip netns del ips
appliance_up
wait_state through
s3=$(seen)
in_ns vma ping -c 2 -i 0.2 -W 1 10.9.0.3 >"$T/ping" 2>&1
check "a new appliance on the same port names is taken back: through, and it forwards ($s3 -> $(seen))" \
    test "$(inline_field state)" = through -a "$(seen)" -ge "$((s3 + 4))"

# ---- vspand killed -9: the kernel keeps the path --------------------------
{ kill -9 "$pid"; wait "$pid"; } 2>/dev/null; pid=""
s4=$(seen)
in_ns vma ping -c 3 -i 0.2 -W 1 10.9.0.3 >"$T/ping" 2>&1
check "vspand killed -9: traffic keeps flowing through the appliance ($(grep -o '[0-9]* received' "$T/ping"), it saw $s4 -> $(seen))" \
    sh -c "grep -q '3 received' '$T/ping' && test $(seen) -ge $((s4 + 6))"
in_ns ips ip link set a0 down
in_ns vma ping -c 2 -i 0.2 -W 1 10.9.0.3 >"$T/ping" 2>&1
check "without vspand nothing fails it open: the appliance down, the traffic stops ($(grep -o '[0-9]* received' "$T/ping"))" \
    grep -q ' 0 received' "$T/ping"
start_agent
wait_state bypass
in_ns vma ping -c 2 -i 0.2 -W 1 10.9.0.3 >"$T/ping" 2>&1
check "vspand back: it takes the appliance over and fails it open (bypass, $(grep -o '[0-9]* received' "$T/ping"))" \
    sh -c "test '$(inline_field state)' = bypass && grep -q '2 received' '$T/ping'"
in_ns ips ip link set a0 up
wait_state through
check "and through again with the appliance up" test "$(inline_field state)" = through

# ---- on-failure="block" ----------------------------------------------------
sed -i 's/on-failure="bypass"/on-failure="block"/' "$T/vspan.xml"
kill -HUP "$pid"
for _ in $(seq 30); do grep -q "reloaded" "$T/log" && break; sleep 0.1; done
in_ns ips ip link set a0 down
wait_state block
in_ns vma ping -c 2 -i 0.2 -W 1 10.9.0.3 >"$T/ping" 2>&1
check "on-failure=block: the appliance down, A's traffic stops ($(inline_field state), $(grep -o '[0-9]* received' "$T/ping"))" \
    sh -c "test '$(inline_field state)' = block && grep -q ' 0 received' '$T/ping'"
check "status counts the blocked frames ($(inline_field blocked))" test "$(inline_field blocked)" -gt 0
in_ns ips ip link set a0 up
wait_state through
in_ns vma ping -c 2 -i 0.2 -W 1 10.9.0.3 >"$T/ping" 2>&1
check "and through again when it is back" grep -q '2 received' "$T/ping"

# ---- a VM that stops: its tag is free, its filters gone -----------------------
domain vmb ib0 52:54:00:00:00:0b "" 6f1c1c9e-2c1a-4c55-9d1e-0a3c1d2e3f42 | "$BUILD/hooks/vspan-hook" vmb release end -
check "B released: 1 VM passes ips-a" test "$(inline_field vms)" = 1
# SIGTERM: vspand exits cleanly (under ASan: no leak, no error), within 20 s
kill -TERM "$pid"
for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
wait "$pid"
rc=$?
pid=""
check "vspand exits 0 on SIGTERM (rc $rc)" test "$rc" = 0
# vspand's log when something failed
[ "$fail" -gt 0 ] && sed 's/^/# /' "$T/log"
[ -n "${VSPAN_TEST_PAUSE:-}" ] && { echo paused; sleep 900; }
finish

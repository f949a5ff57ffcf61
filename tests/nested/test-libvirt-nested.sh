#!/bin/bash
# Real libvirtd inside the nested VM (Debian's kernel, which has what this
# host's kernel lacks: sch_htb/sch_sfq/cls_fw/act_police for libvirt's
# <bandwidth>, macvtap for <interface type='direct'>).  The VM's root is the
# host's file system read-only over 9p under a tmpfs overlay
# (tests/nested/run-nested-libvirt.sh); this script runs chrooted there.
# Guests have no kernel and no disk: their BIOS finds nothing to boot and
# idles (a TCG guest inside a TCG VM would take minutes to boot); frames to
# them come from a peer.
#   test-libvirt-nested.sh BUILD_DIR
set -u
BUILD=$1
pass=0 fail=0
ok()   { pass=$((pass + 1)); echo "ok - $*"; }
bad()  { fail=$((fail + 1)); echo "not ok - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
log()  { echo "# $*"; }
_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
wait_for() {   # SECONDS DESC CMD...
    local end=$(($(_ms) + $1 * 1000)) desc=$2
    shift 2
    until "$@"; do
        [ "$(_ms)" -ge "$end" ] && { log "wait ran out: $desc"; return 1; }
        sleep "${wait_step:-0.1}"
    done
}
VIRSH="timeout 120 virsh -q -c qemu:///system"
T=/run/vspan-nested
mkdir -p "$T" /run/libvirt /etc/libvirt/hooks/qemu.d
# the host's root is the lower layer: none of its hooks, domains or networks
# (the host may be running the libvirt tier at this very moment)
rm -rf /etc/libvirt/hooks/qemu.d/* /etc/libvirt/hooks/qemu /etc/libvirt/qemu /var/lib/libvirt/qemu /var/log/libvirt/*
mkdir -p /etc/libvirt/qemu /var/lib/libvirt/qemu /var/log/libvirt/qemu
chown libvirt-qemu:kvm /var/lib/libvirt/qemu 2>/dev/null

for m in tun bridge veth sch_ingress act_mirred cls_u32 cls_matchall cls_bpf sch_htb sch_sfq cls_fw act_police macvtap; do
    modprobe "$m" || bad "module $m loads"
done
printf '%s\n' '<vspan>' \
    '  <appliance name="ids" domain="ids"><sink type="tap" dev="vspn-sink0"/></appliance>' \
    '  <hook on-agent-unavailable="refuse"/>' '</vspan>' >"$T/vspan.xml"
printf '#!/bin/sh\nVSPAN_SOCKET=%s VSPAN_CONFIG=%s exec %s "$@"\n' "$T/vspand.sock" "$T/vspan.xml" \
    "$BUILD/hooks/vspan-hook" >/etc/libvirt/hooks/qemu.d/vspan
chmod 0755 /etc/libvirt/hooks/qemu.d/vspan
export VSPAN_SOCKET=$T/vspand.sock
CTL=$BUILD/agent/vspanctl

# the bridge, a peer that sends to the guests, the lower device of direct NICs
ip link add br-n type bridge && ip link set br-n up
ip netns add peer
ip link add vspn-pv type veth peer name eth0 netns peer
ip link set vspn-pv master br-n up
ip netns exec peer sh -c 'ip link set lo up; ip addr add 10.203.0.1/24 dev eth0; ip link set eth0 up'
ip link add vspn-low type veth peer name eth1 netns peer
ip link set vspn-low up
ip netns exec peer sh -c 'ip addr add 10.204.0.1/24 dev eth1; ip link set eth1 up'

VSPAN_BPF_DIR=$BUILD/bpf "$BUILD/agent/vspand" --config "$T/vspan.xml" --state-dir "$T/state" \
    --socket "$T/vspand.sock" >"$T/vspand.log" 2>&1 &
vpid=$!
/usr/sbin/virtlogd -d
/usr/sbin/libvirtd -d
wait_for 60 "libvirtd to answer" $VIRSH uri >/dev/null 2>&1
check "libvirtd and vspand run in the nested kernel" sh -c "$VIRSH uri >/dev/null && '$CTL' status >/dev/null"
"$BUILD/tests/tap-capture" vspn-sink0 "$T/sink.pcap" 2>/dev/null &
cpid=$!

domain() {   # NAME MAC INTERFACE_XML
    printf '%s\n' "<domain type='qemu'><name>$1</name>" \
        "<metadata><vspan:domain xmlns:vspan='urn:vspan:domain:1'><vspan:mirror appliance='ids'/></vspan:domain></metadata>" \
        "<memory unit='MiB'>64</memory><vcpu>1</vcpu><features><acpi/></features><os><type arch='x86_64' machine='pc'>hvm</type></os>" \
        "<devices>$3</devices></domain>" >"$T/$1.xml"
    $VIRSH define "$T/$1.xml" >/dev/null
}
tap_of() { $VIRSH domiflist "$1" | awk -v m="$2" '$5 == m {print $1}'; }
vspan_filters() { tc filter show dev "$1" "$2" 2>/dev/null | grep -c 'Mirror to device vspn-sink0'; }
mirrored() { [ "$(vspan_filters "$1" ingress)" -ge 1 ] && [ "$(vspan_filters "$1" "${2:-root}")" -ge 1 ]; }
# frames to MAC sent by the peer through PEER_DEV, copies of them counted at the sink
copies_to() { tcpdump -r "$T/sink.pcap" -nn "ether dst $1 and udp port 9999" 2>/dev/null | wc -l; }
send_to() {   # PEER_DEV MAC N
    ip netns exec peer python3 - "$@" <<'PY'
import socket, sys, struct
dev, mac, n = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", "")), int(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((dev, 0))
src = s.getsockname()[4]
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + 8, 0, 0, 64, 17, 0, bytes([10, 9, 9, 1]), bytes([10, 9, 9, 2]))
for i in range(n):
    udp = struct.pack("!HHHH", 9999, 9999, 8 + 8, 0) + struct.pack("!Q", i)
    s.send(mac + src + b"\x08\x00" + ip + udp)
PY
}

# ---- §3: <bandwidth> both ways, then domiftune and update-device -----------------
echo "# a monitored guest with <bandwidth> in both directions"
BW=52:54:00:7a:00:01
domain vspn-bw $BW "<interface type='bridge'><mac address='$BW'/><source bridge='br-n'/><model type='virtio'/><bandwidth><inbound average='1000' peak='2000' burst='1024'/><outbound average='500' peak='1000' burst='512'/></bandwidth></interface>"
# running: its BIOS's iPXE asks DHCP, frames from the guest
check "virsh start of a monitored guest with <bandwidth> succeeds" $VIRSH start vspn-bw
tap=$(tap_of vspn-bw $BW)
check "libvirt shaped $tap: htb at its root, a police filter on its ingress" \
    sh -c "tc qdisc show dev $tap | grep -q 'qdisc htb 1: root' && tc filter show dev $tap ingress | grep -q 'police'"
check "vspan mirrors $tap both ways beside libvirt's qdiscs (its filters on libvirt's root and ingress)" mirrored "$tap"
send_to eth0 $BW 20; sleep 1
n0=$(copies_to $BW)
check "frames to the guest are copied ($n0 of 20)" test "$n0" = 20
from_vm() { tcpdump -r "$T/sink.pcap" -nn "ether src $BW" 2>/dev/null | wc -l; }
seen_from_vm() { [ "$(from_vm)" -gt "$1" ]; }
wait_for 120 "the guest's first frame (iPXE's DHCP) at the sink" seen_from_vm 0
check "frames from the guest are copied (iPXE's DHCP: $(from_vm))" seen_from_vm 0
police_after_mirror() {   # vspan's mirror precedes libvirt's police on the tap's ingress
    tc filter show dev "$tap" ingress | awk '
        { for (i = 1; i < NF; i++) if ($i == "pref") pref = $(i + 1) }
        /Mirror to device vspn-sink0/ && !m { m = pref }
        /police/ && !p { p = pref }
        END { exit !(m && p && m + 0 < p + 0) }'
}
rate() { tc class show dev "$tap" | sed -n 's/.*class htb 1:1 .* rate \([0-9A-Za-z]*\) .*/\1/p' | head -1; }
before=$(rate)
t0=$(_ms)
out=$($VIRSH domiftune vspn-bw "$tap" --live --inbound 2000,4000,2048 --outbound 800,1600,800 2>&1 | tr "\n" " ")
t1=$(_ms)
check "virsh domiftune on the running mirrored guest succeeds${out:+: $out}" test -z "$out"
wait_step=0.01 wait_for 10 "vspan's mirrors of $tap to be back after domiftune" mirrored "$tap"
t2=$(_ms)
log "domiftune: libvirt replaced $tap's qdiscs in $((t1 - t0)) ms; vspan's mirrors were back $((t2 - t1)) ms after it returned"
check "after domiftune both mirrors are back ($((t2 - t1)) ms after virsh returned)" mirrored "$tap"
check "vspan's mirror precedes libvirt's police on the ingress (else the police would end classification first)" police_after_mirror
check "and libvirt's new limits hold (htb rate $before -> $(rate), police on ingress)" \
    sh -c "test '$(rate)' != '$before' && tc filter show dev $tap ingress | grep -q police"
send_to eth0 $BW 20; sleep 1
n1=$(copies_to $BW)
check "copies keep counting after domiftune ($((n1 - n0)) of 20 more)" test $((n1 - n0)) = 20
f0=$(from_vm)
# iPXE gives up after a few DHCP tries: a reset (same QEMU, same tap) asks again
$VIRSH reset vspn-bw >/dev/null
wait_for 120 "a frame from the guest after domiftune at the sink" seen_from_vm "$f0"
check "frames from the guest are still copied after domiftune ($f0 -> $(from_vm))" seen_from_vm "$f0"
printf '%s\n' "<interface type='bridge'><mac address='$BW'/><source bridge='br-n'/><model type='virtio'/><bandwidth><inbound average='3000' peak='6000' burst='3072'/><outbound average='1500' peak='3000' burst='1500'/></bandwidth></interface>" >"$T/upd.xml"
before=$(rate)
t0=$(_ms)
out=$($VIRSH update-device vspn-bw "$T/upd.xml" --live 2>&1 | tr "\n" " ")
t1=$(_ms)
check "virsh update-device changing <bandwidth> succeeds${out:+: $out}" sh -c "echo '$out' | grep -qi 'success' || test -z '$out'"
wait_step=0.01 wait_for 10 "vspan's mirrors of $tap to be back after update-device" mirrored "$tap"
t2=$(_ms)
log "update-device: libvirt replaced $tap's qdiscs in $((t1 - t0)) ms; vspan's mirrors were back $((t2 - t1)) ms after it returned"
check "after update-device both mirrors are back ($((t2 - t1)) ms after virsh returned), libvirt's rate changed ($before -> $(rate))" \
    sh -c "tc filter show dev $tap ingress | grep -q 'Mirror to device vspn-sink0' && test '$(rate)' != '$before'"
send_to eth0 $BW 20; sleep 1
n2=$(copies_to $BW)
check "copies keep counting after update-device ($((n2 - n1)) of 20 more)" test $((n2 - n1)) = 20
check "vspan's mirror still precedes libvirt's police" police_after_mirror
$VIRSH destroy vspn-bw >/dev/null

# ---- <inbound> only: libvirt shapes the root, vspan adds a plain ingress -----------
echo "# a monitored guest with an inbound <bandwidth> only"
IN=52:54:00:7a:00:04
domain vspn-in $IN "<interface type='bridge'><mac address='$IN'/><source bridge='br-n'/><model type='virtio'/><bandwidth><inbound average='1000' peak='2000' burst='1024'/></bandwidth></interface>"
check "virsh start --paused of a monitored guest with an inbound limit only succeeds" $VIRSH start --paused vspn-in
tap=$(tap_of vspn-in $IN)
check "vspan gave $tap a plain ingress qdisc (not clsact) beside libvirt's htb root" \
    sh -c "tc qdisc show dev $tap | grep -q 'qdisc ingress ffff:' && tc qdisc show dev $tap | grep -q 'qdisc htb 1: root'"
check "and mirrors $tap both ways" mirrored "$tap"
out=$($VIRSH domiftune vspn-in "$tap" --live --inbound 3000,6000,3072 2>&1 | tr "\n" " ")
check "virsh domiftune of its inbound limit succeeds${out:+: $out}" test -z "$out"
wait_for 10 "vspan's mirrors of $tap to be back after domiftune" mirrored "$tap"
check "after domiftune both mirrors are back, beside libvirt's new htb ($(rate))" mirrored "$tap"
n0=$(copies_to $IN); send_to eth0 $IN 20; sleep 1
check "frames to the guest are copied after domiftune ($(( $(copies_to $IN) - n0 )) of 20)" test $(( $(copies_to $IN) - n0 )) = 20
$VIRSH destroy vspn-in >/dev/null

# ---- §1: a direct (macvtap) NIC through libvirt --------------------------------------
echo "# a monitored guest with <interface type='direct'> (macvtap, mode bridge)"
DM=52:54:00:7a:00:02
domain vspn-direct $DM "<interface type='direct'><mac address='$DM'/><source dev='vspn-low' mode='bridge'/><model type='virtio'/></interface>"
# running CPUs: libvirt sets a macvtap up only when they start
check "virsh start of a monitored guest with a direct NIC succeeds" $VIRSH start vspn-direct
mt=$(tap_of vspn-direct $DM)
check "libvirt made a macvtap device ($mt) on vspn-low" sh -c "ip -d link show '$mt' | grep -q 'macvtap *mode bridge'"
check "vspan mirrors $mt both ways (clsact ingress and egress)" mirrored "$mt" egress
n0=$(copies_to $DM)
send_to eth1 $DM 20; sleep 1
n1=$(copies_to $DM)
check "frames to the direct NIC's guest are copied ($((n1 - n0)) of 20)" test $((n1 - n0)) = 20
tc filter del dev "$mt" egress pref 48897 2>/dev/null || tc filter del dev "$mt" ingress pref 48896
wait_for 5 "vspand to repair $mt's mirror" mirrored "$mt" egress
check "a filter deleted behind vspan's back on the macvtap is repaired" mirrored "$mt" egress
HOT=52:54:00:7a:00:03
t0=$(_ms)
out=$($VIRSH attach-interface vspn-direct direct vspn-low --mac $HOT --model virtio --live 2>&1 | tr "\n" " ")
[ -n "$out" ] && log "attach-interface: $out"
ht=$(tap_of vspn-direct $HOT)
wait_step=0.01 wait_for 10 "the hot-plugged macvtap $ht to be mirrored" mirrored "$ht" egress
ms=$(( $(_ms) - t0 ))
log "hot-plugged direct NIC $ht mirrored $ms ms after virsh attach-interface began"
check "a hot-plugged direct NIC is mirrored ($ht, $ms ms)" mirrored "$ht" egress
$VIRSH destroy vspn-direct >/dev/null

kill "$cpid" "$vpid" 2>/dev/null
kill "$(cat /run/libvirtd.pid 2>/dev/null)" "$(cat /run/virtlogd.pid 2>/dev/null)" 2>/dev/null
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

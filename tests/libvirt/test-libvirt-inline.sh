#!/bin/bash
# The libvirt tier, inline (IPS) mode: real libvirtd + QEMU (TCG), the hook,
# vspand.  An appliance VM bridges its two NICs (vspand's taps vspi-ips0 and
# vspi-ips1, <interface type='ethernet'>); a guest behind it pings a peer
# ten times a second; the appliance is destroyed and started again while the
# stream runs, and the echo requests the peer received (numbered) show the
# gaps.  Usage: test-libvirt-inline.sh BUILD_DIR SOURCE_DIR   (root)
# Within a budget ($VSPAN_TIER_BUDGET_S, default 400 s); a killed run's
# processes, domains, links and hook are removed by the next run.
set -u
BUILD=$1 SRC=$2
HOOK=/etc/libvirt/hooks/qemu.d/vspan-test-inline
BR=br-vspi
PEER=vspi-peer
PORTS=(vspi-ips0 vspi-ips1)
vspand_pid="" dump_pid="" T=""

if [ "$(id -u)" -ne 0 ]; then
    echo "1..0 # SKIP the libvirt tier needs root"
    exit 77
fi
. "$SRC/tests/tier-lib.sh"
tier_begin libvirt-inline "${VSPAN_TIER_BUDGET_S:-400}" "$0" "$@"
T=$(mktemp -d /tmp/vspan-libvirt-inline.XXXXXX)
export VSPAN_SOCKET=$T/vspand.sock VSPAN_BPF_DIR=$BUILD/bpf
for b in virsh /usr/sbin/libvirtd qemu-system-x86_64 tcpdump; do
    command -v "$b" >/dev/null || { bad "$b is installed (tests/setup-deps installs it)"; finish; }
done

remove_made() {
    local d
    rm -f "$HOOK"
    tier_remove_domains "$1" vspi-
    tier_remove_links "$1" "$BR" vspi-hostveth "${PORTS[@]}"
    tier_remove_netns "$1" "$PEER"
    if [ "$1" = start ]; then
        for d in /tmp/vspan-libvirt-inline.*; do [ "$d" = "$T" ] || rm -rf "$d"; done
    fi
    return 0
}
cleanup() {
    set +e
    trap - TERM
    [ -n "$dump_pid" ] && kill "$dump_pid" 2>/dev/null
    remove_made end
    [ -n "$vspand_pid" ] && kill "$vspand_pid" 2>/dev/null && sleep 0.2
    libvirt_end
    [ -n "${KEEP_LOGS:-}" ] && cp "$T"/*.log "$T"/*.pcap "$KEEP_LOGS"/ 2>/dev/null
    rm -rf "$T"
    tier_end
}

tier_reap
started_libvirtd=$reaped_libvirtd started_virtlogd=$reaped_virtlogd
rm -f "$HOOK"
trap cleanup EXIT
GUEST=$("$SRC/tests/guest/build-guest") || { bad "the guest image builds"; finish; }
mkdir -p /etc/libvirt/hooks/qemu.d
libvirt_begin || { bad "libvirtd starts"; finish; }
remove_made start
libvirt_hook "$HOOK" "VSPAN_SOCKET=$VSPAN_SOCKET" "VSPAN_CONFIG=$T/vspan.xml" ||
    { bad "libvirtd answers after SIGHUP"; finish; }

cat >"$T/vspan.xml" <<XML
<vspan>
  <appliance name="ips" domain="vspi-ips" mode="inline" on-failure="bypass">
    <sink type="inline" vm-side="${PORTS[0]}" net-side="${PORTS[1]}"/>
    <health canary="on" interval="50ms" fail-after="3"/>
  </appliance>
  <hook on-agent-unavailable="refuse"/>
</vspan>
XML
ip link add "$BR" type bridge && ip link set "$BR" multicast off up
sysctl -qw "net.ipv6.conf.$BR.disable_ipv6=1"
ip netns add "$PEER"
ip link add vspi-hostveth type veth peer name eth0 netns "$PEER"
ip link set vspi-hostveth master "$BR" up
ip netns exec "$PEER" sh -c 'sysctl -qw net.ipv6.conf.all.disable_ipv6=1; ip link set lo up; ip addr add 10.202.0.1/24 dev eth0; ip link set eth0 up'

"$BUILD/agent/vspand" --config "$T/vspan.xml" --state-dir "$T/state" --socket "$VSPAN_SOCKET" >>"$T/vspand.log" 2>&1 &
vspand_pid=$!
tier_record kill "$vspand_pid"
check "vspand starts" wait_for 30 "vspand to answer vspanctl status" "$BUILD/agent/vspanctl" status
check "vspand created the appliance's two taps" test -e "/sys/class/net/${PORTS[0]}" -a -e "/sys/class/net/${PORTS[1]}"
field() { "$BUILD/agent/vspanctl" status --json | sed -n "s/.*\"inline\":\[{[^]]*\"$1\":\"\{0,1\}\([^,\"]*\).*/\1/p"; }
is_state() { [ "$(field state)" = "$1" ]; }

# domain NAME ANNOTATION RUN DEVICES
domain() {
    local meta=""
    [ -n "$2" ] && meta="<metadata><vspan:domain xmlns:vspan='urn:vspan:domain:1'>$2</vspan:domain></metadata>"
    printf '%s\n' "<domain type='qemu'><name>$1</name>$meta<memory unit='MiB'>128</memory><vcpu>1</vcpu>" \
        "<features><acpi/></features><os><type arch='x86_64' machine='pc'>hvm</type>" \
        "<kernel>$GUEST/vmlinuz</kernel><initrd>$GUEST/initrd.img</initrd>" \
        "<cmdline>console=ttyS0 ipv6.disable=1 no_timer_check vspan.run=$3</cmdline></os>" \
        "<devices>$4<serial type='file'><source path='$T/$1.log'/><target port='0'/></serial></devices></domain>" >"$T/$1.xml"
    $VIRSH define "$T/$1.xml" >/dev/null
}
nic_eth() { echo "<interface type='ethernet'><mac address='$2'/><target dev='$1' managed='no'/><model type='virtio'/><rom enabled='no'/></interface>"; }
WEB=52:54:00:78:00:02
domain vspi-ips "" \
    "brctl+addbr+br0%3Bbrctl+addif+br0+eth0%3Bbrctl+addif+br0+eth1%3Bip+link+set+eth0+up%3Bip+link+set+eth1+up%3Bip+link+set+br0+up" \
    "$(nic_eth "${PORTS[0]}" 52:54:00:78:00:10)$(nic_eth "${PORTS[1]}" 52:54:00:78:00:11)"
domain vspi-web "<vspan:inline appliance='ips'/>" \
    "ip+link+set+eth0+up%3Bip+addr+add+10.202.0.2/24+dev+eth0%3Bping+-i+0.1+-c+100000+10.202.0.1" \
    "<interface type='bridge'><mac address='$WEB'/><source bridge='$BR'/><model type='virtio'/><rom enabled='no'/></interface>"

section "1. the appliance VM forwards between its NICs: its canaries come back"
check "virsh start of the appliance succeeds" $VIRSH start vspi-ips
check "the appliance is healthy once it forwards (canaries back: state through)" wait_for 120 "state through" is_state through
# the peer records every echo request that reaches it, numbered
ip netns exec "$PEER" tcpdump -i eth0 -U -nn -w "$T/peer.pcap" icmp </dev/null >/dev/null 2>&1 &
dump_pid=$!
tier_record kill "$dump_pid"
sleep 1

section "2. a guest behind it, from its first frame"
check "virsh start of the guest behind the appliance succeeds" $VIRSH start vspi-web
seqs() { tcpdump -r "$T/peer.pcap" -nn "icmp[icmptype] = icmp-echo and ether src $WEB" 2>/dev/null | sed -n 's/.*, seq \([0-9]*\),.*/\1/p'; }
nseq() { seqs | wc -l; }
has_seqs() { [ "$(nseq)" -ge "$1" ]; }
check "the guest's pings reach the peer" wait_for 120 "20 echo requests at the peer" has_seqs 20
tap=$($VIRSH domiflist vspi-web | awk -v m="$WEB" '$5 == m {print $1}')
check "the guest's tap $tap runs the inline programs" sh -c "tc filter show dev '$tap' ingress | grep -q 'vspan-inline-ips'"
to0=$(field to_appliance)
sleep 2
check "its frames go through the appliance (frames to it: $to0 -> $(field to_appliance), state $(field state))" \
    test "$(field to_appliance)" -gt "$to0" -a "$(field state)" = through
check "the replies come back through it too (the guest's log shows them)" grep -q "bytes from 10.202.0.1" "$T/vspi-web.log"

# the largest hole in the echo requests' sequence numbers from seq $1 on
# (the one right after $1 included: a stream that stopped at the failure
# and came back late shows as that hole)
hole_after() { seqs | awk -v a="$1" '$1 > a { if ($1 - p - 1 > h) h = $1 - p - 1; p = $1 } BEGIN { p = a } END { print h + 0 }'; }
last_seq() { seqs | tail -1; }

section "3. the appliance destroyed while the stream runs: bypass"
s0=$(last_seq)
check "virsh destroy of the appliance succeeds" $VIRSH destroy vspi-ips
check "its VMs bypass it (state bypass: a port has no carrier)" wait_for 10 "state bypass" is_state bypass
n=$(nseq)
check "the stream goes on around it" wait_for 20 "10 more echo requests" has_seqs $((n + 10))
hole=$(hole_after "$s0")
log "appliance destroyed: $hole echo requests (at 10 a second) missing at the peer"
check "the gap is at most 3 pings (carrier loss switches at once; measured $hole)" test "$hole" -le 3

section "4. the appliance started again: through it again"
s1=$(last_seq)
check "virsh start of the appliance succeeds" $VIRSH start vspi-ips
check "through the appliance again once it forwards" wait_for 120 "state through" is_state through
to1=$(field to_appliance)
n=$(nseq)
check "the stream goes on through it" wait_for 20 "10 more echo requests" has_seqs $((n + 10))
check "and its frames pass the appliance again ($to1 -> $(field to_appliance))" test "$(field to_appliance)" -gt "$to1"
hole=$(hole_after "$s1")
log "appliance restarted (boot under TCG, then back through it): $hole echo requests missing at the peer"
check "no gap while it boots and takes the traffic back (bypass until its canaries come back; $hole missing)" test "$hole" -le 3
check "status counts the switches ($(field switches))" test "$(field switches)" -ge 2
check "vspand logged both switches" sh -c "grep -q \"inline appliance 'ips': through -> bypass: a port has no carrier\" '$T/vspand.log' && grep -q \"inline appliance 'ips': bypass -> through: healthy\" '$T/vspand.log'"

section "5. the guest stops: its tag is free"
$VIRSH destroy vspi-web >/dev/null
check "no VM passes the appliance after the guest stopped" wait_for 10 "vms 0" sh -c "[ \"\$('$BUILD/agent/vspanctl' status --json | sed -n 's/.*\"vms\":\([0-9]*\).*/\1/p')\" = 0 ]"
[ "$fail" -gt 0 ] && sed 's/^/# vspand: /' "$T/vspand.log"
finish

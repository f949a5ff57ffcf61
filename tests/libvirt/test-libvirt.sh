#!/bin/bash
# The libvirt tier: real libvirtd + QEMU (TCG), the installed hook, vspand.
# Usage: test-libvirt.sh BUILD_DIR SOURCE_DIR   (root)
# It starts virtlogd/libvirtd if they are not running, installs the hook
# (qemu.d/vspan-test), and restores the machine afterwards: domains,
# bridge, namespace, sink taps, hook file, daemons it started (by PID).
# It runs within a budget ($VSPAN_TIER_BUDGET_S, default 600 s: meson's
# timeout is 900 s) and every wait is bounded and named when it runs out.
# A run that was killed anyway leaves a record of its processes under
# /run/vspan-tests: the next run ends them (or takes over the libvirtd and
# virtlogd it started) and removes its domains, links and hook first.
# With VSPAN_AGENT_VALGRIND=1 every vspand runs under valgrind: each one
# stopped by SIGTERM must report no errors and no definite leak (vspand
# killed by SIGKILL in section 5 leaves no report).  The hot-plug bound
# is then VSPAN_HOTPLUG_BOUND_MS (valgrind slows vspand ~20x).
set -u
BUILD=$1 SRC=$2
HOOK=/etc/libvirt/hooks/qemu.d/vspan-test
BR=br-vspt
SINK=vspt-sink0
SINKF=vspt-sinkf
SINKS=vspt-sinks
PEER=vspt-peer
vspand_pid="" capture_pid="" capture2_pid="" dump_pid="" T=""

if [ "$(id -u)" -ne 0 ]; then
    echo "1..0 # SKIP the libvirt tier needs root"
    exit 77
fi
. "$SRC/tests/tier-lib.sh"
tier_begin libvirt "${VSPAN_TIER_BUDGET_S:-600}" "$0" "$@"
T=$(mktemp -d /tmp/vspan-libvirt.XXXXXX)
export VSPAN_SOCKET=$T/vspand.sock
for b in virsh /usr/sbin/libvirtd /usr/sbin/virtlogd qemu-system-x86_64 tcpdump; do
    command -v "$b" >/dev/null || { bad "$b is installed (tests/setup-deps installs it)"; finish; }
done

start_libvirtd() { /usr/sbin/libvirtd -d && wait_libvirt; }

# What the tier makes, by name: removed at its end and, at its start, what
# an earlier run that was killed left behind.
remove_made() {
    local d
    rm -f "$HOOK"
    tier_remove_domains "$1" vspt-
    if libvirt_up; then
        $VIRSH net-destroy vspt-pool >/dev/null 2>&1
        $VIRSH net-undefine vspt-pool >/dev/null 2>&1
    fi
    tier_remove_links "$1" "$BR" "$SINK" "$SINKF" "$SINKS" vspt-hostveth
    tier_remove_netns "$1" "$PEER"
    if [ "$1" = start ]; then
        for d in /tmp/vspan-libvirt.*; do [ "$d" = "$T" ] || rm -rf "$d"; done
    fi
    return 0
}

cleanup() {
    set +e
    trap - TERM
    [ -n "$capture_pid" ] && kill "$capture_pid" 2>/dev/null
    [ -n "$capture2_pid" ] && kill "$capture2_pid" 2>/dev/null
    [ -n "$dump_pid" ] && kill "$dump_pid" 2>/dev/null
    remove_made end
    [ -n "$vspand_pid" ] && kill "$vspand_pid" 2>/dev/null && sleep 0.2
    libvirt_end    # libvirtd forgets the hook again
    [ -n "${KEEP_LOGS:-}" ] && cp "$T"/*.log "$T"/*.pcap "$KEEP_LOGS"/ 2>/dev/null
    rm -rf "$T"
    tier_end
}

# ---- set up ------------------------------------------------------------------
# First what an earlier, killed run left: its processes, hook, links, and
# (once libvirtd answers) its domains and pool network.
tier_reap
started_libvirtd=$reaped_libvirtd started_virtlogd=$reaped_virtlogd
# VSPAN_LIBVIRT_REAP_ONLY=1: only that (tests/check-demo runs it first, so a
# test run killed on this host cannot break the demo's VM starts with its
# hook or its domains), then the usual cleanup
if [ -n "${VSPAN_LIBVIRT_REAP_ONLY:-}" ]; then
    trap cleanup EXIT
    if libvirt_up || { [ "$started_libvirtd" = 1 ] && wait_libvirt; }; then :; fi
    log "reaped what an earlier libvirt tier run left"
    exit 0
fi
rm -f "$HOOK"
trap cleanup EXIT
GUEST=$("$SRC/tests/guest/build-guest") || { bad "the guest image builds"; finish; }
mkdir -p /etc/libvirt/hooks/qemu.d
# (a libvirtd already up forgets an earlier run's hook on its SIGHUP)
libvirt_begin || { bad "libvirtd starts"; finish; }
remove_made start
libvirt_hook "$HOOK" "VSPAN_SOCKET=$VSPAN_SOCKET" "VSPAN_CONFIG=$T/vspan.xml" \
    "VSPAN_HOOK_TIMEOUT_MS=${VSPAN_HOOK_TIMEOUT_MS:-5000}" || { bad "libvirtd answers after SIGHUP"; finish; }

printf '%s\n' \
    '<vspan>' \
    "  <appliance name=\"ids-t\" domain=\"vspt-idst\"><sink type=\"tap\" dev=\"$SINK\"/></appliance>" \
    '  <appliance name="ids-i" domain="vspt-ids"><sink type="interface" mac="52:54:00:5a:00:01"/></appliance>' \
    "  <appliance name=\"ids-f\" domain=\"vspt-idsf\"><sink type=\"tap\" dev=\"$SINKF\"/></appliance>" \
    "  <appliance name=\"ids-s\" domain=\"vspt-idss\"><sink type=\"tap\" dev=\"$SINKS\"/></appliance>" \
    '  <pool name="vspt-pool" network="vspt-pool"><pf dev="vspt-nopf"/></pool>' \
    '  <hook on-agent-unavailable="refuse"/>' \
    '</vspan>' >"$T/vspan.xml"

ip link add "$BR" type bridge && ip link set "$BR" multicast off up
sysctl -qw "net.ipv6.conf.$BR.disable_ipv6=1"
ip netns add "$PEER"
ip link add vspt-hostveth type veth peer name eth0 netns "$PEER"
ip link set vspt-hostveth master "$BR" up
ip netns exec "$PEER" sh -c 'sysctl -qw net.ipv6.conf.all.disable_ipv6=1; ip link set lo up; ip addr add 10.201.0.1/24 dev eth0; ip link set eth0 up'

agent=("$BUILD/agent/vspand")
if [ -n "${VSPAN_AGENT_VALGRIND:-}" ]; then
    command -v valgrind >/dev/null || { bad "valgrind is installed (tests/setup-deps installs it)"; finish; }
    agent=(env G_SLICE=always-malloc G_DEBUG=gc-friendly valgrind --leak-check=full
           --errors-for-leak-kinds=definite --show-leak-kinds=definite --track-origins=yes
           --suppressions="$SRC/tests/valgrind.supp" --log-file="$T/valgrind.%p.log" "${agent[@]}")
fi
start_vspand() {
    "${agent[@]}" --config "$T/vspan.xml" --state-dir "$T/state" --socket "$VSPAN_SOCKET" >>"$T/vspand.log" 2>&1 &
    vspand_pid=$!
    tier_record kill "$vspand_pid"
    wait_for 30 "vspand (pid $vspand_pid) to answer vspanctl status" "$BUILD/agent/vspanctl" status >/dev/null 2>&1
}
check "vspand starts" start_vspand
status_json() { "$BUILD/agent/vspanctl" status --json; }
status_has() { status_json | grep -q "$1"; }
status_lacks() { ! status_json | grep -q "$1"; }
# vspand defines it on its first libvirt resync, right after connecting
wait_for 10 "vspand to define the pool network vspt-pool" sh -c "$VIRSH net-info vspt-pool >/dev/null 2>&1"
netxml=$($VIRSH net-dumpxml vspt-pool 2>&1)
case $netxml in
*"<forward mode='hostdev' managed='yes'>"*"<pf dev='vspt-nopf'/>"*) ok "vspand defined the pool's hostdev network through libvirt" ;;
*) bad "the pool's hostdev network: $netxml" ;;
esac

# domain NAME MAC ANNOTATION RUN [EXTRA_DEVICE_XML]
domain() {
    local name=$1 mac=$2 ann=$3 run=$4 extra=${5:-} meta=""
    # no_timer_check: a TCG guest starved of CPU (ten boot at once) fails
    # the kernel's IO-APIC timer check and panics without it
    [ -n "$ann" ] && meta="<metadata><vspan:domain xmlns:vspan='urn:vspan:domain:1'>$ann</vspan:domain></metadata>"
    printf '%s\n' \
        "<domain type='qemu'>" \
        "  <name>$name</name>" \
        "  $meta" \
        "  <memory unit='MiB'>128</memory>" \
        "  <vcpu>1</vcpu>" \
        "  <features><acpi/></features>" \
        "  <os><type arch='x86_64' machine='pc'>hvm</type>" \
        "    <kernel>$GUEST/vmlinuz</kernel><initrd>$GUEST/initrd.img</initrd>" \
        "    <cmdline>console=ttyS0 ipv6.disable=1 no_timer_check vspan.run=$run</cmdline></os>" \
        "  <devices>" \
        "    <interface type='bridge'><mac address='$mac'/><source bridge='$BR'/><model type='virtio'/><rom enabled='no'/></interface>" \
        "    $extra" \
        "    <serial type='file'><source path='$T/$name.log'/><target port='0'/></serial>" \
        "  </devices>" \
        "</domain>" >"$T/$name.xml"
    $VIRSH define "$T/$name.xml" >/dev/null
}
test_mirred() { [ "$(mirred_to "$1" ingress)" = "$2" ]; }
tap_of() { $VIRSH domiflist "$1" | awk -v m="$2" '$5 == m {print $1}'; }
mirred_to() {
    [ -n "$1" ] || return 0
    tc filter show dev "$1" "$2" 2>/dev/null | sed -n 's/.*Egress Mirror to device \([^)]*\)).*/\1/p' | tr '\n' ' ' | sed 's/ $//'
}
wait_guest_done() { wait_for 60 "guest $1 to print 'vspan-guest: done'" grep -q "vspan-guest: done" "$T/$1.log"; }

WEB=52:54:00:77:00:02
RUN_WEB="ip+link+set+eth0+up%3Bip+addr+add+10.201.0.2/24+dev+eth0%3Barping+-c+3+-I+eth0+10.201.0.1%3Bping+-c+5+10.201.0.1"

# ---- 1 + 2: gapless, both directions, IP and non-IP --------------------------
section "1. gapless from the first frame; 2. both directions, IP and non-IP"
# vspand created the tap sink at start-up; the capture holds it as the
# appliance VM would.
check "vspand created the tap sink at start-up" test -e "/sys/class/net/$SINK"
"$BUILD/tests/tap-capture" "$SINK" "$T/sink.pcap" 2>"$T/capture.err" &
capture_pid=$!
tier_record kill "$capture_pid"
tcpdump -i "$BR" -U -w "$T/bridge.pcap" "ether src $WEB or ether dst $WEB" >/dev/null 2>&1 &
dump_pid=$!
tier_record kill "$dump_pid"
sleep 1
domain vspt-web $WEB "<vspan:mirror appliance='ids-t'/>" "$RUN_WEB"
check "virsh start of a monitored domain succeeds" $VIRSH start vspt-web
check "the guest ran its traffic" wait_guest_done vspt-web
cutoff=$(date +%s.%N)   # compare what both captures saw before this instant
sleep 1
kill "$dump_pid" "$capture_pid"
wait "$dump_pid" "$capture_pid" 2>/dev/null
dump_pid="" capture_pid=""
# frames (hex, no timestamps) of FILE matching FILTER captured before $cutoff
frames() {
    tcpdump -r "$1" -tt -xx "$2" 2>/dev/null |
        awk -v c="$cutoff" '/^[0-9]+\.[0-9]+ / { keep = ($1 < c); sub(/^[^ ]+ /, "") } keep'
}
nframes() { frames "$1" "$2" | grep -c -v '^[[:space:]]*0x'; }
from_br=$(frames "$T/bridge.pcap" "ether src $WEB")
from_sink=$(frames "$T/sink.pcap" "ether src $WEB")
nbr=$(nframes "$T/bridge.pcap" "ether src $WEB")
nsink=$(nframes "$T/sink.pcap" "ether src $WEB")
log "guest frames seen on the bridge: $nbr, copies at the sink: $nsink"
check "the guest sent frames (the bridge saw $nbr)" test "$nbr" -ge 9
check "every guest frame from the first one arrived at the sink, byte for byte" test "$from_br" = "$from_sink"
cnt() { nframes "$T/sink.pcap" "$1"; }
arp_br=$(nframes "$T/bridge.pcap" "arp and ether src $WEB and arp[6:2] = 1")
check "from-vm ARP requests copied (the bridge saw $arp_br)" \
    test "$(cnt "arp and ether src $WEB and arp[6:2] = 1")" -eq "$arp_br" -a "$arp_br" -ge 3
check "to-vm ARP reply copied" test "$(cnt "arp and ether dst $WEB and arp[6:2] = 2")" -ge 1
check "from-vm ICMP echo requests copied (5)" test "$(cnt "icmp[icmptype] = icmp-echo and ether src $WEB")" -eq 5
check "to-vm ICMP echo replies copied (5)" test "$(cnt "icmp[icmptype] = icmp-echoreply and ether dst $WEB")" -eq 5
check "the pings were answered (monitored traffic intact)" grep -q "5 packets received" "$T/vspt-web.log"

# ---- 3: appliance restarts ---------------------------------------------------
section "3. appliance restart: interface sink re-pointed, tap sink survives"
IDS=52:54:00:5a:00:01
WEB2=52:54:00:77:00:03
domain vspt-ids $IDS "" "true"
domain vspt-web2 $WEB2 "<vspan:mirror appliance='ids-i'/>" \
    "ip+link+set+eth0+up%3Bip+addr+add+10.201.0.3/24+dev+eth0%3Bping+-c+300+10.201.0.1"
$VIRSH start vspt-ids >/dev/null
$VIRSH start vspt-web2 >/dev/null
ids_tap=$(tap_of vspt-ids $IDS)
web2_tap=$(tap_of vspt-web2 $WEB2)
wait_for 10 "vspt-web2's mirror to point at $ids_tap" test_mirred "$web2_tap" "$ids_tap"
check "vspt-web2's mirror points at the appliance's tap $ids_tap" test "$(mirred_to "$web2_tap" ingress)" = "$ids_tap"
$VIRSH destroy vspt-ids >/dev/null
$VIRSH start vspt-ids >/dev/null
new_tap=$(tap_of vspt-ids $IDS)
wait_for 10 "vspt-web2's mirror to follow to $new_tap" test_mirred "$web2_tap" "$new_tap"
check "after the appliance restarted the mirror follows to $new_tap (was $ids_tap)" \
    test "$(mirred_to "$web2_tap" ingress)" = "$new_tap" -a "$new_tap" != "$ids_tap"
check "copies arrive at the restarted appliance" \
    timeout 20 tcpdump -i "$new_tap" -c 2 "icmp and ether src $WEB2" >/dev/null 2>&1
idx_before=$(cat "/sys/class/net/$SINK/ifindex")
domain vspt-idst 52:54:00:5a:00:02 "" "true" \
    "<interface type='ethernet'><mac address='52:54:00:5a:00:03'/><target dev='$SINK' managed='no'/><model type='virtio'/></interface>"
check "an appliance VM attaches to the tap sink" $VIRSH start vspt-idst
$VIRSH destroy vspt-idst >/dev/null
check "the tap sink survives the appliance's stop, same ifindex" \
    test "$(cat "/sys/class/net/$SINK/ifindex" 2>/dev/null)" = "$idx_before"
web_tap=$(tap_of vspt-web $WEB)
check "vspt-web still mirrors to the tap sink" test "$(mirred_to "$web_tap" ingress)" = "$SINK"

# ---- 4: hot-plug -------------------------------------------------------------
section "4. hot-plug"
HOT=52:54:00:77:00:09
t0=$(date +%s%N)
$VIRSH attach-interface vspt-web bridge "$BR" --mac $HOT --model virtio --live >/dev/null
hot_tap=$(tap_of vspt-web $HOT)
bound=${VSPAN_HOTPLUG_BOUND_MS:-1000}
wait_step=0.01 wait_for $((bound / 1000 + 2)) "hot-plugged $hot_tap to be mirrored to $SINK" test_mirred "$hot_tap" "$SINK"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
log "hot-plugged $hot_tap mirrored $ms ms after virsh attach-interface was run"
check "a hot-plugged interface is mirrored within $bound ms ($ms ms)" \
    test "$(mirred_to "$hot_tap" ingress)" = "$SINK" -a "$ms" -le "$bound"
wait_for 5 "status to list $hot_tap" status_has "\"mac\":\"$HOT\",\"tap\":\"$hot_tap\""
check "status lists the hot-plugged interface's mirror" sh -c "'$BUILD/agent/vspanctl' status --json | grep -q '\"mac\":\"$HOT\",\"tap\":\"$hot_tap\"'"
$VIRSH detach-interface vspt-web bridge --mac $HOT --live >/dev/null
wait_for 5 "status to drop $HOT" status_lacks "$HOT"
check "hot-unplug drops its mirror from vspan's state" sh -c "! '$BUILD/agent/vspanctl' status --json | grep -q '$HOT'"

# ---- 5: restarts -------------------------------------------------------------
section "5. libvirtd restart; vspand kill -9"
snap() {
    for t in "$(tap_of vspt-web $WEB)" "$(tap_of vspt-web2 $WEB2)"; do
        [ -n "$t" ] && tc filter show dev "$t" ingress && tc filter show dev "$t" egress
    done | grep -v -E 'index|^$'
}
before=$(snap)
old=$(libvirtd_pid)
kill "$old"
wait_for 20 "libvirtd (pid $old) to exit after SIGTERM" sh -c "! kill -0 $old 2>/dev/null"
start_libvirtd
[ "$started_libvirtd" = 1 ] && tier_record libvirtd "$(libvirtd_pid)"
reconnected() { "$BUILD/agent/vspanctl" status --json | grep -q '"reconnects":[1-9]'; }
wait_for 10 "vspand to reconnect to the restarted libvirtd" reconnected
check "mirrors intact after a libvirtd restart" test "$(snap)" = "$before"
check "vspand reconnected to libvirt" reconnected
kill -9 "$vspand_pid"
wait "$vspand_pid" 2>/dev/null
start_vspand
sleep 1.5
check "after vspand kill -9 and restart: the same filters, none duplicated" test "$(snap)" = "$before"
check "one vspan filter per hook on vspt-web's tap" test "$(tc filter show dev "$web_tap" ingress | grep -c mirred)" -eq 1
check "status lists vspt-web's mirror after the restart" \
    sh -c "'$BUILD/agent/vspanctl' status --json | grep -q '\"domain\":\"vspt-web\",\"uuid\":\"[^\"]*\",\"mac\":\"$WEB\"'"

# ---- 6: refusals and vspand down ---------------------------------------------
section "6. bad annotation; vspand down"
domain vspt-bad 52:54:00:77:00:04 "<vspan:mirror appliance='nope'/>" "true"
err=$($VIRSH start vspt-bad 2>&1)
rc=$?
# (the line is that of the XML libvirt hands the hook)
want=": <vspan:mirror appliance=\"nope\">: no appliance named 'nope' in $T/vspan.xml (known: ids-t, ids-i, ids-f, ids-s); fix the name or ask the host admin to define it"
check "virsh start of a domain naming an unknown appliance fails" test "$rc" -ne 0
case $err in
*"unexpected exit status 1: vspan: domain 'vspt-bad' line "[0-9]*"$want") ok "virsh's error ends with vspan's one line" ;;
*) bad "virsh's error ends with vspan's one line: $err" ;;
esac
check "the refused domain is not running" sh -c "! $VIRSH domstate vspt-bad | grep -q running"
# "mirror all" on a domain whose second NIC is QEMU's user-mode network: the
# bridge NIC is mirrored, the other is named (issue 17), from libvirt's XML
UMAC=52:54:00:77:00:0b
domain vspt-user 52:54:00:77:00:0a "<vspan:mirror appliance='ids-t'/>" "true" \
    "<interface type='user'><mac address='$UMAC'/><model type='virtio'/></interface>"
check "a domain with a bridge NIC and a user-mode NIC starts" $VIRSH start vspt-user
user_json=$(status_json)
case $user_json in
*'"unmonitored":[{"domain":"vspt-user","mac":"'$UMAC'","type":"user","why":'*) ok "status lists its user-mode NIC as unmonitored, with why" ;;
*) bad "status lists its user-mode NIC as unmonitored: $user_json" ;;
esac
check "its bridge NIC is mirrored" test "$(mirred_to "$(tap_of vspt-user 52:54:00:77:00:0a)" ingress)" = "$SINK"
check "metrics count the unmonitored NIC" sh -c "'$BUILD/agent/vspanctl' metrics | grep -q '^vspan_unmonitored_interface{domain=\"vspt-user\",mac=\"$UMAC\",type=\"user\"} 1\$'"
check "vspand logged it by name" grep -q "interface $UMAC.*type 'user', is not monitored" "$T/vspand.log"
$VIRSH destroy vspt-user >/dev/null
check "once the domain stops, nothing is listed unmonitored" sh -c "'$BUILD/agent/vspanctl' status --json | grep -q '\"unmonitored\":\[\]'"
kill "$vspand_pid"
wait "$vspand_pid" 2>/dev/null
vspand_pid=""
domain vspt-plain 52:54:00:77:00:05 "" "true"
check "an unannotated domain starts while vspand is stopped" $VIRSH start vspt-plain
$VIRSH destroy vspt-web2 >/dev/null
err=$($VIRSH start vspt-web2 2>&1)
rc=$?
check "a monitored domain is refused while vspand is stopped" test "$rc" -ne 0
case $err in
*"vspan: vspand is not running"*"and domain 'vspt-web2' needs it; start vspand or set <hook on-agent-unavailable=\"allow\"/> in $T/vspan.xml") ok "the refusal says what to do" ;;
*) bad "the refusal says what to do: $err" ;;
esac
start_vspand

# ---- 7: cycles ---------------------------------------------------------------
section "7. 20 start/destroy cycles"
CYC=52:54:00:77:00:06
domain vspt-cyc $CYC "<vspan:mirror appliance='ids-t'/>" "true"
cyc_ok=1
for i in $(seq 20); do
    $VIRSH start vspt-cyc >/dev/null || { cyc_ok=0; log "cycle $i: start failed"; break; }
    t=$(tap_of vspt-cyc $CYC)
    [ "$(mirred_to "$t" ingress)" = "$SINK" ] || { cyc_ok=0; log "cycle $i: $t not mirrored"; }
    $VIRSH destroy vspt-cyc >/dev/null
done
check "20 cycles: every start mirrored" test "$cyc_ok" = 1
wait_for 5 "status to drop vspt-cyc" status_lacks vspt-cyc
check "no vspan state left for vspt-cyc" sh -c "! '$BUILD/agent/vspanctl' status --json | grep -q vspt-cyc"
running_taps=$(for d in $($VIRSH list --name); do $VIRSH domiflist "$d" | awk '{print $1}'; done | grep '^vnet' | sort)
host_taps=$(ip -o link show type tun | awk -F': ' '{print $2}' | grep '^vnet' | sort)
check "no taps left behind (host vnet taps = running domains' taps)" test "$host_taps" = "$running_taps"

# ---- 8: parallel starts --------------------------------------------------------
# libvirt runs the hooks of different domains concurrently; vspand takes
# them one at a time.  Each guest sends 3 ARP requests once it is up: the
# sink must see each guest's own frames, each tap must hold exactly one
# vspan filter per direction, and status one mirror per domain.
section "8. 10 domains started in parallel with virsh start, then destroyed in parallel"
PAR=$(seq 10 19)
for i in $PAR; do
    domain vspt-par$i 52:54:00:77:01:$i "<vspan:mirror appliance='ids-t'/>" \
        "ip+link+set+eth0+up%3Bip+addr+add+10.201.0.$i/24+dev+eth0%3Barping+-c+3+-I+eth0+10.201.0.1"
done
"$BUILD/tests/tap-capture" "$SINK" "$T/par.pcap" 2>"$T/capture.err" &
capture_pid=$!
tier_record kill "$capture_pid"
sleep 0.5
pids=()
for i in $PAR; do $VIRSH start vspt-par$i >"$T/par$i.out" 2>&1 & pids+=($!); done
nstarted=0
for p in "${pids[@]}"; do wait "$p" && nstarted=$((nstarted + 1)); done
check "10 parallel virsh start: all succeeded ($nstarted/10)" test "$nstarted" = 10
for i in $PAR; do
    grep -q '^error' "$T/par$i.out" 2>/dev/null && log "vspt-par$i: $(tr '\n' ' ' <"$T/par$i.out")"
done
good=0
for i in $PAR; do
    t=$(tap_of vspt-par$i 52:54:00:77:01:$i)
    [ -n "$t" ] && [ "$(mirred_to "$t" ingress)-$(mirred_to "$t" egress)" = "$SINK-$SINK" ] && good=$((good + 1))
done
check "10 parallel starts: every tap has exactly one vspan filter per direction, to the sink ($good/10)" test "$good" = 10
par_mirrors=$(status_json | grep -o '"domain":"vspt-par[0-9]*"')
n_all=$(echo "$par_mirrors" | wc -l)
n_uniq=$(echo "$par_mirrors" | sort -u | wc -l)
check "10 parallel starts: status lists one mirror per domain ($n_all entries, $n_uniq domains)" test "$n_all-$n_uniq" = 10-10
# ten TCG guests boot on the host's cores at once: allow them 10 minutes,
# or what the tier's budget leaves (keeping 90 s for the rest); a guest
# panic ends the wait early, and a domain that did not start is not waited for
t0=$(date +%s)
ndone=0
par_done() {
    ndone=0
    for i in $PAR; do grep -q "vspan-guest: done" "$T/vspt-par$i.log" 2>/dev/null && ndone=$((ndone + 1)); done
    [ "$ndone" = "$nstarted" ] || grep -q "end Kernel panic" "$T"/vspt-par*.log 2>/dev/null
}
par_bound=$(budget_left)
par_bound=$((par_bound - 90 < 600 ? par_bound - 90 : 600))
wait_for "$par_bound" "10 parallel guests to run their ARPs" par_done
log "guests that ran their ARPs: $ndone/10, $(($(date +%s) - t0)) s after the starts returned"
for i in $PAR; do
    grep -q "vspan-guest: done" "$T/vspt-par$i.log" 2>/dev/null ||
        { log "vspt-par$i console (tail):"; tail -5 "$T/vspt-par$i.log" 2>/dev/null | sed 's/^/#   /'; }
done
sleep 1
kill "$capture_pid"; wait "$capture_pid" 2>/dev/null; capture_pid=""
seen=0
for i in $PAR; do
    n=$(tcpdump -r "$T/par.pcap" "arp and ether src 52:54:00:77:01:$i and arp[6:2] = 1" 2>/dev/null | wc -l)
    [ "$n" -ge 3 ] && seen=$((seen + 1)) || log "vspt-par$i: $n ARP requests at the sink"
done
check "10 parallel starts: the sink got every guest's ARP requests ($seen/10)" test "$seen" = 10
pids=()
for i in $PAR; do $VIRSH destroy vspt-par$i >/dev/null 2>&1 & pids+=($!); done
wait "${pids[@]}"
wait_for 10 "status to drop the vspt-par domains" status_lacks vspt-par
check "10 parallel destroys: no mirror left in status" sh -c "! '$BUILD/agent/vspanctl' status --json | grep -q vspt-par"
check "10 parallel destroys: no domain left in vspan's state file" sh -c "! grep -q vspt-par '$T/state/state.ini'"

# ---- 9: rules that select ------------------------------------------------------
section "9. a filtered guest (arp only) and a sampled guest (1 in 2)"
ARPG=52:54:00:77:02:01 SMPG=52:54:00:77:02:02
# one sink each: the bridge floods the filtered guest's broadcasts to the
# sampled guest's tap too, where its own rule may copy them
"$BUILD/tests/tap-capture" "$SINKF" "$T/sinkf.pcap" 2>"$T/capture.err" &
capture_pid=$!
tier_record kill "$capture_pid"
"$BUILD/tests/tap-capture" "$SINKS" "$T/sinks.pcap" 2>"$T/capture2.err" &
capture2_pid=$!
tier_record kill "$capture2_pid"
tcpdump -i "$BR" -U -w "$T/bridgef.pcap" "ether host $ARPG or ether host $SMPG" >/dev/null 2>&1 &
dump_pid=$!
tier_record kill "$dump_pid"
sleep 1
domain vspt-arp $ARPG "<vspan:mirror appliance='ids-f' filter='arp'/>" \
    "ip+link+set+eth0+up%3Bip+addr+add+10.201.0.3/24+dev+eth0%3Barping+-c+3+-I+eth0+10.201.0.1%3Bping+-c+5+10.201.0.1"
domain vspt-smp $SMPG "<vspan:mirror appliance='ids-s' sample='2'/>" \
    "ip+link+set+eth0+up%3Bip+addr+add+10.201.0.4/24+dev+eth0%3Barping+-c+3+-I+eth0+10.201.0.1%3Bping+-c+8+10.201.0.1"
check "virsh start of a guest with a filtered rule succeeds" $VIRSH start vspt-arp
check "virsh start of a guest with a sampled rule succeeds" $VIRSH start vspt-smp
tarp=$(tap_of vspt-arp $ARPG)
tarp_in=$(tc filter show dev "$tarp" ingress 2>&1)
case $tarp_in in
*"pref 48896"*) bad "the filtered guest's tap $tarp has a match-all filter: $tarp_in" ;;
*"pref 48898 bpf"*) check "the filtered guest's tap $tarp holds a cls_bpf rule to $SINKF, no match-all filter" \
    test "$(mirred_to "$tarp" ingress)" = "$SINKF" ;;
*) bad "the filtered guest's tap $tarp has no cls_bpf rule: $tarp_in" ;;
esac
check "the filtered guest ran its traffic" wait_guest_done vspt-arp
check "the sampled guest ran its traffic" wait_guest_done vspt-smp
status_text_has() { "$BUILD/agent/vspanctl" status | grep -q "$1"; }
check "status shows the filtered rule's selection" status_text_has "$ARPG .*\[filter 'arp'\]"
cutoff=$(date +%s.%N)
sleep 1
kill "$dump_pid" "$capture_pid" "$capture2_pid"
wait "$dump_pid" "$capture_pid" "$capture2_pid" 2>/dev/null
dump_pid="" capture_pid="" capture2_pid=""
# one line per frame, sorted: the two directions may interleave differently
# in the two captures
frame_set() { frames "$1" "$2" | awk '/^[[:space:]]*0x/ { printf " %s", $2 $3 $4 $5 $6 $7 $8 $9; next } NR > 1 { print "" } { printf "%s", $0 } END { print "" }' | sort; }
arp_br=$(frame_set "$T/bridgef.pcap" "arp and ether host $ARPG")
arp_sink=$(frame_set "$T/sinkf.pcap" "arp and ether host $ARPG")
n_arp=$(nframes "$T/bridgef.pcap" "arp and ether host $ARPG")
n_other=$(nframes "$T/sinkf.pcap" "not arp and ether host $ARPG")
n_icmp_br=$(nframes "$T/bridgef.pcap" "icmp and ether host $ARPG")
log "filtered guest: $n_arp ARP frames on the bridge, $n_icmp_br ICMP; non-ARP copies at the sink: $n_other"
check "filter='arp': every ARP frame of the guest, both ways, reached the sink byte for byte ($n_arp)" \
    test "$arp_br" = "$arp_sink" -a "$n_arp" -ge 4
[ "$arp_br" = "$arp_sink" ] || { log "bridge:"; echo "$arp_br" | sed 's/^/#   /'; log "sink:"; echo "$arp_sink" | sed 's/^/#   /'; }
check "filter='arp': none of its $n_icmp_br ICMP frames (nor anything else) was copied" test "$n_other" = 0 -a "$n_icmp_br" -ge 10
n_smp_br=$(nframes "$T/bridgef.pcap" "ether host $SMPG")
n_smp=$(nframes "$T/sinks.pcap" "ether host $SMPG")
# every copy is one of the guest's frames (a sample, not a mix-up)
smp_sink_only=$(comm -13 <(frame_set "$T/bridgef.pcap" "ether host $SMPG" | sort -u) <(frame_set "$T/sinks.pcap" "ether host $SMPG" | sort -u) | grep -c . || true)
log "sampled guest: $n_smp of its $n_smp_br frames copied (1 in 2 expected; P(0 or all) = 2^-$n_smp_br each)"
check "sample='2': some but not all of the guest's $n_smp_br frames were copied ($n_smp)" \
    test "$n_smp" -gt 0 -a "$n_smp" -lt "$n_smp_br" -a "$n_smp_br" -ge 16
check "sample='2': every copy is a frame the guest really sent or received" test "$smp_sink_only" = 0
$VIRSH destroy vspt-arp >/dev/null 2>&1
$VIRSH destroy vspt-smp >/dev/null 2>&1
wait_for 10 "status to drop the filtered and sampled guests" status_lacks '"vspt-arp"\|"vspt-smp"'

# ---- valgrind: every vspand that was stopped -----------------------------------
if [ -n "${VSPAN_AGENT_VALGRIND:-}" ]; then
    kill "$vspand_pid"
    wait "$vspand_pid" 2>/dev/null
    vspand_pid=""
    nrep=0 nbad=0
    for f in "$T"/valgrind.*.log; do
        grep -q "ERROR SUMMARY:" "$f" || continue     # killed by SIGKILL
        nrep=$((nrep + 1))
        if grep -q "ERROR SUMMARY: 0 errors" "$f" && ! grep -q "definitely lost: [1-9]" "$f"; then :; else
            nbad=$((nbad + 1)); log "valgrind report $f:"; sed 's/^/# /' "$f" | tail -60
        fi
    done
    check "valgrind: $nrep vspand runs stopped by SIGTERM, every report clean (0 errors, no definite leak)" \
        test "$nrep" -ge 2 -a "$nbad" = 0
fi

finish

#!/bin/bash
# The migration tier (root): two libvirt hosts on one machine, a monitored
# guest live-migrated between them.
#   test-migrate.sh BUILD_DIR SOURCE_DIR
# Each host is a network and mount namespace of its own with its own
# /etc/libvirt (its hook), /run/libvirt, /var/lib/libvirt, /var/cache/libvirt
# and /var/log/libvirt (bind mounts of directories under $T), its own
# virtlogd, libvirtd (listening on TCP on the migration link, its own host
# UUID), vspand, config, bridge br-vspm and tap sink vspm-sink0.  A veth pair
# is the migration link (10.250.0.1 - 10.250.0.2).  The guest (kernel +
# initramfs, no disk, shared read-only) pings its bridge ten times a second:
# the ICMP sequence numbers copied to each host's sink show what was lost.
# Processes it starts are recorded (tests/tier-lib.sh), so a killed run's are
# ended by the next run; namespaces die with their processes.
set -u
BUILD=$1 SRC=$2
WEB=52:54:00:79:00:02
capture_pids="" T=""
. "$SRC/tests/tier-lib.sh"

if [ "$(id -u)" -ne 0 ]; then
    echo "1..0 # SKIP the migration tier needs root"
    exit 77
fi
tier_begin migrate "${VSPAN_TIER_BUDGET_S:-600}" "$0" "$@"
for b in virsh /usr/sbin/libvirtd /usr/sbin/virtlogd qemu-system-x86_64 tcpdump unshare nsenter; do
    command -v "$b" >/dev/null || { bad "$b is installed (tests/setup-deps installs it)"; finish; }
done

# on HOST (A or B): run a command in its namespaces
on() { local h=$1; shift; nsenter -t "$(cat "$T/$h.holder")" -m -n "$@"; }
# the same in the background, as one process: $! is the command's own PID
# (nsenter execs it), and it never holds the test's stdout (meson waits for
# that to close)
on_bg() { local h=$1; shift; (exec nsenter -t "$(cat "$T/$h.holder")" -m -n "$@") </dev/null >/dev/null 2>&1 & }
vsh() { local h=$1; shift; on "$h" timeout 120 virsh -q -c qemu:///system "$@"; }
ctl() { local h=$1; shift; VSPAN_SOCKET=$T/$h/vspand.sock on "$h" "$BUILD/agent/vspanctl" "$@"; }

cleanup() {
    set +e
    trap - TERM
    local h p
    for h in A B; do
        [ -s "$T/$h.holder" ] || continue
        for d in $(vsh "$h" list --all --name 2>/dev/null); do
            vsh "$h" destroy "$d" >/dev/null 2>&1
            vsh "$h" undefine "$d" >/dev/null 2>&1
        done
        for p in "$T/$h/vspand.pid" "$T/$h/run/libvirtd.pid" "$T/$h/run/virtlogd.pid"; do
            [ -s "$p" ] && kill "$(cat "$p")" 2>/dev/null
        done
    done
    for p in $capture_pids; do kill "$p" 2>/dev/null; done
    sleep 0.5
    for h in A B; do [ -s "$T/$h.holder" ] && kill "$(cat "$T/$h.holder")" 2>/dev/null; done
    tier_remove_links end vspm-a
    rm -rf "$T"
    tier_end
}
# what a killed run left: its processes (recorded), its link (if it was not
# moved yet), its directories
tier_reap
tier_remove_links start vspm-a
for d in /tmp/vspan-migrate.*; do [ -d "$d" ] && rm -rf "$d"; done
T=$(mktemp -d /tmp/vspan-migrate.XXXXXX)
chmod 0755 "$T"
trap cleanup EXIT
GUEST=$("$SRC/tests/guest/build-guest") || { bad "the guest image builds"; finish; }

# ---- two hosts ------------------------------------------------------------------
section "two libvirt hosts in namespaces, joined by a veth pair"
host_up() {   # NAME IP
    local h=$1 ip=$2 d=$T/$1 m
    mkdir -p "$d"/{etc,run,lib/qemu,cache/qemu,log/qemu}
    # the host's settings files only: none of its domains, networks or hooks
    cp /etc/libvirt/*.conf "$d/etc/"
    mkdir -p "$d/etc/hooks/qemu.d"
    # TCP without auth on the migration link only; a host UUID of its own
    # (libvirt refuses to migrate to "the same host"); no cgroups (both
    # libvirtds would name the guest's cgroup alike) and no security driver
    printf 'listen_tls = 0\nlisten_tcp = 1\nauth_tcp = "none"\nlisten_addr = "%s"\nhost_uuid = "%s"\n' \
        "$ip" "$(cat /proc/sys/kernel/random/uuid)" >"$d/etc/libvirtd.conf"
    printf 'cgroup_controllers = [ ]\nsecurity_driver = "none"\nmigration_address = "%s"\nmigration_host = "%s"\n' \
        "$ip" "$ip" >"$d/etc/qemu.conf"
    chown libvirt-qemu:kvm "$d/lib/qemu" 2>/dev/null
    # the hook: this host's vspand and config
    printf '#!/bin/sh\nVSPAN_SOCKET=%s VSPAN_CONFIG=%s exec %s "$@"\n' "$d/vspand.sock" "$d/vspan.xml" \
        "$BUILD/hooks/vspan-hook" >"$d/etc/hooks/qemu.d/vspan"
    chmod 0755 "$d/etc/hooks/qemu.d/vspan"
    printf '%s\n' '<vspan>' \
        '  <appliance name="ids-m" domain="vspm-ids"><sink type="tap" dev="vspm-sink0"/></appliance>' \
        '  <hook on-agent-unavailable="refuse"/>' '</vspan>' >"$d/vspan.xml"
    cp "$d/vspan.xml" "$d/vspan.good.xml"
    on "$h" sh -c "
        mount --bind '$d/etc' /etc/libvirt && mount --bind '$d/run' /run/libvirt &&
        mount --bind '$d/lib' /var/lib/libvirt && mount --bind '$d/cache' /var/cache/libvirt &&
        mount --bind '$d/log' /var/log/libvirt &&
        ip link set lo up && ip link add br-vspm type bridge && ip addr add 10.251.0.1/24 dev br-vspm &&
        ip link set br-vspm up" || return 1
    # (daemons and background readers never hold the test's stdout: meson
    # waits for it to close)
    on "$h" /usr/sbin/virtlogd -d -p /run/libvirt/virtlogd.pid </dev/null >/dev/null 2>&1 || return 1
    wait_for 10 "$h's virtlogd to write its pid" test -s "$d/run/virtlogd.pid" || return 1
    tier_record kill "$(cat "$d/run/virtlogd.pid")"
    VSPAN_BPF_DIR=$BUILD/bpf on_bg "$h" sh -c 'exec "$@" >>"$0" 2>&1' "$d/vspand.log" "$BUILD/agent/vspand" \
        --config "$d/vspan.xml" --state-dir "$d/state" --socket "$d/vspand.sock" --pidfile "$d/vspand.pid"
    wait_for 10 "$h's vspand to write its pid" test -s "$d/vspand.pid" || return 1
    tier_record kill "$(cat "$d/vspand.pid")"
    on "$h" /usr/sbin/libvirtd -d -l -p /run/libvirt/libvirtd.pid </dev/null >/dev/null 2>&1 || return 1
    wait_for 10 "$h's libvirtd to write its pid" test -s "$d/run/libvirtd.pid" || return 1
    tier_record kill "$(cat "$d/run/libvirtd.pid")"
    wait_for 30 "$h's libvirtd to answer" vsh "$h" uri >/dev/null 2>&1 || return 1
    wait_for 10 "$h's vspand to answer" ctl "$h" status >/dev/null 2>&1
}
for h in A B; do
    unshare --mount --net --propagation private sleep infinity </dev/null >/dev/null 2>&1 &
    echo $! >"$T/$h.holder"
    tier_record kill "$!"
done
sleep 0.2
ip link add vspm-a type veth peer name vspm-b
ip link set vspm-a netns "/proc/$(cat "$T/A.holder")/ns/net"
ip link set vspm-b netns "/proc/$(cat "$T/B.holder")/ns/net"
on A sh -c 'ip addr add 10.250.0.1/24 dev vspm-a && ip link set vspm-a up'
on B sh -c 'ip addr add 10.250.0.2/24 dev vspm-b && ip link set vspm-b up'
check "host A is up: its own libvirtd, virtlogd, vspand" host_up A 10.250.0.1
check "host B is up: its own libvirtd, virtlogd, vspand" host_up B 10.250.0.2
check "A's libvirt reaches B's over the migration link" sh -c "test \"\$(nsenter -t $(cat "$T/A.holder") -m -n virsh -q -c qemu+tcp://10.250.0.2/system uri 2>&1)\" = qemu+tcp://10.250.0.2/system"

capture() {   # HOST: the sink's copies into $T/HOST.pcap, read as an appliance would
    on_bg "$1" "$BUILD/tests/tap-capture" vspm-sink0 "$T/$1.pcap"
    capture_pids+=" $!"
    tier_record kill "$!"
}
capture A
capture B
on_bg B tcpdump -i br-vspm -U -w "$T/B-bridge.pcap" "icmp and ether src $WEB"
capture_pids+=" $!"
tier_record kill "$!"
# echo request sequence numbers (from the guest) copied to HOST's sink
seqs() { tcpdump -r "$T/$1.pcap" -nn "icmp[icmptype] = icmp-echo and ether src $WEB" 2>/dev/null | sed -n 's/.*, seq \([0-9]*\),.*/\1/p'; }
last_seq() { seqs "$1" | tail -1; }
seq_after() { seqs "$1" | awk -v n="$2" '$1 > n {print; exit}'; }
filters() { on "$1" sh -c "tc filter show dev $2 ingress; tc filter show dev $2 egress" 2>/dev/null; }
tap_on() { vsh "$1" domiflist vspm-web 2>/dev/null | awk -v m="$WEB" '$5 == m {print $1}'; }
# QEMU outlives a killed libvirtd: record the guest's, for the next run's reaper
record_qemu() { [ -s "$T/$1/run/qemu/vspm-web.pid" ] && tier_record kill "$(cat "$T/$1/run/qemu/vspm-web.pid")"; }

# ---- the guest on A --------------------------------------------------------------
section "a monitored guest on A, pinging its bridge ten times a second"
run="ip+link+set+eth0+up%3Bip+addr+add+10.251.0.2/24+dev+eth0%3Bping+-i+0.1+-c+100000+10.251.0.1"
printf '%s\n' "<domain type='qemu'><name>vspm-web</name>" \
    "<metadata><vspan:domain xmlns:vspan='urn:vspan:domain:1'><vspan:mirror appliance='ids-m'/></vspan:domain></metadata>" \
    "<memory unit='MiB'>128</memory><vcpu>1</vcpu><features><acpi/></features>" \
    "<os><type arch='x86_64' machine='pc'>hvm</type><kernel>$GUEST/vmlinuz</kernel><initrd>$GUEST/initrd.img</initrd>" \
    "<cmdline>console=ttyS0 ipv6.disable=1 no_timer_check vspan.run=$run</cmdline></os>" \
    "<devices><interface type='bridge'><mac address='$WEB'/><source bridge='br-vspm'/><model type='virtio'/><rom enabled='no'/></interface>" \
    "<serial type='pty'/><console type='pty'/></devices></domain>" >"$T/web.xml"
vsh A define "$T/web.xml" >/dev/null
check "the monitored guest starts on A" vsh A start vspm-web
record_qemu A
copied_on_a() { [ "$(seqs A | wc -l)" -ge 20 ]; }
wait_for 120 "the guest's pings to be copied to A's sink" copied_on_a
check "A's sink receives copies of the guest's pings ($(seqs A | wc -l) so far)" test "$(seqs A | wc -l)" -ge 20

# ---- A -> B, live -----------------------------------------------------------------
section "live migration A -> B"
tap_a=$(tap_on A)
t0=$(_ms)
out=$(vsh A migrate --live vspm-web qemu+tcp://10.250.0.2/system 2>&1)
rc=$?
ms=$(( $(_ms) - t0 ))
check "virsh migrate --live A -> B succeeds in $ms ms${out:+: $out}" test "$rc" = 0
check "the guest runs on B" sh -c "test \"\$(nsenter -t $(cat "$T/B.holder") -m -n virsh -q -c qemu:///system domstate vspm-web)\" = running"
record_qemu B
tap_b=$(tap_on B)
check "B mirrored the incoming guest's tap $tap_b to its sink" sh -c "echo \"\$1\" | grep -q 'Mirror to device vspm-sink0'" _ "$(filters B "$tap_b")"
check "B installed the mirrors in the incoming domain's start hook (before its CPUs ran there)" \
    grep -q "domain 'vspm-web' (start): mirror-set dev=$tap_b hook=ingress" "$T/B/vspand.log"
sleep 2
la=$(last_seq A); fb=$(seq_after B 0); fb=${fb:--1}
lost=$((fb - la - 1))
log "A -> B: the last ping copied on A was seq $la, the first on B seq $fb: $lost lost in $ms ms of migration"
check "the guest's first ping on B is at B's sink, byte for byte as on B's bridge" \
    test "$(tcpdump -r "$T/B-bridge.pcap" -xx -c 1 "icmp[icmptype] = icmp-echo" 2>/dev/null | sed 1d)" = \
         "$(tcpdump -r "$T/B.pcap" -xx -c 1 "icmp[icmptype] = icmp-echo and ether src $WEB" 2>/dev/null | sed 1d)"
# ten pings a second: what the migration's own pause (its downtime) can
# cost, never more than the whole migration took
check "the stream has no gap beyond the migration's pause ($lost pings lost; at most $((ms / 100)) could be)" \
    test "$lost" -ge 0 -a "$lost" -le $((ms / 100))
check "every ping from the first on B is copied there, in order" \
    sh -c "seqs() { tcpdump -r '$T/B.pcap' -nn 'icmp[icmptype] = icmp-echo and ether src $WEB' 2>/dev/null | sed -n 's/.*, seq \([0-9]*\),.*/\1/p'; }; seqs | awk 'NR > 1 && \$1 != p + 1 {exit 1} {p = \$1}'"
check "on A, no mirror of the guest is left in vspand" sh -c "! nsenter -t $(cat "$T/A.holder") -m -n env VSPAN_SOCKET=$T/A/vspand.sock $BUILD/agent/vspanctl status --json | grep -q '$WEB'"
check "on A, the state file holds no domain" sh -c "! grep -q '^\[domain ' '$T/A/state/state.ini'"
check "on A, the tap $tap_a is gone with its filters" sh -c "! nsenter -t $(cat "$T/A.holder") -n ip link show '$tap_a' >/dev/null 2>&1"

# ---- a refused migration: B -> A where A has no such appliance --------------------
section "a migration the destination refuses"
sed -i 's/ids-m/ids-other/' "$T/A/vspan.xml"
kill -HUP "$(cat "$T/A/vspand.pid")"
wait_for 10 "A's vspand to take the new config" sh -c "nsenter -t $(cat "$T/A.holder") -m -n env VSPAN_SOCKET=$T/A/vspand.sock $BUILD/agent/vspanctl status | grep -q ids-other"
before=$(filters B "$tap_b")
out=$(vsh B migrate --live vspm-web qemu+tcp://10.250.0.1/system 2>&1)
rc=$?
check "virsh migrate to a host without the guest's appliance fails" test "$rc" -ne 0
case $out in
*"/etc/libvirt/hooks/qemu.d/vspan vspm-web prepare begin -) unexpected exit status 1: vspan: domain 'vspm-web' line "[0-9]*": <vspan:mirror appliance=\"ids-m\">: no appliance named 'ids-m' in $T/A/vspan.xml (known: ids-other); fix the name or ask the host admin to define it")
    ok "virsh's error ends with the destination's refusal in one line, from its prepare hook (before QEMU starts there)" ;;
*) bad "virsh's error ends with the destination's refusal: $out" ;;
esac
check "the guest keeps running on B" sh -c "test \"\$(nsenter -t $(cat "$T/B.holder") -m -n virsh -q -c qemu:///system domstate vspm-web)\" = running"
check "its mirrors on B are unchanged" test "$(filters B "$tap_b")" = "$before"
n0=$(seqs B | wc -l); sleep 2; n1=$(seqs B | wc -l)
check "its copies keep reaching B's sink ($((n1 - n0)) in 2 s)" test $((n1 - n0)) -ge 10
check "A started nothing: no guest, no mirror, no state" sh -c "
    ! nsenter -t $(cat "$T/A.holder") -m -n virsh -q -c qemu:///system list --name | grep -q vspm-web &&
    ! grep -q '^\[domain ' '$T/A/state/state.ini'"

# ---- B -> A again, persistent ------------------------------------------------------
section "live migration back B -> A (--persistent --undefinesource)"
cp "$T/A/vspan.good.xml" "$T/A/vspan.xml"
kill -HUP "$(cat "$T/A/vspand.pid")"
wait_for 10 "A's vspand to take its config back" sh -c "nsenter -t $(cat "$T/A.holder") -m -n env VSPAN_SOCKET=$T/A/vspand.sock $BUILD/agent/vspanctl status | grep -q 'appliance ids-m'"
t0=$(_ms)
out=$(vsh B migrate --live --persistent --undefinesource vspm-web qemu+tcp://10.250.0.1/system 2>&1)
rc=$?
ms=$(( $(_ms) - t0 ))
check "virsh migrate --live B -> A succeeds in $ms ms${out:+: $out}" test "$rc" = 0
sleep 2
record_qemu A
lb=$(last_seq B); fa=$(seq_after A "$lb"); fa=${fa:--1}
lost=$((fa - lb - 1))
log "B -> A: the last ping copied on B was seq $lb, the first on A seq $fa: $lost lost in $ms ms of migration"
check "back on A, the stream has no gap beyond the migration's pause ($lost lost; at most $((ms / 100)) could be)" \
    test "$lost" -ge 0 -a "$lost" -le $((ms / 100))
check "on B, no mirror, state or definition of the guest is left" sh -c "
    ! nsenter -t $(cat "$T/B.holder") -m -n env VSPAN_SOCKET=$T/B/vspand.sock $BUILD/agent/vspanctl status --json | grep -q '$WEB' &&
    ! grep -q '^\[domain ' '$T/B/state/state.ini' &&
    ! nsenter -t $(cat "$T/B.holder") -m -n virsh -q -c qemu:///system list --all --name | grep -q vspm-web"

# ---- offline: the annotation travels with the XML ----------------------------------
section "offline migration A -> B: the annotation travels with the definition"
vsh A destroy vspm-web >/dev/null
out=$(vsh A migrate --offline --persistent --undefinesource vspm-web qemu+tcp://10.250.0.2/system 2>&1)
rc=$?
check "virsh migrate --offline --persistent A -> B succeeds${out:+: $out}" test "$rc" = 0
check "B's definition carries the vspan annotation" \
    sh -c "nsenter -t $(cat "$T/B.holder") -m -n virsh -q -c qemu:///system dumpxml --inactive vspm-web | grep -q '<vspan:mirror appliance=.ids-m./>'"
check "started on B, the guest is mirrored there from its first frame" vsh B start vspm-web
record_qemu B
tap_b=$(tap_on B)
check "B mirrors its new tap $tap_b" sh -c "echo \"\$1\" | grep -q 'Mirror to device vspm-sink0'" _ "$(filters B "$tap_b")"
finish

#!/bin/bash
# The package tier (root): vspan as an admin installs it.
#   test-package.sh BUILD_DIR SOURCE_DIR
#   test-package.sh --reap BUILD_DIR SOURCE_DIR   (only undo a killed run)
# Builds the Debian package from this tree twice (the second with a bumped
# version), in a network namespace of its own (no build-time network),
# checks both with lintian, installs the first with apt-get, and runs the
# libvirt tier's core checks against the installed paths: vspand started as
# its installed unit starts it (ExecStart=, under the unit's capability
# bounding set, NoNewPrivileges and system call sandbox: tests/unit-sandbox.py;
# no systemd runs here), the installed hook and /etc/vspan/vspan.xml, a
# monitored start whose first frame is at the sink, a refused start.  Then
# an upgrade under a running mirrored guest (mirrors, state and the admin's
# config survive, the copies keep flowing), and a purge (no file of the
# package left, no vspand running, the guest's mirror and traffic
# untouched).  Everything it makes is removed at the end; a killed run's
# leftovers (the installed package among them) at the next run's start.
set -u
REAP_ONLY=""
[ "${1:-}" = --reap ] && { REAP_ONLY=1; shift; }
BUILD=$1 SRC=$2
BR=br-vspp
SINK=vspp-sink0
PEER=vspp-peer
WEB=52:54:00:78:00:02
UNIT=/lib/systemd/system/vspand.service
# the installed paths only: nothing of a developer's environment
unset VSPAN_SOCKET VSPAN_CONFIG VSPAN_BPF_DIR VSPAN_BPF_PINDIR VSPAN_SYSFS_ROOT
export DEBIAN_FRONTEND=noninteractive
vspand_pid="" capture_pid="" dump_pid="" T=""

if [ "$(id -u)" -ne 0 ]; then
    echo "1..0 # SKIP the package tier needs root (it installs vspan with apt-get)"
    exit 77
fi
. "$SRC/tests/tier-lib.sh"
[ -n "$REAP_ONLY" ] || tier_begin package "${VSPAN_TIER_BUDGET_S:-600}" "$0" "$@"
tier_dir=/run/vspan-tests
tier_record_file=$tier_dir/package.pids
marker=$tier_dir/package.installed
mkdir -p "$tier_dir"

installed() { dpkg-query -W -f='${Status}' vspan 2>/dev/null | grep -q 'install ok installed'; }

remove_made() {
    local d
    tier_remove_domains "$1" vspp-
    if [ -e "$marker" ]; then
        if installed || dpkg-query -W -f='${Status}' vspan 2>/dev/null | grep -q 'config-files'; then
            [ "$1" = start ] && log "an earlier run left the vspan package installed: purging it"
            apt-get purge -y -q vspan >/dev/null 2>&1
        fi
        rm -f "$marker"
    fi
    tier_remove_links "$1" "$BR" "$SINK" vspp-hostveth
    tier_remove_netns "$1" "$PEER"
    if [ "$1" = start ]; then
        for d in /tmp/vspan-package.*; do [ "$d" = "$T" ] || rm -rf "$d"; done
    fi
    return 0
}

cleanup() {
    set +e
    trap - TERM
    [ -n "$capture_pid" ] && kill "$capture_pid" 2>/dev/null
    [ -n "$dump_pid" ] && kill "$dump_pid" 2>/dev/null
    [ -n "$vspand_pid" ] && kill "$vspand_pid" 2>/dev/null && sleep 0.2
    remove_made end
    libvirt_end    # libvirtd forgets the package's hook
    [ -n "$T" ] && rm -rf "$T"
    tier_end
}

tier_reap
started_libvirtd=$reaped_libvirtd started_virtlogd=$reaped_virtlogd
if [ -n "$REAP_ONLY" ]; then
    trap cleanup EXIT
    [ "$started_libvirtd" = 1 ] && wait_libvirt
    log "reaped what an earlier package tier run left"
    exit 0
fi
# Someone else's vspan on this host is not the tier's to replace.
if [ ! -e "$marker" ] && installed; then
    echo "1..0 # SKIP vspan is installed on this host as a package (dpkg -s vspan): this tier would upgrade and purge it"
    exit 77
fi
if [ ! -e "$marker" ] && [ -e /usr/sbin/vspand ]; then
    echo "1..0 # SKIP /usr/sbin/vspand exists (a meson install?): this tier's package would overwrite and purge it"
    exit 77
fi
T=$(mktemp -d /tmp/vspan-package.XXXXXX)
trap cleanup EXIT
remove_made start
for b in dpkg-buildpackage dh lintian apt-get virsh /usr/sbin/libvirtd systemd-analyze tcpdump unshare; do
    command -v "$b" >/dev/null || { bad "$b is installed (tests/setup-deps installs it)"; finish; }
done

# ---- build, twice, without network -----------------------------------------
section "build the package from this tree, in a network namespace of its own"
mkdir "$T/src"
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$SRC" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -C "$T/src" -xf -
else
    tar -C "$SRC" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$T/src" -xf -
fi
v1=$(cd "$T/src" && dpkg-parsechangelog -S Version)
v2=$v1+upgrade1
build_deb() {   # LOG [DEB_BUILD_OPTIONS]
    # lo up, as on a build daemon: the golden plans compile their filters
    # on a live pcap handle on lo
    (cd "$T/src" && DEB_BUILD_OPTIONS=${2:-} unshare --net sh -c 'ip link set lo up && exec dpkg-buildpackage -b -us -uc') \
        >"$T/$1" 2>&1
}
t=$SECONDS
build_deb build1.log
rc=$?
check "dpkg-buildpackage -b -us -uc builds vspan $v1 with no network, its unit tests included (rc $rc, $((SECONDS - t)) s)" test "$rc" = 0
[ "$rc" = 0 ] || { tail -30 "$T/build1.log" | sed 's/^/# /'; finish; }
check "it builds vspan_${v1}_amd64.deb and a -dbgsym" \
    test -s "$T/vspan_${v1}_amd64.deb" -a -s "$T/vspan-dbgsym_${v1}_amd64.deb"
check "the build ran the unit suite, nothing skipped" sh -c "grep -q '^Ok: *[1-9]' '$T/build1.log' && grep -q '^Skipped: *0' '$T/build1.log' && ! grep -q '# SKIP' '$T/src/obj-'*/meson-logs/testlog.txt"
{
    printf 'vspan (%s) unstable; urgency=medium\n\n  * Rebuilt by the package tier to test an upgrade.\n\n' "$v2"
    printf ' -- vspan package tier <root@localhost>  %s\n\n' "$(date -R)"
    cat "$T/src/debian/changelog"
} >"$T/changelog" && mv "$T/changelog" "$T/src/debian/changelog"
t=$SECONDS
build_deb build2.log nocheck
rc=$?
check "the same tree with a bumped version ($v2) builds again ($((SECONDS - t)) s)" test "$rc" = 0 -a -s "$T/vspan_${v2}_amd64.deb"

section "lintian"
lint=$(lintian "$T/vspan_${v1}_amd64.changes" 2>&1)
log "lintian: ${lint:-no tags}"
check "lintian on the .changes and its .debs: no error, no warning" sh -c "! printf '%s\n' \"\$1\" | grep -q '^[EW]: '" _ "$lint"

# ---- install ---------------------------------------------------------------
section "apt-get install ./vspan_${v1}_amd64.deb"
touch "$marker"
# (apt runs dpkg on a pty: its lines end in CR LF)
out=$(cd "$T" && apt-get install -y -q "./vspan_${v1}_amd64.deb" 2>&1 | tr -d "\r"; exit "${PIPESTATUS[0]}")
rc=$?
check "apt-get installs the package (rc $rc)" test "$rc" = 0
[ "$rc" = 0 ] || { printf '%s\n' "$out" | tail -20 | sed 's/^/# /'; finish; }
check "postinst tells the admin in one line to restart libvirtd once" sh -c "printf '%s\n' \"\$1\" | grep -qx \"vspan: restart libvirtd once (systemctl restart libvirtd; running VMs keep running) so that it runs vspan's qemu hook\"" _ "$out"
for f in /usr/sbin/vspand /usr/bin/vspanctl /usr/libexec/vspan/vspan-hook /usr/libexec/vspan/vspan-hook-fallback.so \
         "$UNIT" /usr/lib/vspan/bpf/sink-shape.bpf.o /usr/lib/vspan/bpf/copy-tag.bpf.o \
         /usr/share/man/man8/vspand.8.gz /usr/share/man/man5/vspan.xml.5.gz /usr/share/man/man1/vspanctl.1.gz \
         /usr/share/bash-completion/completions/vspanctl /usr/share/vspan/schemas/vspan-config.rng; do
    check "installed: $f" test -s "$f"
done
check "the qemu hook is linked into libvirt's qemu.d" \
    test "$(readlink /etc/libvirt/hooks/qemu.d/vspan)" = /usr/libexec/vspan/vspan-hook
check "/etc/vspan/vspan.xml is a conffile" sh -c "dpkg-query -W -f='\${Conffiles}' vspan | grep -q '^ /etc/vspan/vspan.xml '"
check "the shipped config is valid and defines nothing" \
    test "$(vspanctl check-config /etc/vspan/vspan.xml 2>&1)" = "/etc/vspan/vspan.xml: valid: 0 appliances, 0 bridge policies, 0 pools"
check "/var/lib/vspan exists, 0700" test "$(stat -c %a /var/lib/vspan 2>/dev/null)" = 700
check "the unit is enabled (deb-systemd-helper)" test -L /etc/systemd/system/multi-user.target.wants/vspand.service
verify=$(systemd-analyze verify "$UNIT" 2>&1)
check "systemd-analyze verify accepts the installed unit${verify:+: $verify}" test -z "$verify"
score=$(systemd-analyze security --offline=yes "$UNIT" 2>&1 | sed -n 's/.*Overall exposure level for vspand.service: \([0-9.]*\).*/\1/p')
log "systemd-analyze security --offline=yes: exposure $score"
check "the unit's exposure is at most 2.5 (got ${score:-none})" python3 -c 'import sys; sys.exit(not float(sys.argv[1] or 99) <= 2.5)' "${score:-}"
check "vspand --version is the package's" test "$(/usr/sbin/vspand --version)" = "vspand ${v1%%+*}"

# ---- libvirt, as an admin has it -----------------------------------------------
section "libvirt, the installed hook, vspand as its unit starts it"
GUEST=$("$SRC/tests/guest/build-guest") || { bad "the guest image builds"; finish; }
# a libvirtd already up gets SIGHUP: what postinst asks the admin to do
libvirt_begin || { bad "libvirtd starts"; finish; }
# the admin's config (a changed conffile: an upgrade must keep it)
cat >/etc/vspan/vspan.xml <<EOF
<vspan>
  <appliance name="ids-p" domain="vspp-ids"><sink type="tap" dev="$SINK"/></appliance>
  <hook on-agent-unavailable="refuse"/>
</vspan>
EOF
cp /etc/vspan/vspan.xml "$T/admin.xml"
ip link add "$BR" type bridge && ip link set "$BR" multicast off up
sysctl -qw "net.ipv6.conf.$BR.disable_ipv6=1"
ip netns add "$PEER"
ip link add vspp-hostveth type veth peer name eth0 netns "$PEER"
ip link set vspp-hostveth master "$BR" up
ip netns exec "$PEER" sh -c 'sysctl -qw net.ipv6.conf.all.disable_ipv6=1; ip link set lo up; ip addr add 10.202.0.1/24 dev eth0; ip link set eth0 up'

# systemd would create RuntimeDirectory=; ExecStart= is the unit's own line
exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT" | tr ' ' '\n' | sed 's/^CAP_/+/' | tr 'A-Z' 'a-z' | paste -sd, -)
start_vspand() {
    mkdir -p -m 0755 /run/vspan
    # shellcheck disable=SC2086  # ExecStart= is split as systemd splits it
    setpriv --bounding-set "-all,$caps" --inh-caps -all --no-new-privs \
        python3 "$SRC/tests/unit-sandbox.py" "$UNIT" $exec_start --pidfile /run/vspan/vspand.pid >>"$T/vspand.log" 2>&1 &
    vspand_pid=$!
    tier_record kill "$vspand_pid"
    wait_for 30 "vspand (pid $vspand_pid) to answer vspanctl status" vspanctl status >/dev/null 2>&1
}
check "vspand starts from the unit's ExecStart ($exec_start) in the unit's sandbox" start_vspand
check "vspand made the tap sink $SINK" test -e "/sys/class/net/$SINK"

domain() {   # NAME MAC ANNOTATION RUN
    local meta=""
    [ -n "$3" ] && meta="<metadata><vspan:domain xmlns:vspan='urn:vspan:domain:1'>$3</vspan:domain></metadata>"
    printf '%s\n' "<domain type='qemu'><name>$1</name>$meta<memory unit='MiB'>128</memory><vcpu>1</vcpu>" \
        "<features><acpi/></features><os><type arch='x86_64' machine='pc'>hvm</type>" \
        "<kernel>$GUEST/vmlinuz</kernel><initrd>$GUEST/initrd.img</initrd>" \
        "<cmdline>console=ttyS0 ipv6.disable=1 no_timer_check vspan.run=$4</cmdline></os><devices>" \
        "<interface type='bridge'><mac address='$2'/><source bridge='$BR'/><model type='virtio'/><rom enabled='no'/></interface>" \
        "<serial type='file'><source path='$T/$1.log'/><target port='0'/></serial></devices></domain>" >"$T/$1.xml"
    $VIRSH define "$T/$1.xml" >/dev/null
}
tap_of() { $VIRSH domiflist "$1" | awk -v m="$2" '$5 == m {print $1}'; }
filters() { tc filter show dev "$1" ingress; tc filter show dev "$1" egress; }
# frames as hex, no timestamps
hexframes() { tcpdump -r "$1" -xx "$2" 2>/dev/null | sed 's/^[0-9:.]* //'; }
first_frame() { hexframes "$1" "$2" | awk 'NR > 1 && !/^[[:space:]]*0x/ {exit} {print}'; }
# copies of ICMP echo requests of IP length LEN from the guest, counted at
# the sink over SECS seconds while a reader holds it, as the appliance would
# (a tap nobody reads has no carrier: the kernel drops what is sent to it)
copies_for() {
    local p
    "$BUILD/tests/tap-capture" "$SINK" "$T/window.pcap" 2>/dev/null &
    p=$!
    sleep "$2"
    kill "$p"; wait "$p" 2>/dev/null
    tcpdump -r "$T/window.pcap" "icmp[icmptype] = icmp-echo and ip[2:2] = $1 and ether src $WEB" 2>/dev/null | wc -l
}

section "a monitored start: the first frame at the sink"
"$BUILD/tests/tap-capture" "$SINK" "$T/sink.pcap" 2>"$T/capture.err" &
capture_pid=$!
tier_record kill "$capture_pid"
tcpdump -i "$BR" -U -w "$T/bridge.pcap" "ether src $WEB" >/dev/null 2>&1 &
dump_pid=$!
tier_record kill "$dump_pid"
sleep 1
# 5 pings of 84 bytes, then a stream of 228-byte pings for the upgrade
run="ip+link+set+eth0+up%3Bip+addr+add+10.202.0.2/24+dev+eth0%3Bping+-c+5+10.202.0.1%3Bping+-s+200+-i+0.2+-c+5000+10.202.0.1"
domain vspp-web "$WEB" "<vspan:mirror appliance='ids-p'/>" "$run"
check "virsh start of a monitored domain succeeds through the installed hook" $VIRSH start vspp-web
wait_for 120 "guest vspp-web to finish its first 5 pings" grep -q "5 packets received" "$T/vspp-web.log"
check "the guest's first pings were answered" grep -q "5 packets received" "$T/vspp-web.log"
sleep 1
kill "$dump_pid" "$capture_pid"; wait "$dump_pid" "$capture_pid" 2>/dev/null; dump_pid="" capture_pid=""
fbr=$(first_frame "$T/bridge.pcap" "ether src $WEB")
fsink=$(first_frame "$T/sink.pcap" "ether src $WEB")
log "the guest's first frame on the bridge: $(printf '%s' "$fbr" | head -1)"
check "the guest's first frame is the sink's first copy from it, byte for byte" test -n "$fbr" -a "$fbr" = "$fsink"
check "its 5 first echo requests were copied" \
    test "$(tcpdump -r "$T/sink.pcap" "icmp[icmptype] = icmp-echo and ip[2:2] = 84 and ether src $WEB" 2>/dev/null | wc -l)" = 5
web_tap=$(tap_of vspp-web "$WEB")
check "vspanctl status shows the mirror of $web_tap to ids-p" \
    sh -c "vspanctl status --json | grep -q '\"tap\":\"$web_tap\",\"appliance\":\"ids-p\"'"

section "a refused start"
domain vspp-bad 52:54:00:78:00:04 "<vspan:mirror appliance='nope'/>" "true"
err=$($VIRSH start vspp-bad 2>&1)
rc=$?
check "virsh start of a domain naming an unknown appliance fails" test "$rc" -ne 0
case $err in
*"vspan: domain 'vspp-bad' line "[0-9]*": <vspan:mirror appliance=\"nope\">: no appliance named 'nope' in /etc/vspan/vspan.xml (known: ids-p); fix the name or ask the host admin to define it") ok "virsh's error ends with vspan's one line, naming the installed config" ;;
*) bad "virsh's error ends with vspan's one line: $err" ;;
esac
$VIRSH undefine vspp-bad >/dev/null 2>&1

# ---- upgrade under a running, mirrored guest ----------------------------------
section "upgrade to $v2 while vspp-web runs"
before=$(filters "$web_tap")
cp /var/lib/vspan/state.ini "$T/state.before"
check "the state file records vspp-web" grep -q "^\[domain " "$T/state.before"
old_pid=$vspand_pid
out=$(cd "$T" && apt-get install -y -q "./vspan_${v2}_amd64.deb" 2>&1 | tr -d "\r"; exit "${PIPESTATUS[0]}")
rc=$?
check "apt-get upgrades to $v2 (rc $rc)" test "$rc" = 0 -a "$(dpkg-query -W -f='${Version}' vspan)" = "$v2"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -20 | sed 's/^/# /'
wait "$old_pid" 2>/dev/null
check "prerm stopped the old vspand (pid $old_pid) by its pid file" sh -c "! kill -0 $old_pid 2>/dev/null"
vspand_pid=""
check "an upgrade does not repeat the restart-libvirtd line" sh -c "! printf '%s\n' \"\$1\" | grep -q 'restart libvirtd once'" _ "$out"
check "the admin's config survived the upgrade" cmp -s /etc/vspan/vspan.xml "$T/admin.xml"
check "the state file survived the upgrade, unchanged" cmp -s /var/lib/vspan/state.ini "$T/state.before"
check "the mirrors of $web_tap survived the upgrade, unchanged" test "$(filters "$web_tap")" = "$before"
n=$(copies_for 228 3)
check "copies of the guest's stream reach the sink with no vspand running ($n in 3 s)" test "$n" -ge 5
check "the new vspand starts from the upgraded unit" start_vspand
check "the new vspand took the running guest's mirror over without rewriting it" test "$(filters "$web_tap")" = "$before"
check "vspanctl status still shows the mirror" \
    sh -c "vspanctl status --json | grep -q '\"tap\":\"$web_tap\",\"appliance\":\"ids-p\"'"

# ---- purge -----------------------------------------------------------------------
section "apt-get purge vspan"
dpkg -L vspan | while read -r f; do [ -d "$f" ] || echo "$f"; done >"$T/files"
check "the package lists its files ($(wc -l <"$T/files"))" test "$(wc -l <"$T/files")" -ge 20
before=$(filters "$web_tap")
pid=$vspand_pid
out=$(apt-get purge -y -q vspan 2>&1)
rc=$?
check "apt-get purge vspan succeeds (rc $rc)" test "$rc" = 0
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -20 | sed 's/^/# /'
wait "$pid" 2>/dev/null
vspand_pid=""
check "no vspand runs after the purge" sh -c "! kill -0 $pid 2>/dev/null && ! ls -l /proc/[0-9]*/exe 2>/dev/null | grep -q ' /usr/sbin/vspand'"
left=$(while read -r f; do [ -e "$f" ] || [ -L "$f" ] && echo "$f"; done <"$T/files")
check "no file of the package is left${left:+: $left}" test -z "$left"
check "state, config and runtime directories are gone" test ! -e /var/lib/vspan -a ! -e /etc/vspan -a ! -e /run/vspan
check "dpkg knows no vspan" sh -c "! dpkg-query -W -f='\${Status}' vspan 2>/dev/null | grep -q ."
rm -f "$marker"
check "the running guest's tap and its mirrors are untouched" test "$(filters "$web_tap")" = "$before"
n=$(copies_for 228 3)
check "its copies still reach the sink ($n in 3 s)" test "$n" -ge 5
n=$(ip netns exec "$PEER" timeout 3 tcpdump -i eth0 -nn "icmp[icmptype] = icmp-echoreply and ether dst $WEB" 2>/dev/null | wc -l)
check "and its traffic flows: the peer answers its pings ($n in 3 s)" test "$n" -ge 5
finish

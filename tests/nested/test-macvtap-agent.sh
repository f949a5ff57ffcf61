#!/bin/sh
# Runs inside the nested VM (busybox sh; Debian's kernel has macvtap): the
# real vspand and vspan-hook in /opt/vspan with a domain whose NIC is a
# macvtap (<interface type='direct'>).  The start hook puts the from-vm
# rule on the macvtap device's egress and the to-vm rule on its ingress; a
# filter deleted behind vspan's back is restored by vspand's netlink watch,
# as on a tap.  iproute2 (/sbin) is the witness.
set -u
B=/opt/vspan
. $B/tap-lib.sh
T=/tmp/macvtap-agent
mkdir -p $T
export HOME=$T VSPAN_SOCKET=$T/vspand.sock VSPAN_CONFIG=$T/vspan.xml VSPAN_HOOK_TIMEOUT_MS=5000
pid=""
printf '%s\n' '<vspan><appliance name="ids" domain="ids"><sink type="tap" dev="vspan-mvs"/></appliance></vspan>' >$VSPAN_CONFIG
/sbin/ip link add mvl type veth peer name mvp
/sbin/ip link set mvl up
/sbin/ip link set mvp up
/sbin/ip link add link mvl name macvtap0 type macvtap mode bridge
/sbin/ip link set macvtap0 address 52:54:00:00:00:0a up
$B/vspand --config $VSPAN_CONFIG --state-dir $T/state --socket $VSPAN_SOCKET --libvirt-uri none \
    --log stderr >>$T/log 2>&1 &
pid=$!
for _ in $(seq 200); do $B/vspanctl status >/dev/null 2>&1 && break; sleep 0.05; done

xml="<domain><name>lan1</name><uuid>6f1c1c9e-2c1a-4c55-9d1e-0a3c1d2e3f51</uuid><metadata><vspan:domain xmlns:vspan='urn:vspan:domain:1'><vspan:mirror appliance='ids'/></vspan:domain></metadata><devices><interface type='direct'><mac address='52:54:00:00:00:0a'/><source dev='mvl' mode='bridge'/><target dev='macvtap0'/></interface></devices></domain>"
printf '%s' "$xml" | $B/vspan-hook lan1 prepare begin - && printf '%s' "$xml" | $B/vspan-hook lan1 start begin -
mirrored() { /sbin/tc filter show dev macvtap0 "$1" | grep -q 'Mirror to device vspan-mvs'; }
check "the start hook mirrored the macvtap device's egress (what the VM sends)" mirrored egress
check "and its ingress (what the VM receives)" mirrored ingress
/sbin/tc filter del dev macvtap0 egress pref 48897
back=no
for _ in $(seq 20); do mirrored egress && { back=yes; break; }; sleep 0.05; done
check "a filter deleted behind vspan's back on the macvtap is back within 1 s: $back" test "$back" = yes
st=$($B/vspanctl status --json)
case $st in *'"tap":"macvtap0","appliance":"ids","direction":"both"'*) ok "status lists the macvtap mirror" ;;
*) bad "status: $st" ;; esac
printf '%s' "$xml" | $B/vspan-hook lan1 stopped end -
kill -TERM $pid
wait $pid
/sbin/ip link del macvtap0
/sbin/ip link del mvl
finish

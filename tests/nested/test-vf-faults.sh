#!/bin/sh
# Runs inside the nested VM (busybox sh), after test-nested, on its
# netdevsim PF with 4 VFs: the real vspand, vspan-hook and vspanctl in
# /opt/vspan, VF settings read back with iproute2.
#
# vspand is killed with SIGKILL (tests/fault-inject.c) between the VF
# settings of one domain, in the start and in the stop, then restarted;
# the VFs must end at the safe defaults with no lease left, whether the
# stop reaches vspand after its restart or arrives while it is down (then
# vspand's libvirt resync undoes it: libvirt's test:///default driver,
# where the domain is not running).  Four domains started in parallel get
# their own VF each; a fifth finds the pool empty.
# netdevsim VFs have no PCI devices: a fixture sysfs maps PCI addresses.
set -u
B=/opt/vspan
. $B/tap-lib.sh
RTM_SETLINK=19
pf=$(ls /sys/bus/netdevsim/devices/netdevsim1/net/)
T=/tmp/vf-faults
mkdir -p $T
export HOME=$T VSPAN_SOCKET=$T/vspand.sock VSPAN_CONFIG=$T/vspan.xml VSPAN_HOOK_TIMEOUT_MS=5000
export VSPAN_SYSFS_ROOT=$T/root
pid=""

r=$VSPAN_SYSFS_ROOT/sys
mkdir -p $r/bus/pci/devices/0000:3b:00.0/net/$pf $r/class/net/$pf/device
echo 4 >$r/class/net/$pf/device/sriov_numvfs
for v in 0 1 2 3; do
    mkdir $r/bus/pci/devices/0000:3b:02.$v
    ln -s ../0000:3b:00.0 $r/bus/pci/devices/0000:3b:02.$v/physfn
    ln -s ../0000:3b:02.$v $r/bus/pci/devices/0000:3b:00.0/virtfn$v
done
printf '%s\n' '<vspan>' \
    "  <pool name='p' network='vf-pool'><pf dev='$pf' vfs='0-3'/><vlan allow='100-199'/><trust allow='any'/></pool>" \
    '</vspan>' >$VSPAN_CONFIG

# start_vspand URI [FAULT]
start_vspand() {
    rm -f $VSPAN_SOCKET
    (
        [ -n "${2:-}" ] && export LD_PRELOAD=$B/libfault-inject.so VSPAN_FAULT=$2
        exec $B/vspand --config $VSPAN_CONFIG --state-dir $T/state \
            --socket $VSPAN_SOCKET --libvirt-uri "$1" --log stderr --debug
    ) >>$T/log 2>&1 &
    pid=$!
    for _ in $(seq 200); do $B/vspanctl status >/dev/null 2>&1 && return 0; sleep 0.05; done
    echo "# vspand did not come up"; tail -5 $T/log
}
wait_killed() { wait $pid; rc=$?; pid=""; test $rc -eq 137; }
stop_vspand() { kill -TERM $pid; wait $pid; pid=""; }
leases() { $B/vspanctl status --json | sed -n 's/.*"vf_leases":\(\[.*\]\).*/\1/p'; }
no_leases() { test "$(leases)" = "[]"; }

# domxml N VF...: domain vmN with one pool VF (hostdev, PCI 3b:02.VF) per
# argument; VF v of domain N asks VLAN 100+10N+v and trust on
domxml() {
    n=$1 meta="" devs=""
    shift
    for v in "$@"; do
        mac=52:54:00:0$n:00:0$v
        meta="$meta<vspan:vf mac='$mac' vlan='$((100 + n * 10 + v))' trust='on'/>"
        devs="$devs<interface type='hostdev' managed='yes'><mac address='$mac'/><source><address type='pci' domain='0x0000' bus='0x3b' slot='0x02' function='0x$v'/></source></interface>"
    done
    printf "<domain><name>vm%s</name><uuid>00000000-0000-4000-8000-00000000000%s</uuid><metadata><vspan:domain xmlns:vspan='urn:vspan:domain:1'>%s</vspan:domain></metadata><devices>%s</devices></domain>" \
        "$n" "$n" "$meta" "$devs"
}
# hook N PHASE SUB VF...
hook() { n=$1 ph=$2 sub=$3; shift 3; domxml "$n" "$@" | $B/vspan-hook "vm$n" "$ph" "$sub" - 2>&1; }
vf() { /sbin/ip -d link show dev "$pf" | grep -E "^ +vf $1 "; }
# set_as VF VLAN: the VF carries that VLAN with trust on
set_as() { l=$(vf "$1"); case $l in *"vlan $2,"*"trust on"*) return 0 ;; esac; echo "# vf $1: $l"; return 1; }
# safe VF: trust off, spoof checking on, link auto, no VLAN, no rate
safe() {
    l=$(vf "$1")
    case $l in *"vlan "*|*"trust on"*|*"spoof checking off"*|*"max_tx_rate"*) echo "# vf $1: $l"; return 1 ;; esac
    case $l in *"spoof checking on"*"link-state auto"*"trust off"*) return 0 ;; esac
    echo "# vf $1: $l"; return 1
}
for v in 0 1 2 3; do /sbin/ip link set "$pf" vf $v vlan 0 trust off spoofchk on state auto max_tx_rate 0; done
refused="vspan: vspand did not answer within 5000 ms ($VSPAN_SOCKET: "

# --- 1. killed between the two VF sets of a start; the stop comes after the restart
start_vspand none "nlmsg:$RTM_SETLINK:2"
hook 1 prepare begin 1 2 >/dev/null
out=$(hook 1 start begin 1 2)
check "VF set: vspand was killed by SIGKILL between the VFs" wait_killed
case $out in "$refused"*) ok "VF set: the hook refused the start" ;; *) bad "VF set: hook said: $out" ;; esac
half_set() { set_as 1 111 && safe 2; }
check "VF set: half-applied as intended (VF 1 has VLAN 111 + trust, VF 2 untouched)" half_set
check "VF set: both leases were written before the kernel was touched" \
    test "$(grep -c -E "^\[lease $pf/[12]\]" $T/state/state.ini)" = 2
start_vspand none
hook 1 stopped end 1 2 >/dev/null
hook 1 release end 1 2 >/dev/null
check "VF set, stop after the restart: VF 1 back to safe defaults" safe 1
check "VF set, stop after the restart: VF 2 safe defaults" safe 2
check "VF set, stop after the restart: no lease left" no_leases
stop_vspand

# --- 2. the same kill; libvirt's stop hook runs while vspand is down ----
start_vspand none "nlmsg:$RTM_SETLINK:2"
hook 1 prepare begin 1 2 >/dev/null
hook 1 start begin 1 2 >/dev/null
check "VF set (2): vspand killed between the VFs" wait_killed
out=$(hook 1 stopped end 1 2); rc=$?
check "VF set (2): the stop hook with vspand down exits 0 (libvirt ignores it)" test "$rc" = 0
check "VF set (2): VF 1 still holds the half-applied trust (nobody reset it yet)" set_as 1 111
start_vspand test:///default
for _ in $(seq 100); do no_leases && break; sleep 0.1; done
check "VF set (2): after restart + libvirt resync VF 1 is at safe defaults" safe 1
check "VF set (2): VF 2 at safe defaults" safe 2
check "VF set (2): no lease left" no_leases
check "VF set (2): the resync logged the reset" grep -q "reset VF 1 of '$pf' to safe defaults" $T/log
stop_vspand

# --- 3. killed between the two VF resets of a stop ------------------------
start_vspand none
hook 1 prepare begin 1 2 >/dev/null
out=$(hook 1 start begin 1 2)
both_set() { test -z "$out" && set_as 1 111 && set_as 2 112; }
check "VF reset: the start applied both VFs" both_set
/sbin/ip link set "$pf" vf 2 trust off
for _ in $(seq 30); do set_as 2 112 >/dev/null && break; sleep 0.1; done
check "VF drift: trust turned off behind vspan's back is set again by the repair" set_as 2 112
stop_vspand
# a restarted vspand checks the recorded VFs and sets none that are right
# (each set makes the kernel announce the PF, which would schedule the
# next repair: it must not loop)
n0=$(wc -l <$T/log)
start_vspand none
sleep 1
startup=$(tail -n +$((n0 + 1)) $T/log | grep -c "RTM_SETLINK")
check "VF reset: a restarted vspand leaves VFs that are as recorded alone ($startup RTM_SETLINK in 1 s)" test "$startup" = 0
stop_vspand
start_vspand none "nlmsg:$RTM_SETLINK:$((startup + 2))"
hook 1 stopped end 1 2 >/dev/null
check "VF reset: vspand was killed by SIGKILL between the resets" wait_killed
half_reset() { safe 1 && set_as 2 112; }
check "VF reset: half-applied as intended (VF 1 reset, VF 2 still set)" half_reset
check "VF reset: the leases are still in the state file" \
    test "$(grep -c -E "^\[lease $pf/[12]\]" $T/state/state.ini)" = 2
start_vspand test:///default
for _ in $(seq 100); do no_leases && break; sleep 0.1; done
check "VF reset: after restart + libvirt resync VF 2 is at safe defaults" safe 2
check "VF reset: VF 1 still at safe defaults" safe 1
check "VF reset: no lease left" no_leases
stop_vspand

# --- 4. four domains in parallel, one VF each; the fifth finds none ------
start_vspand none
for n in 1 2 3 4; do
    (hook $n prepare begin $((n - 1)) && hook $n start begin $((n - 1))) >$T/par$n 2>&1 &
    eval "p$n=\$!"
done
good=0
for n in 1 2 3 4; do eval "wait \$p$n" && test ! -s $T/par$n && good=$((good + 1)); done
check "4 parallel starts: every hook succeeded silently ($good/4)" test $good = 4
good=0
for n in 1 2 3 4; do v=$((n - 1)); set_as $v $((100 + n * 10 + v)) && good=$((good + 1)); done
check "4 parallel starts: every VF carries its own domain's VLAN ($good/4)" test $good = 4
l=$(leases)
nl=0
for n in 1 2 3 4; do
    case $l in *"\"vf\":$((n - 1)),\"pool\":\"p\",\"domain\":\"vm$n\""*) nl=$((nl + 1)) ;; esac
done
check "4 parallel starts: 4 leases, VF n-1 to vm n, none twice ($nl/4)" \
    test $nl = 4 -a "$(echo "$l" | grep -o '"vf":' | wc -l)" = 4
mac5=52:54:00:05:00:01
out=$(printf "<domain><name>vm5</name><uuid>00000000-0000-4000-8000-000000000005</uuid><metadata><vspan:domain xmlns:vspan='urn:vspan:domain:1'><vspan:vf mac='%s' vlan='150'/></vspan:domain></metadata><devices><interface type='network'><mac address='%s'/><source network='vf-pool'/></interface></devices></domain>" $mac5 $mac5 |
    $B/vspan-hook vm5 prepare begin - 2>&1); rc=$?
check "pool exhausted: a fifth domain is refused with the reason and the fix" \
    test "$rc:$out" = "1:vspan: domain 'vm5': pool 'p' has 0 free VFs and the domain needs 1; stop a domain that uses the pool or add VFs to it"
for n in 1 2 3 4; do hook $n stopped end $((n - 1)) >/dev/null & eval "p$n=\$!"; done
for n in 1 2 3 4; do eval "wait \$p$n"; done
good=0
for v in 0 1 2 3; do safe $v && good=$((good + 1)); done
check "4 parallel stops: every VF back at safe defaults ($good/4)" test $good = 4
check "4 parallel stops: no lease left" no_leases
stop_vspand

finish

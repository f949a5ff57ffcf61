#!/bin/bash
# vspand killed with SIGKILL in the middle of its work (a preloaded shim,
# tests/fault-inject.c, kills it at an exact netlink message or rename),
# then restarted: mirrors completed or consistent, never half-applied; the
# state file whole.  A read-only or full state directory refuses the start
# with the reason and leaves the state file as it was.  Parallel hook calls
# lose and duplicate nothing.  Root; own network and mount namespace.
# Usage: test-faults.sh BUILD_DIR
set -u
BUILD=$1
. "$(dirname "$0")/tap-lib.sh"
enter_private_ns "$0" "$@"
T=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; umount -q "$T/state" 2>/dev/null; rm -rf "$T"' EXIT
export VSPAN_SOCKET=$T/vspand.sock VSPAN_HOOK_TIMEOUT_MS=5000
CTL=$BUILD/agent/vspanctl
SHIM=$BUILD/tests/libfault-inject.so
RTM_NEWTFILTER=44

config() { printf '<vspan><appliance name="ids" domain="ids"><sink type="tap" dev="%s"/></appliance></vspan>\n' "$1" >"$T/vspan.xml"; }
# start_vspand [FAULT]: vspand with the shim armed (or not)
start_vspand() {
    rm -f "$VSPAN_SOCKET"
    (
        [ -n "${1:-}" ] && export LD_PRELOAD=$SHIM VSPAN_FAULT=$1
        exec "$BUILD/agent/vspand" --config "$T/vspan.xml" --state-dir "$T/state" \
            --socket "$VSPAN_SOCKET" --libvirt-uri none --log stderr
    ) >>"$T/log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do "$CTL" status >/dev/null 2>&1 && return 0; sleep 0.05; done
    echo "# vspand did not come up"; tail -5 "$T/log"
}
# wait_killed: vspand must have died by SIGKILL (status 137)
wait_killed() { wait "$pid"; local rc=$?; pid=""; test "$rc" -eq 137; }
stop_vspand() { kill -TERM "$pid"; wait "$pid"; pid=""; }
domxml() { # NAME N TAP
    printf "<domain><name>%s</name><uuid>6f1c1c9e-2c1a-4c55-9d1e-0a3c1d2e3f%02d</uuid><metadata><vspan:domain xmlns:vspan='urn:vspan:domain:1'><vspan:mirror appliance='ids'/></vspan:domain></metadata><devices><interface type='bridge'><mac address='52:54:00:00:01:%02x'/><source bridge='br0'/><target dev='%s'/></interface></devices></domain>" "$1" "$2" "$2" "$3"
}
hook() { domxml "$1" "$2" "$3" | "$BUILD/hooks/vspan-hook" "$1" "$4" "$5" - 2>&1; }
# filters TAP HOOK: the devices the mirred actions copy to
filters() { tc filter show dev "$1" "$2" | sed -n 's/.*mirred (Egress Mirror to device \([^)]*\)).*/\1/p' | tr '\n' ' ' | sed 's/ $//'; }
# nfilters TAP HOOK: how many mirred actions vspan's priorities hold
nfilters() { tc filter show dev "$1" "$2" | grep -c 'mirred (Egress Mirror'; }

for t in at0 at1; do ip tuntap add dev $t mode tap; ip link set $t up; done

# which classifier this kernel gives vspan decides how many RTM_NEWTFILTER
# messages a mirror install sends: matchall ingress+egress, or a refused
# matchall probe then u32 ingress+egress
config vspan-at0
if "$CTL" doctor --config "$T/vspan.xml" | grep -q 'matchall missing'; then egress_msg=3; else egress_msg=2; fi

# --- 1. killed between the ingress and the egress filter of a mirror -----
start_vspand "nlmsg:$RTM_NEWTFILTER:$egress_msg"
out=$(hook web 1 at0 start begin)
check "mirror install: vspand was killed by SIGKILL mid-install" wait_killed
case $out in "vspan: vspand did not answer within 5000 ms ($VSPAN_SOCKET: "*"), and domain 'web' needs it; start vspand or set <hook on-agent-unavailable=\"allow\"/> in "*)
    ok "mirror install: the hook reported the lost agent and refused the start" ;; *) bad "hook said: $out" ;; esac
check "mirror install: half-applied as intended (ingress in place, egress not)" \
    test "$(filters at0 ingress)-$(filters at0 egress)" = "vspan-at0-"
check "mirror install: the domain was recorded before the kernel was touched" grep -q "domain 6f1c1c9e-2c1a-4c55-9d1e-0a3c1d2e3f01" "$T/state/state.ini"
start_vspand
check "mirror install: after restart both directions copy to vspan-at0" test "$(filters at0 ingress)-$(filters at0 egress)" = "vspan-at0-vspan-at0"
check "mirror install: exactly one vspan filter per direction" test "$(nfilters at0 ingress)$(nfilters at0 egress)" = 11
stop_vspand

# --- 2. killed in the middle of re-pointing every mirror -----------------
start_vspand "nlmsg:$RTM_NEWTFILTER:2"
config vspan-at9
kill -HUP "$pid"
check "re-point: vspand was killed by SIGKILL mid-re-point" wait_killed
check "re-point: half-applied as intended (one direction moved)" \
    test "$(filters at0 ingress)-$(filters at0 egress)" = "vspan-at9-vspan-at0"
start_vspand
check "re-point: after restart both directions copy to vspan-at9" test "$(filters at0 ingress)-$(filters at0 egress)" = "vspan-at9-vspan-at9"
check "re-point: exactly one vspan filter per direction" test "$(nfilters at0 ingress)$(nfilters at0 egress)" = 11
stop_vspand

# --- 3. killed between writing the state file and renaming it ------------
cp "$T/state/state.ini" "$T/state.before"
start_vspand "rename:state.ini:2"   # #1 is the save at start-up
hook db 2 at1 start begin >/dev/null
check "state write: vspand was killed by SIGKILL before the rename" wait_killed
check "state write: the unfinished temporary file is there" sh -c "ls '$T/state' | grep -q '^state.ini\.......$'"
check "state write: state.ini is the old one, byte for byte" cmp -s "$T/state/state.ini" "$T/state.before"
check "state write: nothing was changed in the kernel before the record (write-ahead)" test -z "$(filters at1 ingress)$(filters at1 egress)"
start_vspand
check "state write: the restart removed the temporary file" test "$(ls "$T/state")" = state.ini
check "state write: the restart logged it" grep -q "a state file vspand did not finish writing" "$T/log"
check "state write: at0 still mirrored, at1 not" test "$(filters at0 ingress)-$(filters at1 ingress)" = "vspan-at9-"

# --- 4. read-only and full state directory --------------------------------
cp "$T/state/state.ini" "$T/state.before"
mount --bind -o ro "$T/state" "$T/state"
out=$(hook db 2 at1 start begin); rc=$?
check "read-only state dir: the start is refused (exit $rc)" test "$rc" -eq 1
check "read-only state dir: one line with the reason and the fix" \
    test "$out" = "vspan: Cannot write the state file '$T/state/state.ini': Read-only file system; the previous state is kept"
check "read-only state dir: no filter on at1" test -z "$(filters at1 ingress)$(filters at1 egress)"
umount "$T/state"
check "read-only state dir: state.ini unchanged" cmp -s "$T/state/state.ini" "$T/state.before"
stop_vspand
mv "$T/state" "$T/state.disk"
mkdir "$T/state"
mount -t tmpfs -o size=16k tmpfs "$T/state"
cp "$T/state.disk/state.ini" "$T/state/"
start_vspand
dd if=/dev/zero of="$T/state/fill" bs=1k count=64 2>/dev/null
out=$(hook db 2 at1 start begin); rc=$?
check "full state dir: the start is refused (exit $rc)" test "$rc" -eq 1
check "full state dir: one line with the reason" \
    test "$out" = "vspan: Cannot write the state file '$T/state/state.ini': No space left on device; the previous state is kept"
check "full state dir: state.ini unchanged, no temporary file left" \
    sh -c "cmp -s '$T/state/state.ini' '$T/state.before' && test \"\$(ls '$T/state')\" = 'fill
state.ini'"
rm -f "$T/state/fill"
out=$(hook db 2 at1 start begin); rc=$?
check "full state dir: with space again the start succeeds" test "$rc" -eq 0 -a "$(filters at1 ingress)" = vspan-at9
stop_vspand
umount "$T/state"

# --- 5. parallel hook calls ------------------------------------------------
rm -rf "$T/state"
start_vspand
for i in $(seq 10 29); do ip tuntap add dev pt$i mode tap; ip link set pt$i up; done
hooks=()
for i in $(seq 10 29); do hook vm$i $i pt$i start begin >"$T/h$i" & hooks+=($!); done
wait "${hooks[@]}"
good=0
for i in $(seq 10 29); do
    [ "$(nfilters pt$i ingress)$(nfilters pt$i egress)" = 11 ] && [ "$(filters pt$i ingress)" = vspan-at9 ] && good=$((good + 1))
done
check "20 parallel starts: every tap has exactly one filter per direction ($good/20)" test "$good" = 20
check "20 parallel starts: every hook succeeded silently" test -z "$(cat "$T"/h*)"
n=$("$CTL" status --json | grep -o '"tap":"pt[0-9]*"' | sort -u | wc -l)
check "20 parallel starts: status lists 20 mirrors ($n)" test "$n" = 20
hooks=()
for i in $(seq 10 29); do hook vm$i $i pt$i stopped end >/dev/null & hooks+=($!); done
wait "${hooks[@]}"
n=$(grep -c '^\[domain ' "$T/state/state.ini")
check "20 parallel stops: the state keeps no domain ($n)" test "$n" = 0
stop_vspand
for i in $(seq 10 29); do ip link del pt$i; done

finish

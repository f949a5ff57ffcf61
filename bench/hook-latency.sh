#!/bin/bash
# Hook latency: the installed hook (vspan-hook -> vspand) for the start
# phase of a domain with N interfaces, against a shell hook doing the 2010
# recipe (xmllint + tc per interface), in the same run, in a private network
# namespace.  Run by bench/run inside `unshare --net --mount`.
#   hook-latency.sh BUILD_DIR CALLS   -> markdown rows
set -euo pipefail
BUILD=$1 CALLS=${2:-200}
T=$(mktemp -d)
vspand_pid=""
cleanup() {
    [ -n "$vspand_pid" ] && kill "$vspand_pid" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
mount -t sysfs sysfs /sys
ip link set lo up

printf '%s\n' '<vspan><appliance name="ids" domain="ids"><sink type="tap" dev="vspan-bench"/></appliance></vspan>' >"$T/vspan.xml"
"$BUILD/agent/vspand" --config "$T/vspan.xml" --state-dir "$T/state" --socket "$T/sock" --libvirt-uri none >"$T/vspand.log" 2>&1 &
vspand_pid=$!
for _ in $(seq 50); do VSPAN_SOCKET=$T/sock "$BUILD/agent/vspanctl" status >/dev/null 2>&1 && break; sleep 0.1; done

# The 2010 recipe as a libvirt hook: every interface of the domain gets an
# ingress and a root qdisc and a mirred filter on each.
cat >"$T/shell-hook" <<'SH'
#!/bin/sh
[ "$2" = start ] || exit 0
xml=$(cat)
for dev in $(echo "$xml" | xmllint --xpath '//interface/target/@dev' - 2>/dev/null | sed 's/ dev="\([^"]*\)"/\1 /g'); do
    tc qdisc add dev "$dev" ingress
    tc filter add dev "$dev" parent ffff: protocol ip u32 match u8 0 0 action mirred egress mirror dev vspan-bench
    tc qdisc add dev "$dev" root handle 1: htb
    tc filter add dev "$dev" parent 1: protocol ip u32 match u8 0 0 action mirred egress mirror dev vspan-bench
done
SH
chmod +x "$T/shell-hook"

pct() {   # pct P < values (ms) -> the P-th percentile
    sort -n | awk -v p="$1" '{a[NR]=$1} END {i=int((NR*p+99)/100); if (i<1) i=1; printf "%.2f", a[i]}'
}

for n in 1 8 64; do
    for i in $(seq 0 $((n - 1))); do ip tuntap add dev "t$i" mode tap; ip link set "t$i" up; done
    {
        printf "<domain type='qemu'><name>bench</name><uuid>6f1c1c9e-2c1a-4c55-9d1e-0a3c1d2e3f41</uuid>"
        printf "<metadata><vspan:domain xmlns:vspan='urn:vspan:domain:1'><vspan:mirror appliance='ids'/></vspan:domain></metadata><devices>"
        for i in $(seq 0 $((n - 1))); do
            printf "<interface type='bridge'><mac address='52:54:00:00:%02x:%02x'/><source bridge='br0'/><target dev='t%d'/><alias name='net%d'/></interface>" \
                $((i / 256)) $((i % 256)) "$i" "$i"
        done
        printf "</devices></domain>"
    } >"$T/dom.xml"
    reset_vspan=$(for i in $(seq 0 $((n - 1))); do echo "qdisc del dev t$i clsact"; done)
    reset_shell=$(for i in $(seq 0 $((n - 1))); do echo "qdisc del dev t$i ingress"; echo "qdisc del dev t$i root"; done)
    : >"$T/v.ms"
    : >"$T/s.ms"
    : >"$T/f.ms"
    for c in $(seq "$CALLS"); do
        # every call starts from fresh taps, as every VM start does
        tc -batch - <<<"$reset_vspan" >/dev/null 2>&1 || true
        VSPAN_SOCKET=$T/sock "$BUILD/agent/vspanctl" reconcile >/dev/null 2>&1 || true
        s=$EPOCHREALTIME
        VSPAN_SOCKET=$T/sock "$BUILD/hooks/vspan-hook" bench start begin - <"$T/dom.xml"
        e=$EPOCHREALTIME
        echo "($e - $s) * 1000" | bc -l >>"$T/v.ms"
        tc -batch - <<<"$reset_vspan" >/dev/null 2>&1 || true
        s=$EPOCHREALTIME
        "$T/shell-hook" bench start begin - <"$T/dom.xml" >/dev/null 2>&1
        e=$EPOCHREALTIME
        echo "($e - $s) * 1000" | bc -l >>"$T/s.ms"
        tc -batch - <<<"$reset_shell" >/dev/null 2>&1 || true
        # the floor: spawning an empty program, timed the same way
        s=$EPOCHREALTIME
        /bin/true </dev/null
        e=$EPOCHREALTIME
        echo "($e - $s) * 1000" | bc -l >>"$T/f.ms"
    done
    # sanity: the last vspan call really mirrored every interface
    tc -batch - <<<"$reset_shell" >/dev/null 2>&1 || true
    VSPAN_SOCKET=$T/sock "$BUILD/hooks/vspan-hook" bench start begin - <"$T/dom.xml"
    mirrored=$(for i in $(seq 0 $((n - 1))); do tc filter show dev "t$i" ingress | grep -c mirred; done | paste -sd+ | bc)
    v50=$(pct 50 <"$T/v.ms") v95=$(pct 95 <"$T/v.ms")
    s50=$(pct 50 <"$T/s.ms") s95=$(pct 95 <"$T/s.ms")
    f50=$(pct 50 <"$T/f.ms")
    awk -v n="$n" -v c="$CALLS" -v v50="$v50" -v v95="$v95" -v s50="$s50" -v s95="$s95" -v m="$mirrored" -v f="$f50" \
        'BEGIN { printf "| %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.1fx | %d/%d |\n", n, c, v50, v95, v50 - f, s50, s95, s50 / v50, m, n }'
    tc -batch - <<<"$reset_vspan" >/dev/null 2>&1 || true
    for i in $(seq 0 $((n - 1))); do ip link del "t$i"; done
    VSPAN_SOCKET=$T/sock "$BUILD/agent/vspanctl" reconcile >/dev/null 2>&1 || true
done

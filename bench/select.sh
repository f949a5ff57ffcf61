#!/bin/bash
# Choosing what is copied, measured: a monitored flow across a Linux bridge
# with (a) no mirror, (b) a match-all mirror, (c) a filter selecting ~10 %
# of the frames (ip[5] < 26: the IP ID's low byte), (d) flow-head
# (packets=8), each with and without a capture process on the sink standing
# in for the appliance (tcpdump -w /dev/null, no filter: it takes every
# copy it is given, as a sensor VM's NIC does).  Run by bench/run inside
# `unshare --net --mount`; prints one markdown row per mode.
set -euo pipefail
BENCH=$1 REPS=${2:-5} DUR=${3:-4}
FILTER='ip[5] < 26'

cap=""
. "$(dirname "$0")/bridge-lib.sh"

rule() {
    case $1 in
    all* | snap128* | cap* | tag*) echo "" ;;
    filter*) echo "filter='${FILTER/</\&lt;}'" ;;
    flowhead*) echo "program='head8'" ;;
    esac
}
# the sink's shaping: snaplen 128, or a cap at ~10 % of the offered copies
shape() {
    case $1 in
    snap128*) echo "snaplen='128'" ;;
    cap*) echo "max-rate='${CAP_PPS}pps'" ;;
    *) echo "" ;;
    esac
}
setup() {
    case $1 in
    none*) ;;
    # tag: a match-all mirror with the bridge's <bridge-tag> (mark, copy, unmark)
    tag*) VSPAN_BENCH_TAG_BRIDGE=br0 "$BENCH" apply vnetA sink0 "" "" ;;
    *) "$BENCH" apply vnetA sink0 "$(rule "$1")" "$(shape "$1")" ;;
    esac
    case $1 in
    *+cap)
        tcpdump -i sink0p -p -n -w /dev/null >/dev/null 2>&1 &
        cap=$!
        sleep 0.5 ;;
    esac
}
teardown() {
    if [ -n "$cap" ]; then kill "$cap"; wait "$cap" 2>/dev/null || true; cap=""; fi
    case $1 in none*) ;; *) "$BENCH" release vnetA ;; esac
}
sink_rx() { cat /sys/class/net/sink0p/statistics/rx_packets; }
# busy CPU of the whole machine, in ms (USER_HZ jiffies of /proc/stat)
cpu_ms() { awk '/^cpu / { print ($2 + $3 + $4 + $7 + $8) * 1000 / 100 }' /proc/stat; }
# CPU of one process (the capture), in ms; 0 without one
proc_ms() { if [ -n "$1" ]; then awk '{ print ($14 + $15) * 10 }' "/proc/$1/stat"; else echo 0; fi; }

declare -A tcp udp copies cpu capcpu
modes=${MODES:-"none all filter flowhead none+cap all+cap filter+cap flowhead+cap"}
CAP_PPS=${CAP_PPS:-13000}
for r in $(seq "$REPS"); do
    for m in $modes; do   # interleaved: machine noise spreads over all modes
        setup "$m"
        bps=$(tcp_bps)
        before=$(sink_rx)
        pps=$(udp64_pps)
        copies[$m]="${copies[$m]:-} $(awk -v c="$(( $(sink_rx) - before ))" -v p="$pps" -v d="$DUR" 'BEGIN { printf "%.3f", c / (p * d) }')"
        # CPU at a fixed rate the machine keeps up with (40 Mbit/s of 64-byte
        # datagrams, ~78 000 pkt/s): the cost of monitoring, not of sending
        c0=$(cpu_ms) k0=$(proc_ms "$cap")
        npk=$(ip netns exec a iperf3 -c 10.99.0.2 -u -b 40M -l 64 -t "$DUR" -J | python3 -c '
import json,sys
s=json.load(sys.stdin)["end"]["sum"]
print(s["packets"]-s["lost_packets"])')
        c1=$(cpu_ms) k1=$(proc_ms "$cap")
        capcpu[$m]="${capcpu[$m]:-} $(awk -v c="$((k1 - k0))" -v n="$npk" 'BEGIN { printf "%.0f", c / (n / 1e6) }')"
        tcp[$m]="${tcp[$m]:-} $bps"
        udp[$m]="${udp[$m]:-} $pps"
        cpu[$m]="${cpu[$m]:-} $(awk -v c="$(echo "$c1 - $c0" | bc)" -v n="$npk" 'BEGIN { printf "%.0f", c / (n / 1e6) }')"
        teardown "$m"
    done
done

base_tcp=$(echo "${tcp[none]}" | median)
base_udp=$(echo "${udp[none]}" | median)
base_cpu=$(echo "${cpu[none+cap]:-${cpu[none]}}" | median)
for m in $modes; do
    t=$(echo "${tcp[$m]}" | median)
    u=$(echo "${udp[$m]}" | median)
    c=$(echo "${copies[$m]}" | median)
    k=$(echo "${cpu[$m]}" | median)
    p=$(echo "${capcpu[$m]}" | median)
    awk -v m="$m" -v t="$t" -v u="$u" -v bt="$base_tcp" -v bu="$base_udp" -v c="$c" -v k="$k" -v bk="$base_cpu" -v p="$p" 'BEGIN {
        printf "| %s | %.2f | %.2f | %.0f | %.2f | %.3f | %.0f | %+.0f | %.0f |\n", m, t/1e9, t/bt, u, u/bu, c, k, k-bk, p }'
done

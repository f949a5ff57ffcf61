#!/bin/bash
# Throughput and packet rate of a monitored flow across a Linux bridge, in
# private namespaces: no mirror, vspan (both directions), the 2010 recipe
# (ingress + classful root + "u32 ... protocol ip" mirred), and a bridge in
# hub mode (ageing 0, sink on the bridge).  Run by bench/run inside
# `unshare --net --mount`; prints one markdown row per mode.
set -euo pipefail
BENCH=$1 REPS=${2:-5} DUR=${3:-4}

. "$(dirname "$0")/bridge-lib.sh"

setup() {
    case $1 in
    none) ;;
    vspan) "$BENCH" apply vnetA sink0 ;;
    recipe2010)
        tc qdisc add dev vnetA ingress
        tc filter add dev vnetA parent ffff: protocol ip u32 match u8 0 0 action mirred egress mirror dev sink0
        tc qdisc add dev vnetA root handle 1: htb
        tc filter add dev vnetA parent 1: protocol ip u32 match u8 0 0 action mirred egress mirror dev sink0 ;;
    hub)
        ip link set br0 type bridge ageing_time 0
        ip link set sink0 master br0 ;;
    esac
}
teardown() {
    case $1 in
    none) ;;
    vspan) "$BENCH" release vnetA ;;
    recipe2010)
        tc qdisc del dev vnetA ingress
        tc qdisc del dev vnetA root ;;
    hub)
        ip link set sink0 nomaster
        ip link set br0 type bridge ageing_time 30000 ;;
    esac
}
# copies the sink received (its peer's rx counter), to prove mirroring ran
sink_rx() { cat /sys/class/net/sink0p/statistics/rx_packets; }

declare -A tcp udp copies
modes="none vspan recipe2010 hub"
for r in $(seq "$REPS"); do
    for m in $modes; do   # interleaved: machine noise spreads over all modes
        setup "$m"
        before=$(sink_rx)
        bps=$(tcp_bps)
        pps=$(udp64_pps)
        copies[$m]="${copies[$m]:-} $(( $(sink_rx) - before ))"
        tcp[$m]="${tcp[$m]:-} $bps"
        udp[$m]="${udp[$m]:-} $pps"
        teardown "$m"
    done
done

base_tcp=$(echo "${tcp[none]}" | median)
base_udp=$(echo "${udp[none]}" | median)
for m in $modes; do
    t=$(echo "${tcp[$m]}" | median)
    u=$(echo "${udp[$m]}" | median)
    c=$(echo "${copies[$m]}" | median)
    awk -v m="$m" -v t="$t" -v u="$u" -v bt="$base_tcp" -v bu="$base_udp" -v c="$c" 'BEGIN {
        printf "| %s | %.2f | %.2f | %.0f | %.2f | %d |\n", m, t/1e9, t/bt, u, u/bu, c }'
done

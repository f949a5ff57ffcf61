# Shared by the data-plane benchmarks (bench/throughput.sh, bench/select.sh,
# bench/inline.sh),
# sourced inside `unshare --net --mount`: two veth "VMs" a (10.99.0.1) and b
# (10.99.0.2, an iperf3 server) on bridge br0 by their ports vnetA/vnetB, and
# a veth sink0 (its peer sink0p counts what arrives).  Kills what it started
# on exit; $pids may take more.
mkdir -p /run/netns && mount -t tmpfs vspan-bench /run/netns
mount -t sysfs sysfs /sys   # this namespace's devices
pids=()
cleanup() {
    [ -n "${cap:-}" ] && kill "$cap" 2>/dev/null
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    ip netns del a 2>/dev/null || true
    ip netns del b 2>/dev/null || true
}
trap cleanup EXIT

sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip link set lo up
ip netns add a
ip netns add b
ip link add br0 type bridge
ip link set br0 up
ip link add vnetA type veth peer name eth0 netns a
ip link add vnetB type veth peer name eth0 netns b
ip link set vnetA master br0 up
ip link set vnetB master br0 up
ip link add sink0 type veth peer name sink0p
ip link set sink0 up
ip link set sink0p up
for n in a b; do
    ip -n $n link set lo up
    ip -n $n link set eth0 up
done
ip -n a addr add 10.99.0.1/24 dev eth0
ip -n b addr add 10.99.0.2/24 dev eth0
ip netns exec b sh -c 'iperf3 -s >/dev/null 2>&1 & echo $! >/run/netns/iperf.pid'
pids+=("$(cat /run/netns/iperf.pid)")
sleep 0.5


# a -> b for $DUR seconds: TCP bit/s received; 64-byte UDP datagrams a
# second received (sent as fast as iperf3 can)
tcp_bps() {
    ip netns exec a iperf3 -c 10.99.0.2 -t "$DUR" -J |
        python3 -c 'import json,sys; print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]))'
}
udp64_pps() {
    ip netns exec a iperf3 -c 10.99.0.2 -u -b 0 -l 64 -t "$DUR" -J | python3 -c '
import json,sys
s=json.load(sys.stdin)["end"]["sum"]
print(int((s["packets"]-s["lost_packets"])/s["seconds"]))'
}
# the median of the numbers on stdin (whitespace-separated)
median() { tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

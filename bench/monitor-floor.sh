#!/bin/bash
# The floor under vspand's cost of foreign link churn: `ip monitor link`
# (subscribed to the same events, printing them to /dev/null) through the
# same CYCLES veth add/delete cycles.  Run inside `unshare --net --mount`.
#   monitor-floor.sh CYCLES   -> CPU ms of ip monitor
set -euo pipefail
CYCLES=${1:-200}
mount -t sysfs sysfs /sys
ip monitor link >/dev/null &
p=$!
trap 'kill $p 2>/dev/null' EXIT
sleep 0.5
a=$(awk '{print $1}' "/proc/$p/schedstat")
for i in $(seq "$CYCLES"); do echo "link add xa$i type veth peer name xb$i"; echo "link del xa$i"; done | ip -batch -
sleep 1.5
b=$(awk '{print $1}' "/proc/$p/schedstat")
echo $(( (b - a) / 1000000 ))

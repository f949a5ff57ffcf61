#!/bin/bash
# The nested tier: Debian's kernel with netdevsim, booted under QEMU (TCG),
# runs tests/test-nested.c, tests/test-select.c, tests/nested/test-vf-faults.sh and
# tests/nested/test-macvtap-agent.sh; their TAP output comes back on the serial console.
# Usage: run-nested.sh BUILD_DIR SOURCE_DIR   (root: installs and caches)
set -u
BUILD=$1 SRC=$2
if [ "$(id -u)" -ne 0 ]; then echo "1..0 # SKIP the nested tier installs kernel headers: needs root"; exit 77; fi
command -v qemu-system-x86_64 >/dev/null || { echo "not ok - qemu-system-x86_64 is installed"; exit 1; }
dir=$("$SRC/tests/nested/build-nested" "$BUILD/tests/test-nested" "$BUILD" "$SRC") || { echo "not ok - the nested image builds"; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# meson's timeout is 900 s: the VM gets 600 s or what the image build left
# of 840 s, so that this script still reports (and cleans up) itself
vm_bound=$((840 - SECONDS)); [ "$vm_bound" -gt 600 ] && vm_bound=600
timeout "$vm_bound" qemu-system-x86_64 -accel tcg -m 768 -nographic -nic none -no-reboot \
    -kernel "$dir/vmlinuz" -initrd "$dir/initrd.img" -append "console=ttyS0 panic=-1 quiet" >"$log" 2>&1
rc=$?
# the guest's TAP lines, as they came
grep -a -E '^(ok |not ok |# |1\.\.|Bail out|nested: )' "$log" | tr -d '\r'
if [ "$rc" -eq 124 ]; then
    echo "not ok - the nested VM finished within $vm_bound s (the wait for it ran out; its console's last lines follow)"
    tail -n 30 "$log"; exit 1
fi
if [ "$rc" -ne 0 ]; then echo "not ok - qemu exited with $rc"; tail -n 30 "$log"; exit 1; fi
passed=$(grep -a -c '^ok ' "$log")
failed=$(grep -a -c '^not ok ' "$log")
grep -a -q '^nested: exit 0' "$log" || failed=$((failed + 1))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -ge 55 ]   # 8 in test-nested, 14 in test-select, 29 in test-vf-faults, 4 in test-macvtap-agent

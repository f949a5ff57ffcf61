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
. "$SRC/tests/nested/nested-vm.sh"
# 8 in test-nested, 14 in test-select, 29 in test-vf-faults, 4 in test-macvtap-agent
nested_vm 55 "$log" -m 768 -kernel "$dir/vmlinuz" -initrd "$dir/initrd.img" -append "console=ttyS0 panic=-1 quiet"

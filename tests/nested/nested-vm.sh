# Sourced by the nested tiers' runners: boot the nested VM and report.
#   nested_vm MIN_PASSED LOG QEMU_ARGS...
# Runs QEMU (TCG) within what is left of 840 s of meson's 900 s timeout (at
# most 600 s), so that the runner still reports and cleans up itself; prints
# the guest's TAP lines as they came; fails on a timeout (with the console's
# last lines), a QEMU error, a failed check, a missing "nested: exit 0", or
# fewer than MIN_PASSED checks.
nested_vm() {
    local min=$1 log=$2 rc passed failed vm_bound
    shift 2
    vm_bound=$((840 - SECONDS)); [ "$vm_bound" -gt 600 ] && vm_bound=600
    timeout "$vm_bound" qemu-system-x86_64 -accel tcg -nographic -nic none -no-reboot "$@" >"$log" 2>&1
    rc=$?
    grep -a -E '^(ok |not ok |# |1\.\.|Bail out|nested: )' "$log" | tr -d '\r'
    if [ "$rc" -eq 124 ]; then
        echo "not ok - the nested VM finished within $vm_bound s (the wait for it ran out; its console's last lines follow)"
        tail -n 30 "$log"; return 1
    fi
    if [ "$rc" -ne 0 ]; then echo "not ok - qemu exited with $rc"; tail -n 30 "$log"; return 1; fi
    passed=$(grep -a -c '^ok ' "$log")
    failed=$(grep -a -c '^not ok ' "$log")
    grep -a -q '^nested: exit 0' "$log" || failed=$((failed + 1))
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ] && [ "$passed" -ge "$min" ]
}

# Sourced by the root tiers that change the host itself (the libvirt tier):
# a time budget well inside meson's timeout, waits that say which one ran
# out, and a record of the processes the tier started, so that the next run
# ends them after this one was killed (meson sends SIGKILL 0.5 s after its
# SIGTERM, too soon for any cleanup).
#
#   tier_begin NAME BUDGET_S "$0" "$@"
#                        re-exec once under timeout(1): when the budget runs
#                        out the tier gets SIGTERM, says which section was
#                        running, fails, and its EXIT trap cleans up
#   section TEXT         log the section and remember it for that message
#   wait_for SECONDS DESC CMD...
#                        run CMD every 0.1 s until it succeeds; when SECONDS
#                        pass first, log "wait ran out" with DESC, return 1
#                        (wait_step=0.01 wait_for ... polls faster)
#   budget_left          seconds of the budget still left (stdout)
#   tier_record KIND PID remember a process (PID and start time, so that a
#                        reused PID is never hit): KIND "kill" is ended by the
#                        next run, "libvirtd"/"virtlogd" are taken over by it
#   tier_reap            end or take over what an earlier run recorded; sets
#                        reaped_libvirtd/reaped_virtlogd to 1 when it took
#                        over a daemon the earlier run had started
#
# The root tiers' TAP lines: ok, bad, check WHAT CMD..., log, finish.
#
# Tiers that use the host's libvirtd (qemu:///system):
#   VIRSH                every virsh call bounded (a hung libvirtd fails the
#                        call, not the tier)
#   libvirt_begin        start virtlogd and libvirtd where they are not
#                        running (recorded, so that a killed run's are taken
#                        over), else SIGHUP libvirtd so that it reads its
#                        hook directory again; sets started_libvirtd,
#                        started_virtlogd
#   libvirt_hook HOOK VAR=VALUE...
#                        install HOOK running $BUILD's vspan-hook with those
#                        variables, SIGHUP libvirtd so that it reads it
#   libvirt_end          stop what libvirt_begin started, else SIGHUP
#                        libvirtd (it forgets the tier's hook)
tier_dir=/run/vspan-tests
pass=0 fail=0 started_libvirtd=0 started_virtlogd=0
VIRSH="timeout 120 virsh -q -c qemu:///system"

ok()   { pass=$((pass + 1)); echo "ok - $*"; }
bad()  { fail=$((fail + 1)); echo "not ok - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
log()  { echo "# $*"; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit $?; }

libvirtd_pid() { cat /run/libvirtd.pid 2>/dev/null; }
libvirt_up() { $VIRSH uri >/dev/null 2>&1; }
wait_libvirt() { wait_for 30 "libvirtd to answer on qemu:///system" libvirt_up; }

libvirt_begin() {
    mkdir -p /run/libvirt
    if ! [ -S /run/libvirt/virtlogd-sock ]; then
        /usr/sbin/virtlogd -d && started_virtlogd=1
        wait_for 10 "virtlogd to write its pid file" test -s /run/virtlogd.pid
        tier_record virtlogd "$(cat /run/virtlogd.pid 2>/dev/null)"
    fi
    if [ -z "$(libvirtd_pid)" ] || ! kill -0 "$(libvirtd_pid)" 2>/dev/null; then
        /usr/sbin/libvirtd -d && wait_libvirt || return 1
        started_libvirtd=1
        tier_record libvirtd "$(libvirtd_pid)"
    else
        kill -HUP "$(libvirtd_pid)"    # libvirtd discovers hooks on SIGHUP
        sleep 1
        wait_libvirt
    fi
}

# tier_remove_links PHASE LINK... / tier_remove_netns PHASE NS /
# tier_remove_domains PHASE PREFIX: remove what a tier made, by name; at
# PHASE "start" say it was an earlier run's
tier_remove_links() {
    local phase=$1 d
    shift
    for d in "$@"; do
        ip link show "$d" >/dev/null 2>&1 || continue
        [ "$phase" = start ] && log "an earlier run left link $d: removing it"
        ip link del "$d"
    done
}
# tier_remove_domains PHASE PREFIX: destroy and undefine the libvirt
# domains whose names start with PREFIX (where libvirtd answers)
tier_remove_domains() {
    local d
    libvirt_up || return 0
    for d in $($VIRSH list --all --name 2>/dev/null | grep "^$2"); do
        [ "$1" = start ] && log "an earlier run left domain $d: removing it"
        $VIRSH destroy "$d" >/dev/null 2>&1
        $VIRSH undefine "$d" >/dev/null 2>&1
    done
}
tier_remove_netns() {
    ip netns list | grep -qw "$2" || return 0
    [ "$1" = start ] && log "an earlier run left namespace $2: removing it"
    ip netns del "$2"
}

# libvirt_hook HOOK VAR=VALUE...: install HOOK running this build's
# vspan-hook ($BUILD) with those variables, and have libvirtd read its hooks
# again (SIGHUP); fails when libvirtd does not answer afterwards
libvirt_hook() {
    local hook=$1
    shift
    printf '#!/bin/sh\n%s exec %s "$@"\n' "$*" "$BUILD/hooks/vspan-hook" >"$hook"
    chmod 0755 "$hook"
    kill -HUP "$(libvirtd_pid)"    # libvirtd discovers hooks on SIGHUP
    sleep 1
    wait_libvirt
}

libvirt_end() {
    if [ "$started_libvirtd" = 1 ]; then
        kill "$(libvirtd_pid)" 2>/dev/null
    elif [ -n "$(libvirtd_pid)" ]; then
        kill -HUP "$(libvirtd_pid)" 2>/dev/null
    fi
    [ "$started_virtlogd" = 1 ] && kill "$(cat /run/virtlogd.pid 2>/dev/null)" 2>/dev/null
    return 0
}
section="set-up"
reaped_libvirtd=0 reaped_virtlogd=0

tier_begin() {
    tier_name=$1 tier_budget=$2
    shift 2
    if [ -z "${VSPAN_TIER_TIMED:-}" ]; then
        VSPAN_TIER_TIMED=1 exec timeout --kill-after=60 "$tier_budget" bash "$@"
    fi
    tier_started=${EPOCHREALTIME%.*}
    tier_record_file=$tier_dir/$tier_name.pids
    mkdir -p "$tier_dir"
    trap 'bad "the tier finished within its budget of $tier_budget s (it ran out in section: $section)"; exit 1' TERM
}

section() { section=$*; log "$*"; }

budget_left() { echo $((tier_budget - ${EPOCHREALTIME%.*} + tier_started)); }

_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

wait_for() {
    local secs=$1 desc=$2 end
    shift 2
    end=$(($(_ms) + ${secs%.*} * 1000))
    while :; do
        "$@" && return 0
        if [ "$(_ms)" -ge "$end" ]; then
            log "wait ran out after $secs s: $desc"
            return 1
        fi
        sleep "${wait_step:-0.1}"
    done
}

# start time of PID in clock ticks since boot (field 22 of /proc/PID/stat)
_starttime() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }

tier_record() {
    local st
    st=$(_starttime "$2") || return 0
    [ -n "$st" ] && echo "$1 $2 $st $(cat "/proc/$2/comm" 2>/dev/null)" >>"$tier_record_file"
}

tier_reap() {
    local kind pid st comm keep="" ended=""
    [ -f "$tier_record_file" ] || return 0
    while read -r kind pid st comm; do
        [ "$(_starttime "$pid")" = "$st" ] || continue     # gone, or the PID is someone else's now
        case $kind in
        libvirtd|virtlogd)
            log "an earlier run's $kind (pid $pid) is still up: this run takes it over"
            eval "reaped_$kind=1"
            keep+="$kind $pid $st $comm"$'\n' ;;
        *)
            log "an earlier run left $comm (pid $pid) running: ending it"
            kill "$pid" 2>/dev/null
            ended+=" $pid" ;;
        esac
    done <"$tier_record_file"
    printf '%s' "$keep" >"$tier_record_file"
    for pid in $ended; do
        wait_for 10 "pid $pid to exit after SIGTERM" sh -c "! kill -0 $pid 2>/dev/null" || kill -9 "$pid" 2>/dev/null
    done
}

# forget this run's record once it cleaned up after itself
tier_end() { rm -f "$tier_record_file"; }

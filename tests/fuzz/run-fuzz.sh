#!/bin/bash
# Run one libFuzzer target: first its regression inputs (tests/fuzz/
# regressions/NAME/, each once), then $VSPAN_FUZZ_SECONDS (default 60) of
# fuzzing from the seed corpus.  Fails on any crash, leak, sanitizer report
# or assertion; the input that did it is kept in $VSPAN_FUZZ_ARTIFACTS
# (default /tmp/vspan-fuzz-artifacts) to be added to the regressions.
# Usage: run-fuzz.sh TARGET MAKE_PROTO_SEEDS FUZZ_DIR SEED_DIR...
set -u
target=$1 make_seeds=$2 fuzzdir=$3
shift 3
name=$(basename "$target")
seconds=${VSPAN_FUZZ_SECONDS:-60}
art=${VSPAN_FUZZ_ARTIFACTS:-/tmp/vspan-fuzz-artifacts}/$name
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/corpus" "$T/seeds" "$art"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export G_SLICE=always-malloc    # slice allocations are invisible to LeakSanitizer
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

reg=$fuzzdir/regressions/$name
if [ -d "$reg" ] && [ -n "$(ls -A "$reg")" ]; then
    if "$target" "$reg"/* >"$T/reg.log" 2>&1; then
        echo "ok - $name: $(ls "$reg" | wc -l) regression inputs run clean"
    else
        echo "not ok - $name: a regression input fails again"; tail -40 "$T/reg.log"; exit 1
    fi
fi

for d in "$@"; do
    find "$d" -maxdepth 1 -type f -name '*.xml' -exec cp {} "$T/seeds/" \;
done
[ "$name" = fuzz-proto ] && "$make_seeds" "$T/seeds"
nseeds=$(ls "$T/seeds" | wc -l)
dict=()
[ "$name" != fuzz-proto ] && dict=(-dict="$fuzzdir/xml.dict")
"$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$art/" "${dict[@]}" "$T/corpus" "$T/seeds" >"$T/log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$T/log")
done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$T/log" | tail -1)
cov=$(echo "$done_line" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
ft=$(echo "$done_line" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
corp=$(echo "$done_line" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
if [ "$rc" -ne 0 ]; then
    echo "not ok - $name: libFuzzer exit $rc after ${execs:-?} executions; input kept in $art"
    grep -E 'ERROR|SUMMARY|assertion|runtime error|#[0-9]+ 0x' "$T/log" | head -40
    exit 1
fi
echo "ok - $name: ${seconds} s, ${execs} executions, cov ${cov} edges, ft ${ft}, corpus ${nseeds} seeds -> ${corp}, 0 crashes"

#!/bin/sh
# Run one libFuzzer target; called by the Makefile's fuzzing section.
#
#   run.sh fuzz    BIN NAME SECONDS   fuzz for SECONDS on a work copy of the corpus
#   run.sh regress BIN NAME           run every corpus and regression input once
#   run.sh merge   BIN NAME           merge the work corpus into the committed one
#
# The committed corpus (tests/fuzz/corpus/NAME) and regressions
# (tests/fuzz/regressions/NAME) are only read: new inputs go to
# build/fuzz/work/NAME, crashes to build/fuzz/artifacts/NAME/, the full output
# to build/fuzz/logs/NAME.log.
set -u
mode=$1 bin=$2 name=$3
top=${FUZZ_BUILD:-build/fuzz}
corpus=tests/fuzz/corpus/$name
regress=tests/fuzz/regressions/$name
work=$top/work/$name
art=$top/artifacts/$name
log=$top/logs/$name.log
mkdir -p "$work" "$art" "$top/logs"
dict=
[ -f "tests/fuzz/dict/$name.dict" ] && dict="-dict=tests/fuzz/dict/$name.dict"
dirs=
for d in "$corpus" "$regress"; do [ -d "$d" ] && dirs="$dirs $d"; done
# ASan: report leaks too; UBSan: stop at the first report with a stack.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}"

case $mode in
fuzz)
    secs=$4
    # shellcheck disable=SC2086
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$art/" $dict "$work" $dirs >"$log" 2>&1
    rc=$?
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(printf '%s\n' "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(printf '%s\n' "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    corp=$(printf '%s\n' "$last" | sed -n 's/.*corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p')
    printf 'fuzz %-20s %4ss  %10s runs  %7s exec/s  cov %5s  ft %6s  corpus %s\n' \
        "$name" "$secs" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
    if [ $rc -ne 0 ]; then
        echo "fuzz $name: FAILED (exit $rc); the end of $log:"
        tail -n 60 "$log" | sed 's/^/    /'
        echo "fuzz $name: crash inputs in $art/:"
        ls -1 "$art" | sed 's/^/    /'
        echo "  minimise: $bin -minimize_crash=1 -runs=20000 -exact_artifact_path=$regress/<what> $art/crash-..."
        exit 1
    fi
    ;;
regress)
    files=0
    # shellcheck disable=SC2086
    [ -n "$dirs" ] && files=$(find $dirs -type f | wc -l)
    if [ "$files" -eq 0 ]; then echo "fuzz-regress $name: no inputs"; exit 0; fi
    # Files on the command line are each run once: nothing is written anywhere.
    # shellcheck disable=SC2086
    find $dirs -type f -print0 | xargs -0 "$bin" -timeout=10 -rss_limit_mb=2048 >"$log" 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then
        echo "fuzz-regress $name: FAILED; the end of $log:"
        tail -n 60 "$log" | sed 's/^/    /'
        exit 1
    fi
    printf 'fuzz-regress %-20s %4s inputs ok\n' "$name" "$files"
    ;;
merge)
    # Only on request (make fuzz-merge): keep what adds coverage.
    # shellcheck disable=SC2086
    "$bin" -merge=1 -timeout=10 -rss_limit_mb=2048 $dict "$corpus" "$work" >"$log" 2>&1 || {
        tail -n 30 "$log"; exit 1; }
    echo "fuzz-merge $name: $(find "$corpus" -type f | wc -l) files in $corpus"
    ;;
*)
    echo "run.sh: unknown mode $mode" >&2
    exit 2
    ;;
esac

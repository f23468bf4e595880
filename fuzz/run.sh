#!/usr/bin/env bash
# Runs every libFuzzer target of fuzz/ for a fixed budget (FUZZ_RUNS executions each, default
# 10^6; FUZZ_SECONDS caps the time per target, default 3600 s, 7200 s for HDF5, whose reader
# probes each file in a child process: 150-400 inputs a second against 750-5000 for the others),
# one target per core at a time, seeded from the repository's test fixtures, a small simulated run and ../shared
# when present. A crash, a hang (> 1 s per input, -timeout=1) or a leak stops that target with
# its input in fuzz/findings/TARGET/. Prints a table: executions, executions per second, coverage
# (libFuzzer's cov:/ft:), the slowest input (s) and peak RSS per target. Exits non-zero when a
# target found something or stopped short of FUZZ_RUNS.
set -euo pipefail
cd "$(dirname "$0")"
RUNS=${FUZZ_RUNS:-1000000}
# HDF5 first, on a core of its own for most of the campaign; the others after it, slowest first,
# so that the targets running side by side end near the same time.
TARGETS=${FUZZ_TARGETS:-"hdf5 ruby edf cbf mar345 pattern fit2d-mask tiff poni run-conf"}
JOBS=${FUZZ_JOBS:-1}

swift build -c release --product beamline-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library >/dev/null
binary=$(swift build -c release --show-bin-path -Xswiftc -sanitize=fuzzer,address)/beamline-fuzz

# Small seeds, made here: a simulated 32×32 run (MAR345 and HDF5) converted to TIFF and EDF, so
# that a whole file fits in the input length (below) and an execution takes well under a
# millisecond; then every small file of each kind the repository and ../shared hold.
beamline=${BEAMLINE:-../.build/release/beamline}
if [ -x "$beamline" ] && [ ! -f seeds/mar/images/CeO2.mar32 ]; then
    rm -rf seeds seeds.tmp && mkdir -p seeds.tmp
    "$beamline" simulate -o seeds.tmp/mar --size 32 --pressures 1 >/dev/null
    "$beamline" simulate -o seeds.tmp/h5 --size 32 --pressures 1 --hdf5 >/dev/null
    for image in seeds.tmp/mar/images/CeO2.mar32 seeds.tmp/mar/images/glass_293K_00.mar32; do
        stem=$(basename "$image" .mar32)
        "$beamline" convert "$image" "seeds.tmp/$stem.tif" >/dev/null
        "$beamline" convert "$image" "seeds.tmp/${stem}_int.tif" --integer >/dev/null
        "$beamline" convert "$image" "seeds.tmp/$stem.edf" >/dev/null
    done
    mv seeds.tmp seeds
fi

repo=..
seed() {  # TARGET PATTERN...
    local dir=corpus/$1; shift
    mkdir -p "$dir"
    for pattern in "$@"; do
        find seeds "$repo/Tests" "$repo/pipelines" "$repo/../shared/data" -type f -name "$pattern" -size -400k 2>/dev/null \
            | head -40 | while read -r f; do cp "$f" "$dir/" 2>/dev/null || true; done
    done
}
seed mar345 '*.mar*'
seed tiff '*.tif' '*.tiff'
seed edf '*.edf'
seed cbf '*.cbf'
seed hdf5 '*.h5' '*.nxs'
seed fit2d-mask '*.msk'
seed poni '*.poni'
seed pattern '*.xy' '*.chi' '*.dat'
seed ruby '*ruby*.txt' 'glass_*.txt'
seed run-conf '*.conf'

# The longest input libFuzzer makes (FUZZ_MAX_LEN overrides): the 32×32 seed files whole (HDF5's
# metadata alone is ~12 kB, a MAR345 header 4 kB); text formats need far less. Longer inputs
# only slow every execution down (a seed longer than this is cut to it).
max_len() {
    case $1 in
        hdf5) echo 16384 ;;
        mar345 | tiff | edf | cbf | fit2d-mask) echo 8192 ;;
        *) echo 4096 ;;
    esac
}
seconds() {
    case $1 in
        hdf5) echo "${FUZZ_SECONDS:-7200}" ;;
        *) echo "${FUZZ_SECONDS:-3600}" ;;
    esac
}

# One job per target runs in its own process (its statistics in the target's log), FUZZ_PARALLEL
# targets at a time (default: one per core); FUZZ_JOBS > 1 gives a target libFuzzer's forked jobs
# instead, each logging to fuzz-N.log.
parallel=""
if [ "$JOBS" -gt 1 ]; then parallel="-jobs=$JOBS -workers=$JOBS"; fi
at_once=${FUZZ_PARALLEL:-$(nproc 2>/dev/null || echo 1)}

fuzz_target() {  # TARGET: runs it, then writes its row of the table to findings/TARGET/result
    local target=$1 log=findings/$1/fuzz.log code
    # libhdf5 and libtiff are not instrumented: a huge malloc in them returns NULL (their error
    # path) as it would without the sanitizer, instead of stopping the run.
    # Leaks inside those libraries' error paths are suppressed (fuzz/lsan.supp); ours are not.
    # Variable-length HDF5 strings are read in a child process with a time limit (libhdf5 loops on
    # some damaged global heaps): 300 ms here, so that such a file is an error inside the 1 s limit.
    # A 16 MB quarantine instead of ASan's 256 MB: less memory to scan at each leak check (libhdf5
    # leaks on the error paths of damaged files, so LeakSanitizer runs after many HDF5 inputs);
    # freed memory is still poisoned until reused.
    set +e
    BEAMLINE_HDF5_STRING_TIMEOUT_MS=${BEAMLINE_HDF5_STRING_TIMEOUT_MS:-300} \
    LSAN_OPTIONS=suppressions=$PWD/lsan.supp:${LSAN_OPTIONS:-} \
    ASAN_OPTIONS=allocator_may_return_null=1:quarantine_size_mb=16:${ASAN_OPTIONS:-} \
    BEAMLINE_FUZZ_TARGET=$target "$binary" "corpus/$target" -runs="$RUNS" -max_total_time="$(seconds "$target")" \
        -timeout=1 -rss_limit_mb=2048 -max_len="${FUZZ_MAX_LEN:-$(max_len "$target")}" $parallel \
        -artifact_prefix="findings/$target/" -print_final_stats=1 > "$log" 2>&1
    code=$?
    set -e
    local runs speed cov ft slowest rss result=ok
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    slowest=$(grep -o 'stat::slowest_unit_time_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    if [ "$code" -ne 0 ]; then result="FINDING (exit $code, see $log)"
    elif [ "${runs:-0}" -lt "$RUNS" ]; then result="budget: stopped at the time limit"; fi
    printf '%-12s %12s %8s %7s %7s %8s %7s  %s\n' "$target" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" \
        "${slowest:-?}" "${rss:-?}" "$result" > "findings/$target/result"
}

running=0
for target in $TARGETS; do
    mkdir -p "findings/$target"
    rm -f "findings/$target/result"
    fuzz_target "$target" &
    running=$((running + 1))
    if [ "$running" -ge "$at_once" ]; then wait -n || true; running=$((running - 1)); fi
done
wait

status=0
printf '%-12s %12s %8s %7s %7s %8s %7s  %s\n' target executions "exec/s" cov ft "slowest" "rss_MB" result
for target in $TARGETS; do
    row=$(cat "findings/$target/result" 2>/dev/null || echo "$target ? (no result)")
    echo "$row"
    case $row in *FINDING* | *"no result"* | *budget*) status=1 ;; esac
done
exit $status

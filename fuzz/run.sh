#!/usr/bin/env bash
# Runs every libFuzzer target of fuzz/ for a fixed budget (FUZZ_RUNS executions each, default
# 10^6; FUZZ_SECONDS caps the time per target, default 900), seeded from the repository's test
# fixtures, the simulated example run and ../shared when present. A crash, a hang (> 1 s per input,
# -timeout=1) or a leak stops that target with its input in fuzz/findings/TARGET/; the script
# then exits non-zero. Prints executions per second and coverage (libFuzzer's cov:/ft:) per target.
set -euo pipefail
cd "$(dirname "$0")"
RUNS=${FUZZ_RUNS:-1000000}
SECONDS_PER_TARGET=${FUZZ_SECONDS:-900}
TARGETS=${FUZZ_TARGETS:-"mar345 tiff edf cbf hdf5 fit2d-mask poni pattern ruby run-conf"}
JOBS=${FUZZ_JOBS:-1}

swift build -c release --product beamline-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library >/dev/null
binary=$(swift build -c release --show-bin-path -Xswiftc -sanitize=fuzzer,address)/beamline-fuzz

# Small seeds, made here: a simulated 48×48 run (MAR345 and HDF5) converted to TIFF and EDF, so
# that an execution takes well under a millisecond; then every small file of each kind the
# repository and ../shared hold.
beamline=${BEAMLINE:-../.build/release/beamline}
if [ -x "$beamline" ] && [ ! -d seeds ]; then
    rm -rf seeds.tmp && mkdir -p seeds.tmp
    "$beamline" simulate -o seeds.tmp/mar --size 48 --pressures 1 >/dev/null
    "$beamline" simulate -o seeds.tmp/h5 --size 48 --pressures 1 --hdf5 >/dev/null
    for image in seeds.tmp/mar/images/CeO2.mar48 seeds.tmp/mar/images/glass_293K_00.mar48; do
        stem=$(basename "$image" .mar48)
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

# One job runs in this process (its statistics in the target's log); several run as libFuzzer's
# forked jobs, each logging to fuzz-N.log.
parallel=""
if [ "$JOBS" -gt 1 ]; then parallel="-jobs=$JOBS -workers=$JOBS"; fi
status=0
printf '%-12s %12s %10s %10s %8s  %s\n' target executions "exec/s" cov ft result
for target in $TARGETS; do
    mkdir -p "findings/$target"
    log=findings/$target/fuzz.log
    set +e
    # libhdf5 and libtiff are not instrumented: a huge malloc in them returns NULL (their error
    # path) as it would without the sanitizer, instead of stopping the run.
    # Leaks inside those libraries' error paths are suppressed (fuzz/lsan.supp); ours are not.
    # Variable-length HDF5 strings are read in a child process with a time limit (libhdf5 loops on
    # some damaged global heaps): 300 ms here, so that such a file is an error inside the 1 s limit.
    BEAMLINE_HDF5_STRING_TIMEOUT_MS=${BEAMLINE_HDF5_STRING_TIMEOUT_MS:-300} \
    LSAN_OPTIONS=suppressions=$PWD/lsan.supp:${LSAN_OPTIONS:-} \
    ASAN_OPTIONS=allocator_may_return_null=1:${ASAN_OPTIONS:-} BEAMLINE_FUZZ_TARGET=$target "$binary" "corpus/$target" -runs="$RUNS" -max_total_time="$SECONDS_PER_TARGET" \
        -timeout=1 -rss_limit_mb=2048 -max_len=${FUZZ_MAX_LEN:-65536} $parallel \
        -artifact_prefix="findings/$target/" -print_final_stats=1 > "$log" 2>&1
    code=$?
    set -e
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    result=ok
    if [ "$code" -ne 0 ]; then result="FINDING (exit $code, see $log)"; status=1
    elif [ "${runs:-0}" -lt "$RUNS" ]; then result="budget: stopped at the time limit"; fi
    printf '%-12s %12s %10s %10s %8s  %s\n' "$target" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "$result"
done
exit $status

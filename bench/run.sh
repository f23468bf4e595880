#!/usr/bin/env bash
# A whole run, end to end, against the same reduction in Python with fabio + pyFAI, in one run.
#
# 1. A generated run of 34 MAR345 3450x3450 plates (32 samples on two isotherms, CeO2, the
#    empty cell; ruby spectra), made once with `beamline simulate` into bench/out/run3450.
#    Reduced from nothing to report.html with pipelines/dac.mk and `make -j2` (calibration,
#    one engine for the run, diamond spots, bbox, sigma clipping 3, 3000 bins, ruby pressures,
#    S(Q) with the background scale and density refined, peaks, series, report): wall time,
#    and the peak RSS of every stage (each recipe is timed through a SHELL wrapper).
# 2. A Python script doing only read + sigma-clipped integration of the same 34 images with
#    fabio (its CCP4 decoder) and pyFAI's sigma_clip_ng (engine built once and reused: the
#    plate's circle as the mask, zeros as dummy; bbox, csr, 3000 bins, thres 3, max_iter 5,
#    polarization 0.99, Poisson errors): wall time and peak RSS; the ratio of the two.
# 3. `beamline integrate` of 6 frames end to end (read, build the engine, integrate, write
#    .xy) against the same in one Python process (fabio + pyFAI integrate1d + writing), for
#    no splitting and bbox.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=bench/.venv
OUT=bench/out
RUN=$OUT/run3450
mkdir -p "$OUT"
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install -q pyFAI fabio numpy
swift build -c release --static-swift-stdlib --product beamline >/dev/null
BEAMLINE=$ROOT/.build/release/beamline

if [ ! -f "$RUN/data/run.conf" ]; then
    pressures=$(python3 -c "print(','.join(f'{0.5 + 1.4 * i:.1f}' for i in range(16)))")
    echo "Generating the run (once): 34 plates of 3450x3450 in $RUN/data"
    "$BEAMLINE" simulate -o "$RUN/data" --size 3450 --pressures "$pressures" > /dev/null
    python3 - "$RUN/data/run.conf" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
settings = ("[mask]\nspot_k = 6\n\n[integration]\nbins = 3000\npolarization = 0.99\nsplit = bbox\nsigma_clip = 3\n\n"
            "[sq]\noptions = --qmax 13.5 --lorch --rmax 15\n\n[pressure]\nruby_scale = shen2020\n")
open(path, "w").write(text.replace("[pressure]\n", settings, 1))
PY
fi
cat > "$RUN/Makefile" <<EOF
CONFIG = data/run.conf
OUT = out
BEAMLINE = $BEAMLINE
include $ROOT/pipelines/dac.mk
EOF
# Each recipe through /usr/bin/time: its command and peak RSS go to stages.log.
cat > "$RUN/timed-shell" <<'EOF'
#!/bin/sh
exec /usr/bin/time -a -o "$STAGES_LOG" -f "%M %e %C" /bin/sh "$@"
EOF
chmod +x "$RUN/timed-shell"

rm -rf "$RUN/out" "$RUN/stages.log"
sync
start=$(date +%s.%N)
( cd "$RUN" && STAGES_LOG=$PWD/stages.log make -j2 SHELL=$PWD/timed-shell > make.log 2>&1 ) || { tail "$RUN/make.log"; exit 1; }
end=$(date +%s.%N)
pipeline_s=$(python3 -c "print(f'{$end - $start:.1f}')")

"$VENV/bin/python" - "$RUN" "$pipeline_s" "$BEAMLINE" <<'PY'
import collections, glob, logging, os, re, resource, shutil, subprocess, sys, time
import numpy as np
import fabio, pyFAI
from fabio import mar345image
from fabio.ext import mar345_IO

run, pipeline_s, beamline = sys.argv[1], float(sys.argv[2]), sys.argv[3]
# pyFAI warns that sigma_clip_ng is meant without pixel splitting; bbox is asked for on both sides.
logging.getLogger("pyFAI").setLevel(logging.ERROR)

# Peak RSS per stage (the subcommand of each beamline recipe).
stages = collections.defaultdict(lambda: [0, 0, 0.0])
for line in open(f"{run}/stages.log"):
    m = re.match(r"(\d+) ([\d.]+) /bin/sh -c (.*)", line.strip())
    if not m or beamline not in m.group(3):
        continue
    command = m.group(3).split(beamline, 1)[1].split()
    name = command[0] + (" " + command[1] if command[0] == "pressure" else "")
    s = stages[name]
    s[0] = max(s[0], int(m.group(1)))
    s[1] += 1
    s[2] += float(m.group(2))
images = sorted(glob.glob(f"{run}/data/images/*.mar3450"))
print(f"Whole run: {len(images)} MAR345 3450x3450 plates, raw -> report.html, make -j2, "
      f"2 cores: {pipeline_s:.1f} s")
print(f"  {'stage':16s} {'runs':>5s} {'sum of wall':>12s} {'peak RSS':>10s}")
for name, (rss, n, wall) in sorted(stages.items(), key=lambda kv: -kv[1][2]):
    print(f"  {name:16s} {n:5d} {wall:10.1f} s {rss / 1024:7.0f} MB")

def read(path):
    """fabio's header reader and its CCP4 decoder (its default codec mis-decodes 32-bit blocks)."""
    image = mar345image.mar345image()
    with open(path, "rb") as f:
        image._readheader(f)
    raw = open(path, "rb").read()
    dim2, dim1 = image._shape
    return mar345_IO.uncompress_pck(raw[4096:], dim1, dim2, image.numhigh, byteorder=image.byteorder, use_CCP4=True)

poni = f"{run}/out/geometry.poni"
ai = pyFAI.load(poni)
n = 3450
y, x = np.ogrid[0:n, 0:n]
plate = ((x + 0.5 - n / 2) ** 2 + (y + 0.5 - n / 2) ** 2 > (n / 2) ** 2).astype(np.int8)
kw = dict(unit="q_A^-1", method=("bbox", "csr", "cython"), polarization_factor=0.99, correctSolidAngle=True,
          error_model="poisson", thres=3, max_iter=5, mask=plate, dummy=0, delta_dummy=0.5)
t0 = time.perf_counter()
for path in images:
    data = read(path)
    result = ai.sigma_clip_ng(data, 3000, **kw)
python_s = time.perf_counter() - t0
python_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"fabio {fabio.version} + pyFAI {pyFAI.version}, read + sigma_clip_ng of the same {len(images)} plates "
      f"(engine reused): {python_s:.1f} s, peak RSS {python_rss:.0f} MB")
print(f"  whole beamline run / pyFAI read+integrate only: {python_s / pipeline_s:.2f}x faster")

# 6 frames end to end, each side in one process from a cold start.
six = images[2:8]
xy = f"{run}/six"
for split, method in (("none", ("no", "csr", "cython")), ("bbox", ("bbox", "csr", "cython"))):
    shutil.rmtree(xy, ignore_errors=True)
    os.makedirs(xy)
    t0 = time.perf_counter()
    run_ours = subprocess.run(["/usr/bin/time", "-f", "maxrss_kb %M", beamline, "integrate", *six, "--poni", poni,
                               "--bins", "3000", "--polarization", "0.99", "--split", split, "-o", xy],
                              check=True, capture_output=True, text=True)
    ours_s = time.perf_counter() - t0
    ours_rss = int(run_ours.stderr.split("maxrss_kb")[-1].split()[0]) / 1024
    t0 = time.perf_counter()
    ai = pyFAI.load(poni)
    for path in six:
        r = ai.integrate1d(read(path), 3000, unit="q_A^-1", method=method, polarization_factor=0.99,
                           correctSolidAngle=True, error_model="poisson", mask=plate, dummy=0, delta_dummy=0.5)
        np.savetxt(f"{xy}/{os.path.basename(path)}.pyfai.xy", np.column_stack([r.radial, r.intensity, r.sigma]))
    theirs_s = time.perf_counter() - t0
    print(f"integrate 6 frames end to end, {split:4s}: beamline {ours_s:5.2f} s (peak RSS {ours_rss:.0f} MB), "
          f"fabio + pyFAI {theirs_s:5.2f} s: {theirs_s / ours_s:.1f}x")
PY

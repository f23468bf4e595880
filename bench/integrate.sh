#!/usr/bin/env bash
# Azimuthal integration: beamline against pyFAI, same image, same geometry, same run.
#
# 1. A 3450x3450 image (MAR345-sized), 2000 bins in q, polarization 0.99, solid angle:
#    pyFAI integrate1d (cython CSR, no splitting and bbox) against `beamline-bench
#    integrate` (release build, engine built once and warm); ms/frame, ratio, and
#    beamline's effective memory bandwidth (bytes read per frame / time).
# 2. End to end on a 100-frame 1000x1000 gzip HDF5 stack (Eiger-like, written with
#    h5py): `beamline integrate` reading, integrating and writing every frame; frames/s
#    and peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=bench/.venv
OUT=bench/out
mkdir -p "$OUT"
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install -q pyFAI fabio numpy tifffile h5py
swift build -c release --static-swift-stdlib --product beamline >/dev/null
swift build -c release --static-swift-stdlib --product beamline-bench >/dev/null

"$VENV/bin/python" - "$OUT" <<'PY'
import os, subprocess, sys, time
import numpy as np, tifffile, h5py
import pyFAI
from pyFAI.integrator.azimuthal import AzimuthalIntegrator

out = sys.argv[1]
n = 3450
rng = np.random.default_rng(3450)
y, x = np.mgrid[0:n, 0:n].astype(np.float64)
r = np.hypot(x - 1702.3, y - 1731.8)
image = rng.poisson(300 + 4000 * np.exp(-((r % 180 - 90) / 6) ** 2) + 2000 * np.exp(-r / 900)).astype(np.float32)
tifffile.imwrite(f"{out}/bench3450.tif", image)
poni = f"{out}/bench3450.poni"
with open(poni, "w") as f:
    f.write("poni_version: 2.1\nDetector: Detector\n"
            'Detector_config: {"pixel1": 0.0001, "pixel2": 0.0001, "max_shape": [3450, 3450], "orientation": 3}\n'
            "Distance: 0.25\nPoni1: 0.17318\nPoni2: 0.17023\nRot1: 0.004\nRot2: -0.003\nRot3: 0.0\nWavelength: 3.738e-11\n")
ai = pyFAI.load(poni)
repeats = 10
print(f"Azimuthal integration, 3450x3450 frame, 2000 bins, q_A^-1, polarization 0.99, solid angle; {repeats} repeats, engines warm")
print(f"{'method':10s} {'pyFAI ' + pyFAI.version:>22s} {'beamline':>12s} {'ratio':>7s}   beamline memory traffic")
for split, method in (("none", ("no", "csr", "cython")), ("bbox", ("bbox", "csr", "cython"))):
    kw = dict(unit="q_A^-1", method=method, polarization_factor=0.99, correctSolidAngle=True, error_model="poisson")
    ai.integrate1d(image, 2000, **kw)
    t0 = time.perf_counter()
    for _ in range(repeats):
        theirs = ai.integrate1d(image, 2000, **kw)
    pyfai_ms = (time.perf_counter() - t0) / repeats * 1e3
    line = subprocess.run([".build/release/beamline-bench", "integrate", f"{out}/bench3450.tif", "--poni", poni,
                           "--split", split, "--repeats", str(repeats)], check=True, capture_output=True, text=True).stdout.split()
    ours_ms = float(line[line.index("mean_ms") + 1])
    gbps = float(line[line.index("GB/s") + 1])
    mb = int(line[line.index("bytes_per_frame") + 1]) / 1e6
    print(f"{split:10s} {pyfai_ms:17.1f} ms {ours_ms:9.1f} ms {pyfai_ms / ours_ms:6.1f}x   {mb:.0f} MB/frame, {gbps:.1f} GB/s")

# End to end: 100 frames of 1000x1000 uint32, gzip, NeXus layout.
frames, size = 100, 1000
stack = f"{out}/stack100.h5"
if not os.path.exists(stack):
    yy, xx = np.mgrid[0:size, 0:size]
    rr = np.hypot(xx - 493.4, yy - 507.6)
    base = 3000 + 8000 * np.exp(-((rr % 90 - 45) / 4) ** 2)
    with h5py.File(stack, "w") as h:
        d = h.create_dataset("/entry/data/data", (frames, size, size), dtype="uint32", chunks=(1, size, size), compression="gzip")
        for i in range(frames):
            d[i] = rng.poisson(base)
stack_poni = f"{out}/stack.poni"
with open(stack_poni, "w") as f:
    f.write("poni_version: 2.1\nDetector: Detector\n"
            'Detector_config: {"pixel1": 0.000172, "pixel2": 0.000172, "max_shape": [1000, 1000], "orientation": 3}\n'
            "Distance: 0.18\nPoni1: 0.087\nPoni2: 0.0855\nRot1: 0.0035\nRot2: 0.0017\nRot3: 0.0\nWavelength: 6.199e-11\n")
t0 = time.perf_counter()
run = subprocess.run(["/usr/bin/time", "-f", "maxrss_kb %M", ".build/release/beamline", "integrate", stack, "--poni", stack_poni,
                      "--bins", "2000", "--polarization", "0.99", "--split", "bbox", "-o", f"{out}/stack_xy"],
                     check=True, capture_output=True, text=True)
elapsed = time.perf_counter() - t0
rss = int(run.stderr.split("maxrss_kb")[-1].split()[0]) / 1024
written = len([f for f in os.listdir(f"{out}/stack_xy") if f.endswith(".xy")])
print(f"End to end: {written} frames 1000x1000 gzip HDF5 -> .xy (bbox, 2000 bins) in {elapsed:.2f} s: "
      f"{written / elapsed:.1f} frames/s including engine build; peak RSS {rss:.0f} MB")
PY

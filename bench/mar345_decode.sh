#!/usr/bin/env bash
# MAR345 decoding: beamline against fabio, on the same 3450x3450 image and on the real
# image-plate files (../shared/data/real/mar345, when present), in one run.
#
# Makes a 3450x3450 image plate (rings, noise, bright spots, pixels above 65535),
# packs it with `beamline convert` (16-bit word sums, as MAR scanners write), then
# times the decode with fabio's CCP4 path (its default codec is wrong on streams with
# 32-bit blocks; see ../shared/README.md) and with beamline (release build), checks
# that both give the original pixels, and prints ms per frame, the ratio, and peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=bench/.venv
OUT=bench/out
mkdir -p "$OUT"
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install -q fabio numpy tifffile
swift build -c release --static-swift-stdlib --product beamline >/dev/null
swift build -c release --static-swift-stdlib --product beamline-bench >/dev/null

REAL=../shared/data/real/mar345
"$VENV/bin/python" - "$OUT" "$REAL" <<'PY'
import glob, hashlib, os, resource, subprocess, sys, time
import numpy as np, tifffile, fabio
from fabio.ext import mar345_IO

out, real = sys.argv[1], sys.argv[2]
n = 3450
rng = np.random.default_rng(345)
y, x = np.mgrid[0:n, 0:n].astype(np.float64)
r = np.hypot(x - 1702.3, y - 1731.8)
image = 300 + 4000 * np.exp(-((r % 180 - 90) / 6) ** 2) + 2000 * np.exp(-r / 900)
image = rng.poisson(image).astype(np.float64)
spots = rng.integers(0, n, size=(400, 2))
image[spots[:, 0], spots[:, 1]] = rng.integers(30000, 65535, size=400)
image[spots[:40, 0], spots[:40, 1]] = rng.integers(65536, 900000, size=40)
image = image.astype(np.uint32)
tifffile.imwrite(f"{out}/plate.tif", image.astype(np.float32))
subprocess.run([".build/release/beamline", "convert", f"{out}/plate.tif", f"{out}/plate.mar3450"], check=True)

raw = open(f"{out}/plate.mar3450", "rb").read()
high = int(fabio.open(f"{out}/plate.mar3450").header["NumHigh"])
repeats = 10
mar345_IO.uncompress_pck(raw[4096:], n, n, high, byteorder="<", use_CCP4=True)
t0 = time.perf_counter()
for _ in range(repeats):
    theirs = mar345_IO.uncompress_pck(raw[4096:], n, n, high, byteorder="<", use_CCP4=True)
fabio_ms = (time.perf_counter() - t0) / repeats * 1e3

run = subprocess.run(["/usr/bin/time", "-f", "maxrss_kb %M", ".build/release/beamline-bench", "decode",
                      f"{out}/plate.mar3450", "--repeats", str(repeats)], check=True, capture_output=True, text=True)
line = run.stdout.split()
ours_ms = float(line[line.index("mean_ms") + 1])
peak_ours = int(run.stderr.split("maxrss_kb")[-1].split()[0]) / 1024

subprocess.run([".build/release/beamline", "convert", f"{out}/plate.mar3450", f"{out}/ours.tif", "--integer"], check=True)
ours = tifffile.imread(f"{out}/ours.tif").astype(np.int64)
assert (theirs.astype(np.int64) == image).all(), "fabio (CCP4) does not reproduce the original pixels"
assert (ours == image).all(), "beamline does not reproduce the original pixels"
assert (ours == theirs).all()
peak_python = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"MAR345 3450x3450 decode, {repeats} repeats (pixels identical to the original and to fabio)")
print(f"  fabio {fabio.version} CCP4 : {fabio_ms:8.1f} ms/frame")
print(f"  beamline          : {ours_ms:8.1f} ms/frame")
print(f"  speed-up          : {fabio_ms / ours_ms:8.2f} x")
print(f"  peak RSS          : beamline {peak_ours:.0f} MB (file + one frame), python+fabio {peak_python:.0f} MB (whole script)")

# Real plates: fabio's default reader (which agrees with its CCP4 codec on these files) and ours.
for path in sorted(glob.glob(f"{real}/*.mar*")):
    name = os.path.basename(path)
    img = fabio.open(path)
    size = img.data.shape[0]
    high = int(img.header.get("NumHigh", 0))
    raw = open(path, "rb").read()
    start = raw.index(b"CCP4 packed image")
    t0 = time.perf_counter()
    for _ in range(repeats):
        theirs = mar345_IO.uncompress_pck(raw[4096:], size, size, high, byteorder="<", use_CCP4=True)
    fabio_ms = (time.perf_counter() - t0) / repeats * 1e3
    run = subprocess.run([".build/release/beamline-bench", "decode", path, "--repeats", str(repeats)],
                         check=True, capture_output=True, text=True)
    line = run.stdout.split()
    ours_ms = float(line[line.index("mean_ms") + 1])
    subprocess.run([".build/release/beamline", "convert", path, f"{out}/real.tif", "--integer"], check=True)
    ours = tifffile.imread(f"{out}/real.tif").astype(np.uint32)
    same = hashlib.sha256(ours.astype("<u4").tobytes()).hexdigest() == \
        hashlib.sha256(img.data.astype("<u4").tobytes()).hexdigest()
    print(f"real {name} {size}x{size}: fabio CCP4 {fabio_ms:6.1f} ms, beamline {ours_ms:6.1f} ms, "
          f"{fabio_ms / ours_ms:4.2f} x, pixels identical to fabio: {same}")
    assert same, f"{name}: beamline differs from fabio"
PY

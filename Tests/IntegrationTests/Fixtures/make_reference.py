"""Makes the small pyFAI reference used by IntegrationTests when ../shared is absent.

Run once with pyFAI installed (python3 -m venv v && v/bin/pip install pyFAI fabio tifffile);
the outputs are committed. The image is synthetic: Debye rings on a sloping background
with Poisson noise, on a 320 x 300 detector with a tilted geometry off the image centre.
"""
import json
import numpy as np
import pyFAI
import tifffile
from pyFAI.integrator.azimuthal import AzimuthalIntegrator
from pyFAI.detectors import Detector

rows, cols = 300, 320
det = Detector(pixel1=172e-6, pixel2=172e-6, max_shape=(rows, cols))
ai = AzimuthalIntegrator(dist=0.08, poni1=0.0231, poni2=0.0302, rot1=0.012, rot2=-0.008, rot3=0.0,
                         detector=det, wavelength=0.6199e-10)
ai.save("small.poni")
q = ai.array_from_unit(unit="q_A^-1", typ="center", scale=True)
rng = np.random.default_rng(2026)
image = 200 + 30 * q + sum(3000 * np.exp(-0.5 * ((q - q0) / 0.03) ** 2) for q0 in (1.2, 2.1, 2.9, 3.6))
image = rng.poisson(image).astype(np.float32)
mask = np.zeros((rows, cols), np.uint8)
mask[120:140, 150:200] = 1  # a beam-stop arm
mask[:, 0:3] = 1
tifffile.imwrite("small.tif", image)
tifffile.imwrite("small_mask.tif", mask)
common = dict(polarization_factor=0.99, correctSolidAngle=True, mask=mask, error_model="poisson")
for split in ("no", "bbox", "full"):
    r = ai.integrate1d(image, 400, unit="q_A^-1", method=(split, "csr", "cython"), **common)
    np.savetxt(f"small.{split}.q.xy", np.column_stack([r.radial, r.intensity, r.sigma]),
               header=f"pyFAI {pyFAI.version} integrate1d npt=400 unit=q_A^-1 method=({split},csr,cython) polarization=0.99 solid angle, mask small_mask.tif, poisson")
r = ai.integrate1d(image, 300, unit="2th_deg", method=("bbox", "csr", "cython"), **common)
np.savetxt("small.bbox.2th.xy", np.column_stack([r.radial, r.intensity, r.sigma]),
           header=f"pyFAI {pyFAI.version} integrate1d npt=300 unit=2th_deg method=(bbox,csr,cython) polarization=0.99 solid angle, mask, poisson")
r = ai.integrate1d(image, 300, unit="r_mm", method=("no", "csr", "cython"), **common)
np.savetxt("small.no.r.xy", np.column_stack([r.radial, r.intensity, r.sigma]),
           header=f"pyFAI {pyFAI.version} integrate1d npt=300 unit=r_mm method=(no,csr,cython) polarization=0.99 solid angle, mask, poisson")
# Dark, flat and normalization factor.
dark = np.full((rows, cols), 20, np.float32)
flat = (1 + 0.1 * np.sin(np.arange(cols) / 7.0))[None, :].repeat(rows, 0).astype(np.float32)
tifffile.imwrite("small_dark.tif", dark)
tifffile.imwrite("small_flat.tif", flat)
r = ai.integrate1d(image, 400, unit="q_A^-1", method=("no", "csr", "cython"), dark=dark, flat=flat,
                   normalization_factor=2.5, **common)
np.savetxt("small.no.dark_flat_norm.q.xy", np.column_stack([r.radial, r.intensity, r.sigma]),
           header=f"pyFAI {pyFAI.version} integrate1d npt=400 unit=q_A^-1 method=(no,csr,cython) dark=small_dark.tif flat=small_flat.tif normalization_factor=2.5 polarization=0.99 solid angle, mask, poisson")
# Per-pixel 2theta, chi, solid angle and polarization at a few pixels.
tth = ai.twoThetaArray()
chi = ai.chiArray()
sa = ai.solidAngleArray()
pol = ai.polarization(factor=0.99)
picks = [(0, 0), (150, 160), (299, 319), (10, 300), (250, 20)]
json.dump({"pixels": [{"row": i, "col": j, "tth_rad": float(tth[i, j]), "chi_rad": float(chi[i, j]),
                       "solid_angle": float(sa[i, j]), "polarization_0.99": float(pol[i, j])} for i, j in picks],
           "fit2d": {k: (v if not isinstance(v, (np.floating,)) else float(v)) for k, v in ai.getFit2D().items()
                     if k in ("directDist", "centerX", "centerY", "tilt", "tiltPlanRotation", "pixelX", "pixelY")}},
          open("small_geometry.json", "w"), indent=1)

"""Reference values for the real-file conformance tests, from the programs the files' authors use.

Run from this folder with fabio, tifffile, h5py and numpy installed (bench/.venv has them):
    python make_reference.py /path/to/shared/data/real
It crops the real Pilatus 1M image (rows 150-349, which cross a horizontal module gap) into
pilatus1m_crop.tif with tifffile, writes nexus_default.h5 and nexus_two_images.h5 with h5py,
and records in reference.json what fabio, tifffile and h5py read from every file here.
"""
import hashlib, json, sys
import numpy as np, fabio, tifffile, h5py

real = sys.argv[1]


def describe(array, dtype):
    a = np.ascontiguousarray(array).astype(dtype)
    return {"shape": list(a.shape), "dtype": np.dtype(dtype).name, "min": float(a.min()), "max": float(a.max()),
            "mean": float(a.astype(np.float64).mean()), "sum": int(a.astype(np.int64).sum()),
            "sha256_le": hashlib.sha256(a.astype(np.dtype(dtype).newbyteorder("<")).tobytes()).hexdigest()}


ref = {}
for name in ["example.mar2300", "nx09_strain_006.mar2300"]:
    default = fabio.open(name).data
    entry = describe(default, "uint32")
    entry["reader"] = f"fabio {fabio.version}"
    ref[name] = entry

full = tifffile.imread(f"{real}/dioptas/CeO2_Pilatus1M.tif")
crop = full[150:350]
tifffile.imwrite("pilatus1m_crop.tif", crop, compression="zlib")
entry = describe(tifffile.imread("pilatus1m_crop.tif"), "int32")
entry["reader"] = f"tifffile {tifffile.__version__}"
entry["negative_pixels"] = int((crop < 0).sum())
entry["full_image_negative_pixels"] = int((full < 0).sum())
entry["full_image_shape"] = list(full.shape)
ref["pilatus1m_crop.tif"] = entry

with h5py.File("lambda_m1_part00000.nxs", "r") as f:
    data = f["entry/instrument/detector/data"][...]
    entry = describe(data, "int16")
    entry["reader"] = f"h5py {h5py.__version__}"
    entry["dataset"] = "/entry/instrument/detector/data"
    ref["lambda_m1_part00000.nxs"] = entry

rng = np.random.default_rng(7)
image = rng.integers(0, 1000, size=(2, 40, 30)).astype(np.uint16)
with h5py.File("nexus_default.h5", "w") as f:
    # The NeXus default chain points at scan/plots/frames; a decoy sits at /entry/data/data.
    f.attrs["default"] = "scan"
    scan = f.create_group("scan"); scan.attrs["NX_class"] = "NXentry"; scan.attrs["default"] = "plots"
    plots = scan.create_group("plots"); plots.attrs["NX_class"] = "NXdata"; plots.attrs["signal"] = "frames"
    plots.create_dataset("frames", data=image, compression="gzip")
    decoy = f.create_group("entry").create_group("data")
    decoy.create_dataset("data", data=np.zeros((5, 5), dtype=np.uint16))
entry = describe(image, "uint16")
entry["reader"] = f"h5py {h5py.__version__}"
entry["dataset"] = "/scan/plots/frames"
ref["nexus_default.h5"] = entry

with h5py.File("nexus_two_images.h5", "w") as f:
    g = f.create_group("measurement")
    g.create_dataset("image_a", data=image[0])
    g.create_dataset("image_b", data=image[1])
    g.create_dataset("counts", data=np.arange(10))
ref["nexus_two_images.h5"] = {"candidates": ["/measurement/image_a", "/measurement/image_b"]}

json.dump(ref, open("reference.json", "w"), indent=1, sort_keys=True)
print(json.dumps(ref, indent=1, sort_keys=True))

"""P1-P3: mammolab's ingest vs what a researcher uses today, side by side in one run.

    bash scripts/bench.sh p1 p2 p3     (generates data/default once, builds release)

P1  read both workbooks into DataFrames: pandas.read_excel (openpyxl) vs mammolab sheets.
P2  seed 001's preparation: pandas read + UniqueKey merge + os.walk per image to find each
    Non-Cancer file, vs mammolab's audited merge (reads the workbooks too, resolves every
    row's DICOM and JPG, checks every DICOM header).
P3  DICOM decode + modality LUT + VOI window + resize to 224x224: pydicom + numpy + PIL in
    one process vs mammolab on all cores (rayon); images/s. On 300 of the default cohort's
    DICOMs (384 x 312, explicit VR, 14 bits stored).
P3F the same on full-size films: 40 full mammograms of the CBIS-DDSM twin at its default
    scale (2560 x 1600, implicit VR little endian, 16 bits stored, as TCIA's files are;
    generated into data/cbis-ddsm-default once by bench.sh).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
from PIL import Image
from pydicom.pixels import apply_modality_lut, apply_voi_lut


def rust(binary, *args):
    out = subprocess.run([binary, *map(str, args)], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def best(f, repeats):
    t_best, result = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        result = f()
        t_best = min(t_best, time.perf_counter() - t)
    return t_best, result


def p1(binary, cohort):
    books = [cohort / "datacombined.xlsx", cohort / "data_validation_x.xlsx"]
    py, frames = best(lambda: [pd.read_excel(b, sheet_name=None) for b in books], 1)
    cells = sum(df.shape[0] * df.shape[1] for d in frames for df in d.values())
    rs = rust(binary, "sheets", 3, *books)
    assert rs["check"] == cells, (rs["check"], cells)
    with tempfile.TemporaryDirectory() as cache:
        again = rust(binary, "sheets-cached", 3, cache, *books)
    assert again["check"] == cells, (again["check"], cells)
    return [{"what": "P1 read workbooks", "python": "pandas.read_excel (openpyxl)", "python_s": py,
             "mammolab_s": rs["seconds"], "speedup": py / rs["seconds"], "detail": f"{cells} cells"},
            {"what": "P1 second read (cache)", "python": "pandas.read_excel (openpyxl)", "python_s": py,
             "mammolab_s": again["seconds"], "speedup": py / again["seconds"],
             "detail": "sha256 of the workbook, then its sheets from the cache"}]


def seed_001(cohort):
    combined = pd.read_excel(cohort / "datacombined.xlsx", sheet_name=None)
    listing = pd.read_excel(cohort / "data_validation_x.xlsx")
    cols = ["InputFileName", "StudyDate", "StudyTime", "PatientID.x"]
    cancer = combined["Cancer"]
    cancer["UniqueKey"] = cancer[cols].astype(str).agg("-".join, axis=1)
    listing["UniqueKey"] = listing[cols].astype(str).agg("-".join, axis=1)
    merged = pd.merge(cancer, listing, on="UniqueKey")

    def find(name, root):  # seed 001's get_image_path_from_subfolders
        for r, _dirs, files in os.walk(root):
            if name in files:
                return os.path.join(r, name)
        return None

    root = cohort / "acıbademsana"
    found = 0
    for name in combined["Non-Cancer"]["InputFileName"].astype(str):
        found += find(name.strip() + ".jpg", root / "Non-Cancer") is not None
    for path in merged["AbsolutePath"].astype(str):
        found += find(path.replace("\\", "/").rsplit("/", 1)[-1], root / "Cancer") is not None
    return len(merged), found


def p2(binary, cohort):
    py, (merged, found) = best(lambda: seed_001(cohort), 1)
    rs = rust(binary, "merge", 3, cohort / "manifest.toml")
    return {"what": "P2 merge + resolve images", "python": "pandas merge + os.walk per image",
            "python_s": py, "mammolab_s": rs["seconds"], "speedup": py / rs["seconds"],
            "detail": f"pandas: {merged} merged rows, {found} images found; mammolab: {rs['check']} rows resolved"}


def p3(binary, cohort, n=300):
    files = sorted((cohort / "acıbademsana" / "Non-Cancer").rglob("*.dcm"))[:n]
    return pixels(binary, files, "P3 DICOM -> 224x224")


def p3f(binary, cohort, n=40):
    films = Path(cohort).parent / "cbis-ddsm-default" / "CBIS-DDSM"
    files = sorted(f for f in films.rglob("*.dcm") if "full mammogram images" in str(f))[:n]
    assert len(files) == n, f"{len(files)} full mammograms under {films}"
    return pixels(binary, files, "P3F film DICOM -> 224x224")


def pixels(binary, files, what):
    def python():
        out = []
        for f in files:
            ds = pydicom.dcmread(f)
            arr = apply_voi_lut(apply_modality_lut(ds.pixel_array, ds), ds).astype(np.float32)
            lo, hi = float(arr.min()), float(arr.max())
            arr = (arr - lo) / (hi - lo) if hi > lo else arr * 0
            if ds.PhotometricInterpretation == "MONOCHROME1":
                arr = 1.0 - arr
            out.append(np.asarray(Image.fromarray(arr, mode="F").resize((224, 224), Image.BILINEAR)))
        return len(out)

    py, count = best(python, 1)
    rs = rust(binary, "pixels", 3, 224, *files)
    assert rs["check"] == count
    return {"what": what, "python": "pydicom + numpy + PIL", "python_s": py,
            "mammolab_s": rs["seconds"], "speedup": py / rs["seconds"],
            "detail": f"{count} images: {count / py:.0f} vs {count / rs['seconds']:.0f} images/s"}


if __name__ == "__main__":
    binary, cohort, which, out = sys.argv[1], Path(sys.argv[2]), sys.argv[3].split(","), sys.argv[4]
    rows = []
    for w in which:
        r = {"p1": p1, "p2": p2, "p3": p3, "p3f": p3f}[w](binary, cohort)
        rows.extend(r if isinstance(r, list) else [r])
    print(f"cohort {cohort} (profile default); mammolab best of 3, Python once")
    for r in rows:
        print(f"{r['what']:28} {r['python']:34} {r['python_s']:8.2f}s  mammolab {r['mammolab_s']:7.3f}s"
              f"  {r['speedup']:6.1f}x  ({r['detail']})")
    Path(out).write_text(json.dumps(rows, indent=1) + "\n")

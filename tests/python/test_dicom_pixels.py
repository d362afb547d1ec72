"""`mammolab dicom` against pydicom 3.0.1 (with pylibjpeg, pylibjpeg-libjpeg and pyjpegls,
so it decodes every encoding it can) on pydicom's *whole* bundled test-file set: every file
in `pydicom/data/test_files`, written by nobody here.

For each file, by what pydicom does with it:
- it decodes the pixels: mammolab's stored values of frame 0 must be equal (lossless
  transfer syntaxes: min, max, mean to 1e-9 relative, and the sha256 of every first-sample
  value), or within LOSSY_TOLERANCE (lossy JPEG, JPEG-LS near-lossless, JPEG 2000), or the
  file must be one of KNOWN_GAPS and fail in one line naming the file;
- it reads the header but there is no pixel data: `dicom` prints the header with
  `"pixel_data": false` (exit 0), unless the file is in HEADER_GAPS;
- it cannot read or decode the file: mammolab must fail in one line naming the file, or
  decode it (counted, not required).
A summary per transfer syntax is written to `out/pydicom-suite.json`.
"""

import hashlib
import json
import os
import subprocess
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pydicom
import pydicom.data
import pytest
from pydicom.data import get_testdata_file

BIN = os.environ.get("MAMMOLAB_BIN")
SUITE = Path(pydicom.data.__file__).parent / "test_files"

LOSSY = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.91"}
# Lossy decoders differ in their IDCT and colour rounding: a fraction of the value range.
LOSSY_TOLERANCE = {"min_max": 0.02, "mean": 0.002}

# Files pydicom decodes and mammolab does not, each
# with the reason; the test fails when one of them starts to decode, so the list shrinks.
KNOWN_GAPS = {
    "SC_rgb_jls_lossy_line.dcm": "colour JPEG-LS: the pure-Rust decoder reads one component",
    "SC_rgb_jls_lossy_sample.dcm": "colour JPEG-LS: the pure-Rust decoder reads one component",
    "JPGExtended.dcm": "dicom-rs's JPEG decoder has no 12-bit extended process",
    "SC_rgb_jpeg.dcm": "dicom-rs cannot parse the data set",
}
# Files whose header pydicom reads and dicom-rs does not.
HEADER_GAPS = {
    "UN_sequence.dcm": "a sequence of VR UN",
    "rtplan_truncated.dcm": "truncated: pydicom stops early, dicom-rs refuses",
    "dicomdirtests/DICOMDIR-nooffset": "a DICOMDIR without record offsets",
    "no_meta_group_length.dcm": "a file meta group without (0002,0000) group length",
}


def run(*args):
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True)


def reference(path):
    """(kind, transfer syntax, frame-0 array or None) as pydicom sees the file."""
    try:
        ds = pydicom.dcmread(path)
    except Exception:
        return "unreadable", "-", None
    ts = str(ds.file_meta.get("TransferSyntaxUID", "?")) if hasattr(ds, "file_meta") else "?"
    if "PixelData" not in ds:
        return "header", ts, None
    try:
        a = ds.pixel_array
    except Exception:
        return "undecodable", ts, None
    if int(getattr(ds, "NumberOfFrames", 1) or 1) > 1:
        a = a[0]
    return "pixels", ts, a


def one_line_error(p, rel):
    return p.returncode == 1 and p.stderr.count("\n") == 1 and p.stderr.startswith("error: ") \
        and os.path.basename(rel) in p.stderr


def test_whole_pydicom_suite():
    files = sorted(f for f in SUITE.rglob("*") if f.is_file())
    assert len(files) > 150, "pydicom's test files are missing"
    outcome, problems = {}, []
    per_ts = defaultdict(Counter)
    for f in files:
        rel = f.relative_to(SUITE).as_posix()
        kind, ts, a = reference(f)
        p = run("dicom", f, "--json")
        got = json.loads(p.stdout) if p.returncode == 0 else None
        if kind == "pixels" and rel in KNOWN_GAPS:
            result = "known gap" if one_line_error(p, rel) else "gap closed: remove from KNOWN_GAPS"
        elif kind == "pixels":
            if got is None:
                result = "fails where pydicom decodes: " + p.stderr.strip()
            else:
                first = a[..., 0] if a.ndim == 3 and got["photometric_interpretation"] != "MONOCHROME2" else a
                st = got["pixel"]
                if ts in LOSSY:
                    span = max(float(a.max()) - float(a.min()), 1.0)
                    ok = (abs(st["min"] - a.min()) <= LOSSY_TOLERANCE["min_max"] * span
                          and abs(st["max"] - a.max()) <= LOSSY_TOLERANCE["min_max"] * span
                          and abs(st["mean"] - a.astype(np.float64).mean()) <= LOSSY_TOLERANCE["mean"] * span)
                    result = "within tolerance" if ok else f"lossy values differ: {st} vs {a.min()}, {a.max()}, {a.mean()}"
                else:
                    sha = hashlib.sha256(np.ascontiguousarray(first).astype("<i8").tobytes()).hexdigest()
                    ok = (st["min"] == a.min() and st["max"] == a.max()
                          and st["mean"] == pytest.approx(float(a.astype(np.float64).mean()), rel=1e-9)
                          and got["stored_sha256"] == sha
                          and (got["rows"], got["columns"]) == a.shape[:2])
                    result = "equal" if ok else f"values differ: {st} vs {a.min()}, {a.max()}, {a.mean()}"
        elif kind == "header" and rel in HEADER_GAPS:
            result = "known header gap" if one_line_error(p, rel) else "gap closed: remove from HEADER_GAPS"
        elif kind == "header":
            result = "header only" if got is not None and got.get("pixel_data") is False \
                else "no header shown: " + (p.stderr.strip() or p.stdout[:200])
        else:
            if got is not None:
                result = "only mammolab decodes"
            elif one_line_error(p, rel):
                result = "both fail"
            else:
                result = "bad error: " + p.stderr
        outcome[rel] = (ts, result)
        per_ts[ts][result if ":" not in result else result.split(":")[0]] += 1
        if result not in ("equal", "within tolerance", "known gap", "header only", "known header gap",
                          "both fail", "only mammolab decodes"):
            problems.append(f"{rel} [{ts}]: {result}")
    Path("out").mkdir(exist_ok=True)
    Path("out/pydicom-suite.json").write_text(json.dumps(
        {"files": len(files), "totals": Counter(r for _, r in outcome.values()),
         "per_transfer_syntax": per_ts, "files_outcome": outcome}, indent=1, sort_keys=True))
    assert not problems, "\n".join(problems)


# What the one line says for a few of those files.
UNSUPPORTED = [
    ("SC_rgb_jls_lossy_line.dcm", "JPEG-LS with 3 samples per pixel is not supported"),
    ("MR_truncated.dcm", "DICOM"),
]


@pytest.mark.parametrize("name,needle", UNSUPPORTED)
def test_unsupported_and_broken_files_fail_in_one_line(name, needle):
    path = get_testdata_file(name)
    p = run("dicom", path, "--json")
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("error: ")
    assert name in p.stderr and needle in p.stderr, p.stderr


def test_truncated_32bit_rle_fails_in_one_line(tmp_path):
    """pydicom's 32-bit RLE file (which mammolab decodes itself: dicom-rs refuses 32-bit RLE)
    with its frame cut short: one line naming the file and the frame, no panic."""
    from pydicom.encaps import encapsulate, generate_frames
    ds = pydicom.dcmread(get_testdata_file("SC_rgb_rle_32bit.dcm"))
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    for cut, needle in [(len(frame) // 2, "frame 0: RLE segment"), (40, "frame 0: RLE")]:
        ds.PixelData = encapsulate([frame[:cut]])
        path = tmp_path / f"rle32_cut{cut}.dcm"
        ds.save_as(path)
        p = run("dicom", path, "--json")
        assert p.returncode == 1, p.stdout
        assert p.stderr.count("\n") == 1 and p.stderr.startswith("error: ") and "panicked" not in p.stderr
        assert path.name in p.stderr and needle in p.stderr, p.stderr


def stored_sha(a):
    return hashlib.sha256(np.ascontiguousarray(a).astype("<i8").tobytes()).hexdigest()


@pytest.mark.parametrize("name", ["JPEGLSNearLossless_08.dcm", "JPEGLSNearLossless_16.dcm",
                                  "MR_small_jpeg_ls_lossless.dcm"])
def test_jpeg_ls_decodes_as_charls_does(name):
    """mammolab's JPEG-LS decoder (pure_jpegls) against CharLS (pydicom's pyjpegls plugin) on
    pydicom's greyscale JPEG-LS files: every stored value equal, near-lossless included (the
    decoder is deterministic: equal, not within a tolerance)."""
    path = get_testdata_file(name)
    a = pydicom.dcmread(path).pixel_array
    got = json.loads(run("dicom", path, "--json").stdout)
    assert got["stored_sha256"] == stored_sha(a)
    assert (got["pixel"]["min"], got["pixel"]["max"]) == (a.min(), a.max())


@pytest.mark.parametrize("uid,options", [
    ("1.2.840.10008.1.2.4.80", {}),
    ("1.2.840.10008.1.2.4.81", {"jls_error": 3}),
])
def test_multiframe_signed_jpeg_ls_from_charls_decodes_frame_by_frame(tmp_path, uid, options):
    """Three frames of signed 12-bit values in 16 bits, compressed by CharLS (pydicom's
    `compress` with pyjpegls), one fragment a frame: every frame mammolab decodes equals
    what CharLS gives back, sign included."""
    from pydicom.uid import UID
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    rng = np.random.default_rng(7)
    # Within 12 bits less the NEAR of 3 (pydicom refuses lossy signed values nearer the edge).
    frames = rng.integers(-2045, 2044, size=(3, 64, 64), dtype=np.int16)
    frames[:, :16, :16] = -2045  # a flat corner: JPEG-LS's run mode
    ds.NumberOfFrames = 3
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 1
    ds.compress(UID(uid), frames, **options)
    path = tmp_path / "multiframe.dcm"
    ds.save_as(path)
    back = pydicom.dcmread(path).pixel_array
    if not options:
        assert np.array_equal(back, frames)
    for k in range(3):
        got = json.loads(run("dicom", path, "--json", "--frame", str(k)).stdout)
        assert got["stored_sha256"] == stored_sha(back[k]), f"frame {k}"
        assert (got["pixel"]["min"], got["pixel"]["max"]) == (back[k].min(), back[k].max())


@pytest.mark.parametrize("photometric,planar", [("YBR_FULL_422", 0), ("YBR_FULL", 0), ("YBR_FULL", 1)])
def test_uncompressed_ybr_full_is_rgb_as_pydicom_converts_it(tmp_path, photometric, planar):
    """pydicom's uncompressed YBR_FULL_422 file with random samples (so that every rounding
    and clipping case occurs), and the same as YBR_FULL by pixel and by plane, two frames:
    mammolab's RGB equals pydicom's pixel_array (its YBR -> RGB conversion) in every red
    sample (sha256) and in the mean over all three channels, exactly."""
    ds = pydicom.dcmread(get_testdata_file("SC_ybr_full_422_uncompressed.dcm"))
    rows, cols = ds.Rows, ds.Columns
    per_frame = rows * cols * (2 if photometric == "YBR_FULL_422" else 3)
    ds.PixelData = np.random.default_rng(11).integers(0, 256, 2 * per_frame, dtype=np.uint8).tobytes()
    ds.PhotometricInterpretation, ds.PlanarConfiguration, ds.NumberOfFrames = photometric, planar, 2
    path = tmp_path / f"{photometric}_{planar}.dcm"
    ds.save_as(path)
    rgb = pydicom.dcmread(path).pixel_array
    for k in range(2):
        got = json.loads(run("dicom", path, "--json", "--frame", str(k)).stdout)
        assert got["stored_sha256"] == stored_sha(rgb[k][..., 0]), f"frame {k}"
        assert got["pixel"]["mean"] == pytest.approx(float(rgb[k].astype(np.float64).mean()), rel=1e-12)
        assert got["photometric_interpretation"] == "RGB"

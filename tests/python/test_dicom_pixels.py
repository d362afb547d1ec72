"""`mammolab dicom` against pydicom 3.0.1 on pydicom's own test files (written by nobody here).

Lossless encodings must give exactly pydicom's stored values (min, max, and the mean to
1e-9 relative); unsupported or broken files must give a one-line error naming the file.
"""

import json
import os
import subprocess

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

BIN = os.environ.get("MAMMOLAB_BIN")

# (file, what it exercises)
LOSSLESS = [
    ("CT_small.dcm", "explicit VR LE, signed 16-bit"),
    ("MR_small.dcm", "explicit VR LE, 16-bit"),
    ("MR_small_implicit.dcm", "implicit VR LE"),
    ("MR_small_bigendian.dcm", "explicit VR big endian"),
    ("MR_small_RLE.dcm", "RLE lossless"),
    ("MR_small_jp2klossless.dcm", "JPEG 2000 lossless"),
    ("MR_small_padded.dcm", "odd-length padding"),
    ("image_dfl.dcm", "deflated explicit VR LE"),
    ("rtdose_1frame.dcm", "32-bit dose grid"),
    ("rtdose.dcm", "multi-frame, frame 0"),
    ("SC_rgb_small_odd.dcm", "RGB 8-bit, odd size"),
    ("SC_rgb_small_odd_big_endian.dcm", "RGB big endian"),
    ("SC_rgb_rle_16bit.dcm", "RGB RLE 16-bit"),
    ("SC_rgb_rle_2frame.dcm", "RGB RLE, 2 frames"),
    ("liver_1frame.dcm", "8-bit MONOCHROME2"),
]

UNSUPPORTED = [
    ("MR_small_jpeg_ls_lossless.dcm", "not supported"),
    ("MR_truncated.dcm", "DICOM"),
    # dicom-rs 0.10's RLE decoder rejects 32-bit RLE segments (pydicom reads them).
    ("SC_rgb_rle_32bit.dcm", "cannot decode pixel data"),
]


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True)


@pytest.mark.parametrize("name,what", LOSSLESS)
def test_stored_values_equal_pydicom(name, what):
    path = get_testdata_file(name)
    ds = pydicom.dcmread(path)
    arr = ds.pixel_array
    if int(getattr(ds, "NumberOfFrames", 1) or 1) > 1:
        arr = arr[0]
    p = run("dicom", path, "--json")
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got["rows"] == ds.Rows and got["columns"] == ds.Columns, what
    assert got["bits_allocated"] == ds.BitsAllocated
    assert got["transfer_syntax"] == ds.file_meta.TransferSyntaxUID
    assert got["photometric_interpretation"] == ds.PhotometricInterpretation
    assert got["pixel"]["min"] == arr.min(), what
    assert got["pixel"]["max"] == arr.max(), what
    assert got["pixel"]["mean"] == pytest.approx(float(arr.astype(np.float64).mean()), rel=1e-9), what


@pytest.mark.parametrize("name,needle", UNSUPPORTED)
def test_unsupported_and_broken_files_fail_in_one_line(name, needle):
    path = get_testdata_file(name)
    p = run("dicom", path, "--json")
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("error: ")
    assert name in p.stderr and needle in p.stderr, p.stderr

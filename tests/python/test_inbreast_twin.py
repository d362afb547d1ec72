"""The INbreast twin (seed 002's second source) read by the tools a researcher uses on the real
release, and mammolab's reading of it checked against them.

Published facts checked here (the release's description, and public code that loads
`INbreast.xls` and `AllDICOMs/`): an Excel 97-2003 workbook with one sheet `Sheet1` whose
columns start `Patient ID, Patient age, Laterality, View, Acquisition date, File Name, ACR,
Bi-Rads` and go on with the finding columns (`Mass ` with its trailing space, `Micros`, ...,
`Findings Notes (in Portuguese)`); `removed` for every patient and age; `File Name` a number,
BI-RADS numbers except `4a`/`4b`/`4c`; two rows below the table that are not data (public code
reads it with `[:-2]`); films `<File Name>_<16 hex>_MG_<L|R>_<CC|ML>_ANON.dcm`, full-field
digital, 14 bits stored, with no patient id in the header.

References: olefile for the compound file, xlrd (through `pandas.read_excel(engine="xlrd")`)
for the workbook, cell for cell against `mammolab sheets --json --cells`; pydicom for every
film; the default class mapping and the patient taken from the file name written here in
pandas, against `mammolab merge`'s records. All comparisons are exact.
"""

import json
import math
import os
import re
import subprocess

import olefile
import pandas as pd
import pydicom
import pytest

from conftest import synth_twin

BIN = os.environ.get("MAMMOLAB_BIN")
NAME = re.compile(r"^(\d{8})_([0-9a-f]{16})_MG_([LR])_(CC|ML)_ANON\.dcm$")


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    return synth_twin(tmp_path_factory, "inbreast")


def test_the_workbook_is_biff8_that_xlrd_reads_as_mammolab_does(twin):
    out, truth = twin
    ole = olefile.OleFileIO(str(out / "INbreast.xls"))
    assert ole.listdir() == [["Workbook"]]
    ole.close()
    ref = pd.read_excel(out / "INbreast.xls", sheet_name=None, engine="xlrd")
    assert list(ref) == ["Sheet1"]
    sheet = ref["Sheet1"]
    assert list(sheet.columns[:8]) == ["Patient ID", "Patient age", "Laterality", "View",
                                       "Acquisition date", "File Name", "ACR", "Bi-Rads"]
    assert "Mass " in sheet.columns and "Findings Notes (in Portuguese)" in sheet.columns
    data = sheet[:-2]  # as public code reads it
    assert len(data) == truth["counts"]["films"]
    assert set(data["Patient ID"]) == {"removed"} and set(data["Patient age"]) == {"removed"}
    assert set(data["View"]) <= {"CC", "MLO"} and set(data["Laterality"]) <= {"L", "R"}
    assert set(map(str, data["Bi-Rads"])) <= {"1", "2", "3", "4a", "4b", "4c", "5", "6"}
    assert data["File Name"].map(lambda v: isinstance(v, (int, float))).all()

    p = subprocess.run([BIN, "sheets", str(out / "INbreast.xls"), "--json", "--cells"],
                       capture_output=True, text=True, check=True)
    (ours,) = json.loads(p.stdout)["sheets"]
    assert [c["name"] for c in ours["columns"]] == list(sheet.columns)
    assert len(ours["cells"]) == len(sheet)
    for row, (_, theirs) in zip(ours["cells"], sheet.iterrows()):
        for o, t in zip(row, theirs):
            if isinstance(t, float) and math.isnan(t):
                assert o is None
            else:
                assert o == t, (row, list(theirs))


def test_films_read_in_pydicom_and_name_their_row(twin):
    out, truth = twin
    sheet = pd.read_excel(out / "INbreast.xls", engine="xlrd")[:-2]
    rows = {int(r["File Name"]): r for _, r in sheet.iterrows()}
    names = sorted(p.name for p in (out / "AllDICOMs").iterdir())
    assert len(names) == truth["counts"]["films"]
    photometric = set()
    for name in names:
        m = NAME.match(name)
        assert m, name
        row = rows[int(m.group(1))]
        assert row["Laterality"] == m.group(3)
        assert row["View"] == {"CC": "CC", "ML": "MLO"}[m.group(4)]
        ds = pydicom.dcmread(out / "AllDICOMs" / name)
        assert (ds.Modality, ds.BitsAllocated, ds.BitsStored, ds.HighBit) == ("MG", 16, 14, 13)
        assert ds.get("PatientID", "") == ""
        assert ds.pixel_array.max() < 2 ** 14
        assert (ds.Rows, ds.Columns) == (416, 320)
        photometric.add(ds.PhotometricInterpretation)
    assert photometric == {"MONOCHROME1", "MONOCHROME2"}


def test_merge_labels_and_patients_as_pandas_does(twin, tmp_path):
    out, truth = twin
    subprocess.run([BIN, "merge", "--manifest", str(out / "manifest.toml"), "--out", str(tmp_path), "--raw-ids"],
                   check=True, capture_output=True)
    records = pd.read_csv(tmp_path / "records.csv", keep_default_na=False, dtype=str)
    sheet = pd.read_excel(out / "INbreast.xls", engine="xlrd", dtype=str)[:-2]
    classes = {"1": "normal", "2": "benign", "3": "benign"}
    expected = sheet["Bi-Rads"].map(lambda b: classes.get(b, "malignant"))
    files = {NAME.match(p.name).group(1): NAME.match(p.name).group(2).upper()
             for p in (out / "AllDICOMs").iterdir()}
    found = records[records.status == "image_found"]
    assert list(found.key) == list(sheet["File Name"])
    assert list(found.label) == list(expected)
    assert list(found.patient_id) == [files[k] for k in found.key]
    # Every woman's films carry one patient id, never `removed`.
    assert found.patient_id.nunique() == truth["counts"]["patients"]
    # The two rows below the table are audited without a class.
    rest = records[records.status != "image_found"]
    assert len(rest) == 2 and (rest.label == "").all()

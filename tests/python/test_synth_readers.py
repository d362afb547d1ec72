"""The synthetic cohort read by the tools a researcher uses: openpyxl, pandas, pydicom, PIL.

These readers were written by nobody here, so they check that mammolab's files are what they
claim to be, not only what mammolab's own reader accepts.
"""

import numpy as np
import openpyxl
import pandas as pd
import pydicom
import pytest
from PIL import Image
from pydicom.pixels import apply_modality_lut, apply_voi_lut


def test_workbooks_open_in_openpyxl(cohort):
    out, truth = cohort
    c = truth["counts"]
    wb = openpyxl.load_workbook(out / "datacombined.xlsx", read_only=True)
    assert wb.sheetnames == ["Cancer", "Non-Cancer"]
    for name, rows in [("Cancer", c["cancer_rows"]), ("Non-Cancer", c["non_cancer_rows"])]:
        ws = wb[name]
        assert ws.max_row - 1 == rows
        assert ws.max_column == c["main_columns"]
    wb = openpyxl.load_workbook(out / "data_validation_x.xlsx", read_only=True)
    ws = wb["Sheet1"]
    assert (ws.max_row - 1, ws.max_column) == (c["validation_rows"], 16)


def test_seed_001_unique_key_merge_in_pandas(cohort):
    """Seed 001's own code: astype(str), join with '-', inner merge. It finds exactly the
    rows the ground truth calls exact matches (87 of 105 on the default profile)."""
    out, truth = cohort
    key = ["InputFileName", "StudyDate", "StudyTime", "PatientID.x"]
    cancer = pd.read_excel(out / "datacombined.xlsx", sheet_name="Cancer")
    listing = pd.read_excel(out / "data_validation_x.xlsx", sheet_name=0)
    for df in (cancer, listing):
        df["UniqueKey"] = df[key].astype(str).agg("-".join, axis=1)
    merged = cancer.merge(listing, on="UniqueKey", how="inner")
    assert len(merged) == truth["counts"]["exact_key_matches"]
    assert merged["UniqueKey"].str.match(r"^FILE\d{4}-\d{8}-\d{5,6}-DIT\d{9}$").all()


def test_format_faults_are_where_the_truth_says(cohort):
    out, truth = cohort
    wb = openpyxl.load_workbook(out / "datacombined.xlsx")
    ws = wb["Cancer"]
    header = [c.value for c in ws[1]]
    seen = 0
    for f in truth["faults"]:
        cells = [c for c in f["cells"] if c.get("column") and c["sheet"] == "Cancer"]
        if f["kind"] in ("date_excel_serial", "time_excel_fraction"):
            cell = ws.cell(row=cells[0]["row"], column=header.index(cells[0]["column"]) + 1)
            assert cell.is_date, f
            seen += 1
        elif f["kind"] in ("date_iso_text", "date_dotted_text", "time_colon_text", "time_leading_zero"):
            cell = ws.cell(row=cells[0]["row"], column=header.index(cells[0]["column"]) + 1)
            assert isinstance(cell.value, str), f
            seen += 1
    assert seen >= 6


def readable_images(truth):
    bad = {p for f in truth["faults"] if f["kind"] in ("missing_image", "corrupt_dicom") for p in f["files"]}
    return [i for i in truth["images"] if i["dicom"] not in bad]


def test_every_dicom_reads_in_pydicom(cohort):
    out, truth = cohort
    images = readable_images(truth)
    assert len(images) >= truth["counts"]["images"] - 2
    for img in images:
        ds = pydicom.dcmread(out / img["dicom"])
        assert ds.Modality == "MG"
        assert ds.PhotometricInterpretation == img["photometric"]
        assert ds.PatientID == img["patient_id"]
        assert ds.ViewPosition == img["view"]
        arr = ds.pixel_array
        assert arr.dtype == np.uint16 and arr.shape == (256, 208)
        assert arr.max() < 2 ** ds.BitsStored


def test_corrupt_dicom_fails_in_pydicom(cohort):
    out, truth = cohort
    (fault,) = [f for f in truth["faults"] if f["kind"] == "corrupt_dicom"]
    ds = pydicom.dcmread(out / fault["files"][0])  # the header still parses
    with pytest.raises(Exception):
        ds.pixel_array


def test_jpg_is_the_windowed_dicom(cohort):
    """The JPG export equals pydicom's modality LUT + VOI window (+ inversion for
    MONOCHROME1), up to JPEG loss: mean absolute difference below 2 grey levels of 255."""
    out, truth = cohort
    kinds = set()
    for img in readable_images(truth)[::25]:
        ds = pydicom.dcmread(out / img["dicom"])
        x = apply_modality_lut(ds.pixel_array, ds)
        y = apply_voi_lut(x, ds, prefer_lut=False).astype(np.float64)
        # pydicom windows into the rescaled range of the stored values (pydicom 3.0 docs).
        slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
        y_min, y_max = intercept, (2 ** ds.BitsStored - 1) * slope + intercept
        disp = (y - y_min) / (y_max - y_min) * 255.0
        if ds.PhotometricInterpretation == "MONOCHROME1":
            disp = 255.0 - disp
        jpg = np.asarray(Image.open(out / img["jpg"]).convert("L"), dtype=np.float64)
        assert jpg.shape == disp.shape
        mad = np.abs(jpg - disp).mean()
        assert mad < 2.0, (img["file"], mad)
        kinds.add(ds.PhotometricInterpretation)
    assert kinds == {"MONOCHROME1", "MONOCHROME2"}

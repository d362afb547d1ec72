"""The CBIS-DDSM twin read by the tools a researcher uses on the real download: pandas for the
case-description CSVs, pydicom for the TCIA folders.

The published facts checked here come from the real files as read with pandas and pydicom
(`df.info()` of calc_case_description_train_set.csv and mass_case_description_train_set.csv,
and `pydicom.dcmread` of Calc-Training_P_01823_LEFT_MLO/08-07-2016-DDSM-99626/1.000000-full
mammogram images-81312/1-1.dcm, shown in john-james-ai/BreastCancerDetection's
`01_unbox.ipynb`): column names and order, integer columns, empty descriptor cells; Implicit
VR Little Endian, Secondary Capture, PatientID = the case folder, 16 bits stored, folder
names ending in the last five digits of the study and series UIDs.
"""

import re

import numpy as np
import pandas as pd
import pydicom
import pytest

from pydicom.uid import ImplicitVRLittleEndian

from conftest import synth_twin

MASS = ["patient_id", "breast_density", "left or right breast", "image view", "abnormality id",
        "abnormality type", "mass shape", "mass margins", "assessment", "pathology", "subtlety",
        "image file path", "cropped image file path", "ROI mask file path"]
CALC = ["patient_id", "breast density", "left or right breast", "image view", "abnormality id",
        "abnormality type", "calc type", "calc distribution", "assessment", "pathology", "subtlety",
        "image file path", "cropped image file path", "ROI mask file path"]
CSVS = {
    "mass_case_description_train_set.csv": MASS,
    "mass_case_description_test_set.csv": MASS,
    "calc_case_description_train_set.csv": CALC,
    "calc_case_description_test_set.csv": CALC,
}
FOLDER = re.compile(r"^(Mass|Calc)-(Training|Test)_P_\d{5}_(LEFT|RIGHT)_(CC|MLO)(_\d+)?$")
STUDY = re.compile(r"^\d{2}-\d{2}-\d{4}-DDSM-(\d{5})$")
SERIES = re.compile(r"^1\.000000-(full mammogram images|ROI mask images|cropped images)-(\d{5})$")


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    return synth_twin(tmp_path_factory, "cbis-ddsm")


def test_pandas_reads_the_published_columns_and_types(twin):
    out, truth = twin
    for name, columns in CSVS.items():
        df = pd.read_csv(out / name)
        assert list(df.columns) == columns, name
        assert len(df) == truth["counts"]["csv_rows"][name]
        for c in [columns[1], "abnormality id", "assessment", "subtlety"]:
            assert df[c].dtype == np.int64, (name, c, df[c].dtype)
        assert set(df["pathology"]) <= {"MALIGNANT", "BENIGN", "BENIGN_WITHOUT_CALLBACK"}
        assert df["ROI mask file path"].str.endswith("\n").any(), name
        assert df["image file path"].str.endswith("/000000.dcm").all()
    calc = pd.read_csv(out / "calc_case_description_train_set.csv")
    assert calc["calc distribution"].isna().any()
    assert calc["abnormality type"].eq("calcification").all()


def test_pydicom_reads_every_file_as_the_download_stores_it(twin):
    out, truth = twin
    files = sorted((out / "CBIS-DDSM").rglob("*.dcm"))
    assert len(files) == truth["counts"]["dicom_files"]
    masks = crops = 0
    for f in files:
        case, study, series, name = f.relative_to(out / "CBIS-DDSM").parts
        assert FOLDER.match(case), case
        ds = pydicom.dcmread(f)
        assert ds.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"
        assert ds.PatientID == case and str(ds.PatientName) == case
        assert STUDY.match(study).group(1) == ds.StudyInstanceUID[-5:]
        m = SERIES.match(series)
        assert m.group(1) == ds.SeriesDescription
        assert m.group(2) == ds.SeriesInstanceUID[-5:]
        assert name in ("1-1.dcm", "1-2.dcm")
        assert ds.Laterality == ("L" if "_LEFT_" in case else "R")
        a = ds.pixel_array
        assert a.shape == (ds.Rows, ds.Columns)
        if ds.SeriesDescription == "full mammogram images":
            assert a.dtype == np.uint16 and ds.BitsStored == 16
            assert a.max() > 50000  # film border or label: the whole 16-bit range is used
        elif ds.BitsAllocated == 8:
            # a mask: the full film's size, 0 and 255
            masks += 1
            assert set(np.unique(a)) <= {0, 255} and a.max() == 255
            assert (ds.Rows, ds.Columns) == (640, 400)
        else:
            crops += 1
            assert a.dtype == np.uint16 and ds.Rows < 640
    assert masks == crops == truth["counts"]["roi_series"]


def test_the_csv_uids_are_the_headers_of_the_case_folder(twin):
    """The CSV's UID path names no file of the download; its case folder, study UID and series
    UID identify the file the NBIA retriever wrote."""
    out, _ = twin
    for name in CSVS:
        df = pd.read_csv(out / name)
        for path in df["image file path"].str.strip():
            case, study_uid, series_uid, _ = path.split("/")
            assert not (out / "CBIS-DDSM" / path).exists()
            (f,) = (out / "CBIS-DDSM" / case).rglob("*.dcm")
            ds = pydicom.dcmread(f, stop_before_pixels=True)
            assert (ds.StudyInstanceUID, ds.SeriesInstanceUID) == (study_uid, series_uid)
        for path in df["ROI mask file path"].str.strip():
            case, study_uid, series_uid, _ = path.split("/")
            series = [pydicom.dcmread(f, stop_before_pixels=True)
                      for f in (out / "CBIS-DDSM" / case).rglob("*.dcm")]
            assert {s.StudyInstanceUID for s in series} == {study_uid}
            # the mask is in the series the ROI path names
            assert any(s.SeriesInstanceUID == series_uid and s.BitsAllocated == 8 for s in series)

"""The RSNA screening twin (seed 000) read by the tools a researcher uses on the real download,
and mammolab's reading of it checked against them.

Published facts checked here (the competition's data page and its files): `train.csv` with the
columns `site_id, patient_id, image_id, laterality, view, age, cancer, biopsy, invasive, BIRADS,
implant, density, machine_id, difficult_negative_case` in that order (pandas: integers, `age`
and `BIRADS` floats because some cells are empty, `density` text, `difficult_negative_case`
bool); images at `train_images/<patient_id>/<image_id>.dcm`; `test.csv` with `site_id,
patient_id, image_id, laterality, view, age, implant, machine_id, prediction_id` and
`sample_submission.csv` with `prediction_id,cancer`, `prediction_id = <patient_id>_<laterality>`;
DICOMs in JPEG 2000 lossless (1.2.840.10008.1.2.4.90) and JPEG lossless SV1
(1.2.840.10008.1.2.4.70), MONOCHROME1 from some machines, `VOILUTFunction` `SIGMOID` on some.

References: pandas for the tables; pydicom 3 (its Pillow/OpenJPEG plugin for JPEG 2000,
pylibjpeg-libjpeg for JPEG lossless) for every DICOM, against `mammolab dicom --json` (every
stored value equal, through the sha256 of the array; mean within 1e-9 relative) and against the
twin's ground truth; `pydicom.pixels.apply_voi_lut` for the SIGMOID window (exactly the header's
centre and width); `mammolab merge`'s records against the table in pandas; the competition's
pF1 written here from its definition, against `evaluate --level breast --json`.
"""

import hashlib
import json
import os
import subprocess

import numpy as np
import pandas as pd
import pydicom
import pytest

from conftest import synth_twin

BIN = os.environ.get("MAMMOLAB_BIN")
TRAIN = ["site_id", "patient_id", "image_id", "laterality", "view", "age", "cancer", "biopsy",
         "invasive", "BIRADS", "implant", "density", "machine_id", "difficult_negative_case"]
TEST = ["site_id", "patient_id", "image_id", "laterality", "view", "age", "implant", "machine_id",
        "prediction_id"]
J2K, JPEG_LOSSLESS = "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.70"


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    return synth_twin(tmp_path_factory, "rsna")


def test_pandas_reads_the_published_columns_and_vocabularies(twin):
    out, truth = twin
    train = pd.read_csv(out / "train.csv")
    assert list(train.columns) == TRAIN
    for c in ["site_id", "patient_id", "image_id", "cancer", "biopsy", "invasive", "implant", "machine_id"]:
        assert train[c].dtype == np.int64, c
    assert train.age.dtype == np.float64 and train.BIRADS.dtype == np.float64
    assert train.difficult_negative_case.dtype == bool
    assert set(train.site_id) == {1, 2} and set(train.laterality) == {"L", "R"}
    assert set(train.view) <= {"CC", "MLO", "LM", "ML", "AT", "LMO"}
    assert set(train.BIRADS.dropna()) <= {0.0, 1.0, 2.0} and set(train.density.dropna()) <= set("ABCD")
    site2 = train[train.site_id == 2]
    assert site2.BIRADS.isna().all() and site2.density.isna().all()
    assert train.BIRADS.isna().any() and train.BIRADS.notna().any()
    # Every patient has both breasts in both standard views; rows come in patient order.
    for pid, g in train.groupby("patient_id"):
        assert {(l, v) for l, v in zip(g.laterality, g.view)} >= {(l, v) for l in "LR" for v in ["CC", "MLO"]}
    assert train.patient_id.is_monotonic_increasing and train.image_id.is_unique
    # Cancer is a breast's: every image of a breast shares it, and every cancer was biopsied.
    per_breast = train.groupby(["patient_id", "laterality"]).cancer.nunique()
    assert (per_breast == 1).all()
    assert (train[train.cancer == 1].biopsy == 1).all()
    assert (train.invasive <= train.cancer).all()
    assert len(train) == truth["counts"]["images"]
    assert train.cancer.sum() == truth["counts"]["cancer_images"]
    assert 0.01 <= train.groupby(["patient_id", "laterality"]).cancer.max().mean() <= 0.05

    test = pd.read_csv(out / "test.csv")
    assert list(test.columns) == TEST
    assert list(test.prediction_id) == [f"{p}_{l}" for p, l in zip(test.patient_id, test.laterality)]
    submission = pd.read_csv(out / "sample_submission.csv")
    assert list(submission.columns) == ["prediction_id", "cancer"]
    assert list(submission.prediction_id) == list(dict.fromkeys(test.prediction_id))
    assert set(test.patient_id).isdisjoint(train.patient_id)
    for split, table in [("train_images", train), ("test_images", test)]:
        for p, i in zip(table.patient_id, table.image_id):
            assert (out / split / str(p) / f"{i}.dcm").is_file()


def test_every_dicom_decodes_in_pydicom_as_in_mammolab(twin):
    out, truth = twin
    syntaxes, photometric, voi = set(), set(), set()
    for image in truth["images"]:
        path = out / image["file"]
        ds = pydicom.dcmread(path)
        ts = str(ds.file_meta.TransferSyntaxUID)
        assert ts == (J2K if image["site_id"] == 1 else JPEG_LOSSLESS) == image["transfer_syntax"]
        assert ds.PatientID == str(image["patient_id"]) == path.parent.name
        assert ds.ImageLaterality == image["laterality"] and ds.ViewPosition == image["view"]
        assert ds.BitsStored == 12
        a = ds.pixel_array
        assert a.shape == (ds.Rows, ds.Columns) and a.max() < 4096
        p = subprocess.run([BIN, "dicom", str(path), "--json"], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        got = json.loads(p.stdout)
        assert got["transfer_syntax"] == ts
        assert got["photometric_interpretation"] == ds.PhotometricInterpretation
        assert (got["pixel"]["min"], got["pixel"]["max"]) == (float(a.min()), float(a.max())), path
        assert got["pixel"]["mean"] == pytest.approx(float(a.mean()), rel=1e-9), path
        # Every stored value, not only the statistics.
        assert got["stored_sha256"] == hashlib.sha256(a.astype("<i8").tobytes()).hexdigest(), path
        syntaxes.add(ts)
        photometric.add(ds.PhotometricInterpretation)
        voi.add(str(ds.get("VOILUTFunction", "LINEAR")))
    assert syntaxes == {J2K, JPEG_LOSSLESS}
    assert photometric == {"MONOCHROME1", "MONOCHROME2"}
    assert voi == {"LINEAR", "SIGMOID"}


def test_the_sigmoid_window_is_the_headers(twin):
    """pydicom's SIGMOID VOI (PS3.3 C.11.2.1.3.1) with the header's centre and width maps the
    breast into the middle of the output range: the window the twin records is what the file
    says."""
    out, truth = twin
    from pydicom.pixels import apply_voi_lut
    sigmoid = [i for i in truth["images"] if i["sigmoid"]]
    assert sigmoid
    for image in sigmoid[:8]:
        ds = pydicom.dcmread(out / image["file"])
        centre, width = float(ds.WindowCenter), float(ds.WindowWidth)
        assert (centre, width) == tuple(image["window"])
        y = apply_voi_lut(ds.pixel_array, ds).astype(float)
        x = ds.pixel_array.astype(float)
        expected = 4095 / (1 + np.exp(-4 * (x - centre) / width))
        assert np.allclose(y, expected, rtol=0, atol=1e-6 * 4095)


def test_merge_finds_every_image_by_its_id(twin, tmp_path):
    out, truth = twin
    subprocess.run([BIN, "merge", "--manifest", str(out / "manifest.toml"), "--out", str(tmp_path), "--raw-ids"],
                   check=True, capture_output=True)
    records = pd.read_csv(tmp_path / "records.csv", keep_default_na=False, dtype=str)
    train = pd.read_csv(out / "train.csv", dtype=str, keep_default_na=False)
    assert (records.status == "image_found").all()
    assert list(records.key) == [f"{p}/{i}" for p, i in zip(train.patient_id, train.image_id)]
    assert list(records.label) == ["cancer" if c == "1" else "normal" for c in train.cancer]
    assert list(records.laterality) == list(train.laterality)
    assert list(records.view) == list(train.view)
    assert list(records.dicom) == [f"train_images/{p}/{i}.dcm" for p, i in zip(train.patient_id, train.image_id)]


def pfbeta(labels, predictions, beta=1.0):
    """The competition's probabilistic F-beta, as its evaluation page defines it: precision and
    recall from the clipped probabilities themselves, 0 when either is 0."""
    p = np.clip(np.asarray(predictions, dtype=float), 0, 1)
    y = np.asarray(labels, dtype=bool)
    ctp, cfp = p[y].sum(), p[~y].sum()
    precision, recall = ctp / (ctp + cfp), ctp / y.sum()
    if precision > 0 and recall > 0:
        return (1 + beta**2) * precision * recall / (beta**2 * precision + recall)
    return 0.0


@pytest.fixture(scope="module")
def run_dir(twin, tmp_path_factory):
    out, _ = twin
    run = tmp_path_factory.mktemp("rsna-run") / "cnn"
    subprocess.run([BIN, "train", "--manifest", str(out / "manifest.toml"), "--epochs", "2", "--size", "32",
                    "--cache", "none", "--out", str(run)], check=True, capture_output=True)
    return run


@pytest.mark.parametrize("aggregate", ["max", "mean"])
def test_breast_level_pf1_is_the_competitions(run_dir, aggregate):
    p = subprocess.run([BIN, "evaluate", "--run", str(run_dir), "--level", "breast", "--aggregate", aggregate,
                        "--json"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    predictions = pd.read_csv(run_dir / "predictions.csv")
    breasts = predictions.groupby(["patient", "laterality"], sort=False).agg(
        label=("label", "max"), score=("score", aggregate))
    assert got["n"] == len(breasts) and got["positives"] == breasts.label.sum()
    assert got["pf1"] == pytest.approx(pfbeta(breasts.label, breasts.score), rel=1e-12, abs=1e-15)
    image = json.loads(subprocess.run([BIN, "evaluate", "--run", str(run_dir), "--json"], capture_output=True,
                                      text=True, check=True).stdout)
    assert image["pf1"] == pytest.approx(pfbeta(predictions.label, predictions.score), rel=1e-12)


@pytest.mark.parametrize("aggregate", ["max", "mean"])
def test_submission_has_the_competitions_format(twin, run_dir, tmp_path, aggregate):
    out, _ = twin
    subprocess.run([BIN, "predict", "--run", str(run_dir), "--images", str(out / "test_images"), "--out",
                    str(tmp_path / "p.csv"), "--submission", str(tmp_path / "submission.csv"), "--aggregate",
                    aggregate], check=True, capture_output=True)
    submission = pd.read_csv(tmp_path / "submission.csv")
    sample = pd.read_csv(out / "sample_submission.csv")
    assert list(submission.columns) == list(sample.columns) == ["prediction_id", "cancer"]
    assert sorted(submission.prediction_id) == sorted(sample.prediction_id)
    images = pd.read_csv(tmp_path / "p.csv")
    ids = []
    for f in images.file:
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        ids.append(f"{ds.PatientID}_{ds.ImageLaterality}")
    expected = images.assign(prediction_id=ids).groupby("prediction_id").score.agg(aggregate)
    for pid, score in zip(submission.prediction_id, submission.cancer):
        assert score == pytest.approx(expected[pid], rel=1e-12)


def test_submission_needs_each_images_patient_id(twin, run_dir, tmp_path):
    out, truth = twin
    ds = pydicom.dcmread(out / truth["images"][0]["file"])
    del ds.PatientID
    ds.save_as(tmp_path / "anonymous.dcm")
    p = subprocess.run([BIN, "predict", "--run", str(run_dir), "--images", str(tmp_path / "anonymous.dcm"),
                        "--out", str(tmp_path / "p.csv"), "--submission", str(tmp_path / "s.csv")],
                       capture_output=True, text=True)
    assert p.returncode == 1 and p.stderr.count("\n") == 1, p.stderr
    assert "anonymous.dcm" in p.stderr and "Patient ID (0010,0020)" in p.stderr
    assert not (tmp_path / "s.csv").exists()


def test_the_display_is_pydicoms_modality_and_voi_lut(twin, tmp_path):
    """`mammolab dicom --png` against pydicom's `apply_modality_lut` then `apply_voi_lut`
    (LINEAR as PS3.3 C.11.2.1.2.1, SIGMOID as C.11.2.1.3.1), scaled by its output range
    (0 to 2^BitsStored - 1) and inverted for MONOCHROME1: every pixel within one step of the
    16-bit PNG (1/65535), on every twin DICOM."""
    from PIL import Image
    from pydicom.pixels import apply_modality_lut, apply_voi_lut
    out, truth = twin
    kinds = set()
    for image in truth["images"]:
        path = out / image["file"]
        ds = pydicom.dcmread(path)
        y = apply_voi_lut(apply_modality_lut(ds.pixel_array, ds), ds).astype(float) / (2 ** ds.BitsStored - 1)
        if ds.PhotometricInterpretation == "MONOCHROME1":
            y = 1 - y
        png = tmp_path / "display.png"
        p = subprocess.run([BIN, "dicom", str(path), "--png", str(png)], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        got = np.asarray(Image.open(png)).astype(float) / 65535
        assert got.shape == y.shape
        assert np.abs(got - y).max() <= 1 / 65535, (path, np.abs(got - y).max())
        kinds.add((ds.PhotometricInterpretation, str(ds.get("VOILUTFunction", "LINEAR"))))
    assert kinds == {("MONOCHROME1", "LINEAR"), ("MONOCHROME2", "LINEAR"), ("MONOCHROME2", "SIGMOID")}

"""`mammolab predict` end to end: a run's test images scored again in a fresh process give
exactly the run's `predictions.csv` scores; bad files are reported one line each and the
others are scored; the patient roll-up and the metrics agree with pandas and scikit-learn
(1e-12); PGM and PNG files written by Pillow from the same pixels score identically;
pseudonyms are Python's `hmac` (HMAC-SHA256) of the patient id under the session's key,
and no file a run or a prediction writes holds a patient id or name."""

import hashlib
import hmac
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pandas as pd
from PIL import Image
from sklearn import metrics

BIN = os.environ.get("MAMMOLAB_BIN")


def run(*args):
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True)


def predict_json(*args):
    p = run("predict", *args, "--json")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_test_part_reproduces_the_run_exactly(trained, tmp_path):
    run_dir, summary = trained
    out = tmp_path / "test.csv"
    s = predict_json("--run", run_dir, "--part", "test", "--out", out, "--level", "patient")
    written = pd.read_csv(run_dir / "predictions.csv")
    got = pd.read_csv(out)
    assert s["scored"] == len(written) == len(got) and s["failed"] == 0
    both = written.merge(got, on=["sheet", "row"], suffixes=("_run", "_predict"), validate="one_to_one")
    assert len(both) == len(written)
    # Exactly equal: same recipe, same batches, same weights (CSV floats round-trip).
    assert (both["score_run"] == both["score_predict"]).all()
    assert (both["patient_run"] == both["patient_predict"]).all()
    assert (both["label_run"] == both["label_predict"]).all()
    assert np.allclose(got["p_normal"] + got["p_cancer"], 1.0, atol=1e-6)
    # Flagged at the threshold the run chose on validation, as evaluate does.
    chosen = summary["threshold"]["threshold"]
    assert s["threshold"] == {"threshold": chosen, "source": "validation (youden)"}
    assert (got["flagged"] == (got["score"] >= chosen)).all()
    ev = json.loads(run("evaluate", "--run", run_dir, "--level", "patient", "--json").stdout)
    assert s["metrics"]["confusion"] == ev["confusion"]
    # The patient table: each patient's highest score, positive if any image is (pandas).
    roll = pd.read_csv(tmp_path / "test.patient.csv")
    g = got.groupby("patient").agg(label=("label", "max"), score=("score", "max"), images=("score", "size"))
    r = roll.set_index("patient").loc[g.index]
    assert (r["images"] == g["images"]).all() and (r["label"] == g["label"]).all()
    assert (r["score"] == g["score"]).all()
    assert abs(s["metrics"]["roc_auc"] - metrics.roc_auc_score(g["label"], g["score"])) < 1e-12
    assert pd.read_csv(tmp_path / "test.errors.csv").empty


def test_bad_files_are_reported_and_the_rest_scored(trained, cohort, tmp_path):
    run_dir, _ = trained
    folder = tmp_path / "new"
    (folder / "sub").mkdir(parents=True)
    # Three left-breast test images (a JPG has no laterality, so nothing is mirrored).
    full = tmp_path / "all.csv"
    predict_json("--run", run_dir, "--part", "test", "--out", full)
    left = pd.read_csv(full).query("laterality == 'L'").head(3)
    base, _ = cohort
    for i, f in enumerate(left["file"]):
        (folder / f"img{i}.jpg").write_bytes((base / f).read_bytes())
    good = (base / left["file"].iloc[0]).read_bytes()
    (folder / "sub" / "cut.jpg").write_bytes(good[: len(good) // 2])
    (folder / "sub" / "empty.png").write_bytes(b"")
    (folder / "sub" / "junk.dcm").write_bytes(b"DICM but not really")
    (folder / "notes.txt").write_text("reader's notes")
    out = tmp_path / "new.csv"
    s = predict_json("--run", run_dir, "--images", folder, "--out", out)
    assert s["scored"] == 3 and s["failed"] == 4
    got = pd.read_csv(out)
    assert [os.path.basename(f) for f in got["file"]] == ["img0.jpg", "img1.jpg", "img2.jpg"]
    # A batch of 3 instead of the run's 32: equal to 1e-6.
    assert np.allclose(got["score"], left["score"], rtol=0, atol=1e-6)
    errors = pd.read_csv(tmp_path / "new.errors.csv")
    assert sorted(os.path.basename(f) for f in errors["file"]) == ["cut.jpg", "empty.png", "junk.dcm", "notes.txt"]
    assert errors["error"].str.len().gt(0).all() and not errors["error"].str.contains("\n").any()
    assert errors.set_index(errors["file"].map(os.path.basename)).loc["cut.jpg", "error"].endswith("(truncated)")
    # Without a patient (JPG files have none) there is nothing to roll up: one line, before scoring.
    p = run("predict", "--run", run_dir, "--images", folder, "--out", tmp_path / "x.csv", "--level", "patient")
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "no patient" in p.stderr
    assert not (tmp_path / "x.csv").exists()


def test_pgm_and_png_from_pillow_score_alike(trained, tmp_path):
    run_dir, _ = trained
    rng = np.random.default_rng(7)
    img = np.zeros((120, 90), np.uint8)
    img[10:110, 5:80] = rng.integers(60, 200, (100, 75), dtype=np.uint8)
    Image.fromarray(img).save(tmp_path / "a.pgm")
    Image.fromarray(img).save(tmp_path / "a.png")
    out = tmp_path / "p.csv"
    s = predict_json("--run", run_dir, "--images", tmp_path / "a.pgm", tmp_path / "a.png", "--out", out)
    assert s["scored"] == 2 and s["unknown_laterality"] == 2
    got = pd.read_csv(out)
    assert got["score"][0] == got["score"][1]


def test_a_model_that_orients_by_pixels_scores_a_film_and_its_mirror_alike(cohort, tmp_path):
    out, _ = cohort
    p = run("train", "--manifest", out / "manifest.toml", "--epochs", "1", "--size", "32",
            "--cache", "none", "--orient", "pixels", "--out", tmp_path / "run", "--json")
    assert p.returncode == 0, p.stderr
    saved = json.loads((tmp_path / "run" / "run.json").read_text())
    assert saved["options"]["data"]["preprocess"]["flip_by_pixels"] is True
    rng = np.random.default_rng(11)
    img = np.zeros((120, 90), np.uint8)
    img[10:110, 0:60] = rng.integers(60, 200, (100, 60), dtype=np.uint8)
    Image.fromarray(img).save(tmp_path / "left.png")
    Image.fromarray(img[:, ::-1].copy()).save(tmp_path / "right.png")
    s = predict_json("--run", tmp_path / "run", "--images", tmp_path / "left.png",
                     tmp_path / "right.png", "--out", tmp_path / "p.csv")
    # No laterality needed (no warning), and the mirrored film reaches the model as the first.
    assert s["scored"] == 2 and s["unknown_laterality"] == 0
    got = pd.read_csv(tmp_path / "p.csv")
    assert got["score"][0] == got["score"][1]


def test_one_line_errors(trained, tmp_path):
    run_dir, _ = trained
    cases = [
        (["predict", "--out", tmp_path / "a.csv"], "--run", 2),
        (["predict", "--run", run_dir, "--images", tmp_path, "--manifest", "m.toml", "--out", tmp_path / "a.csv"],
         "--manifest", 2),
        (["predict", "--checkpoint", run_dir / "checkpoint", "--part", "test", "--out", tmp_path / "a.csv"], "--part needs --run", 1),
        (["predict", "--run", tmp_path, "--out", tmp_path / "a.csv"], "not a `mammolab train` run directory", 1),
        (["predict", "--checkpoint", tmp_path, "--images", tmp_path, "--out", tmp_path / "a.csv"], "config.json", 1),
        (["predict", "--run", run_dir, "--images", tmp_path / "none", "--out", tmp_path / "a.csv"], "none of the 1", 1),
    ]
    for args, needle, code in cases:
        p = run(*args)
        assert p.returncode == code, (args, p.stderr)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], (args, p.stderr)


def test_pseudonyms_are_keyed_and_outputs_hold_no_identifiers(trained, cohort, tmp_path):
    run_dir, _ = trained
    base, truth = cohort
    out = tmp_path / "all.csv"
    predict_json("--run", run_dir, "--part", "test", "--out", out, "--level", "breast")
    key = bytes.fromhex(Path(os.environ["MAMMOLAB_KEY"]).read_text().strip())
    patient_of = {i[k]: i["patient_id"] for i in truth["images"] for k in ("jpg", "dicom") if i.get(k)}
    got = pd.read_csv(out)
    want = ["P-" + hmac.new(key, patient_of[f].encode(), hashlib.sha256).hexdigest()[:10] for f in got["file"]]
    assert got["patient"].tolist() == want
    # Not the unkeyed sha256 that trying all 10^9 DIT ids would reverse.
    f = got["file"][0]
    assert got["patient"][0] != "P-" + hashlib.sha256(patient_of[f].encode()).hexdigest()[:10]
    # Every file of the run directory and of the prediction, text or binary.
    ids = {i["patient_id"] for i in truth["images"]}
    # Names and birth dates as pydicom reads them from the DICOM headers.
    names = set()
    for i in truth["images"][:400]:
        if i.get("dicom") and (base / i["dicom"]).is_file():
            ds = pydicom.dcmread(base / i["dicom"], stop_before_pixels=True)
            names |= {str(v) for v in (ds.get("PatientName"), ds.get("PatientBirthDate"), ds.get("AccessionNumber")) if v}
    assert names, "no DICOM header named a patient"
    written = [p for p in run_dir.rglob("*") if p.is_file()] + [p for p in tmp_path.iterdir() if p.is_file()]
    assert len(written) > 10
    for p in written:
        text = p.read_bytes().decode("latin-1")
        leaked = [x for x in ids | names if x in text]
        assert not leaked, (p, leaked[:3])


def test_saliency_overlays_open_in_pillow_and_peaks_lie_on_the_image(trained, cohort, tmp_path):
    """--saliency: one overlay PNG per scored image (Pillow opens each), saliency.csv with one
    row per scored image, its peaks inside the decoded image (pydicom/Pillow size), a corrupt
    input reported once and not explained; an unknown class is a one-line error."""
    run_dir, _ = trained
    root, _ = cohort
    jpgs = sorted(root.rglob("*.jpg"))[:3]
    bad = tmp_path / "cut.jpg"
    bad.write_bytes(jpgs[0].read_bytes()[:2000])
    maps = tmp_path / "maps"
    for method in ["grad-cam", "occlusion"]:
        out = maps / method
        s = predict_json("--run", run_dir, "--images", *jpgs, bad, "--out", tmp_path / f"{method}.csv",
                         "--saliency", out, "--saliency-method", method, "--saliency-class", "normal")
        assert s["scored"] == 3 and s["failed"] == 1
        assert s["saliency"]["images"] == 3 and s["saliency"]["class"] == "normal"
        table = pd.read_csv(out / "saliency.csv")
        assert len(table) == 3 and list(table.columns[:5]) == ["file", "patient", "laterality", "view", "p_normal"]
        for (_, row), jpg in zip(table.iterrows(), jpgs):
            with Image.open(out / row["overlay"]) as im:
                assert im.format == "PNG" and im.size[0] == 640
            w, h = Image.open(jpg).size
            if not np.isnan(row["peak_x"]):
                assert 0 <= row["peak_x"] < w and 0 <= row["peak_y"] < h
        assert sorted(p.name for p in out.glob("*.png")) == sorted(table["overlay"])
    p = run("predict", "--run", run_dir, "--images", jpgs[0], "--out", tmp_path / "x.csv",
            "--saliency", maps / "x", "--saliency-class", "benign")
    assert p.returncode != 0
    assert p.stderr.strip().count("\n") == 0 and "not one of the model's classes" in p.stderr, p.stderr

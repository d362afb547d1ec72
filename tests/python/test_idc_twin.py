"""The IDC histology twin (seed 003) read by the tools a researcher uses on the real download,
and mammolab's reading of it checked against them.

Published facts checked here (Kaggle's "Breast Histopathology Images" and the public code
that loads it): patches named `<patient>_idx5_x<X>_y<Y>_class<C>.png` in
`IDC_regular_ps50_idx5/<patient>/<C>/`, numeric patient folders, 50 x 50 RGB PNG with a few
smaller patches at a slide's edge, x and y placing every patch on its slide, and every
patient folder a second time at the archive's top level.

References: Pillow for the patches (mode and size, exact), the seed's own way of labelling a
patch (`int(path[-5])`, the character before `.png`) and of listing them (`glob` over
`IDC_regular_ps50_idx5/**/*.png`), pandas for `records.csv` of `mammolab merge` (exact:
every patch once, its class and its patient folder).
"""

import glob
import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import synth_twin

BIN = os.environ.get("MAMMOLAB_BIN")
NAME = re.compile(r"^(\d+)_idx5_x(\d+)_y(\d+)_class([01])\.png$")


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    return synth_twin(tmp_path_factory, "idc")


def test_pillow_reads_every_patch_as_rgb_with_the_published_name(twin):
    out, truth = twin
    edge = {name for s in truth["slides"] for name in s["edge_patches"]}
    paths = sorted(glob.glob(str(out / "IDC_regular_ps50_idx5" / "**" / "*.png"), recursive=True))
    assert len(paths) == truth["counts"]["patches"]
    smaller = 0
    for p in paths:
        patient, class_folder, name = Path(p).parts[-3:]
        m = NAME.match(name)
        assert m, name
        assert m.group(1) == patient and m.group(4) == class_folder
        assert int(m.group(2)) % 50 == 1 and int(m.group(3)) % 50 == 1
        with Image.open(p) as im:
            assert im.format == "PNG" and im.mode == "RGB"
            w, h = im.size
        assert w <= 50 and h <= 50
        assert ((w, h) != (50, 50)) == (name in edge), name
        smaller += (w, h) != (50, 50)
    assert smaller == truth["counts"]["edge_patches"] > 0


def test_a_glob_from_the_top_reads_every_patch_twice(twin):
    out, truth = twin
    everything = glob.glob(str(out / "**" / "*.png"), recursive=True)
    assert len(everything) == 2 * truth["counts"]["patches"]
    by_name = {}
    for p in everything:
        by_name.setdefault(Path(p).name, []).append(p)
    assert all(len(v) == 2 for v in by_name.values())
    a, b = next(iter(by_name.values()))
    assert Path(a).read_bytes() == Path(b).read_bytes()


def test_merge_reads_each_patch_once_with_the_seeds_label_and_its_patient(twin, tmp_path):
    out, truth = twin
    p = subprocess.run([BIN, "merge", "--manifest", str(out / "manifest.toml"), "--out", str(tmp_path / "m"),
                        "--json", "--raw-ids"], capture_output=True, text=True, check=True)
    summary = json.loads(p.stdout)
    assert summary["sheets"]["patches"] == {"rows": truth["counts"]["patches"],
                                            "matched": truth["counts"]["patches"], "unmatched": 0}
    records = pd.read_csv(tmp_path / "m" / "records.csv", dtype=str)
    # The seed's labelling: the character before `.png`.
    seed_labels = {}
    for path in glob.glob(str(out / "IDC_regular_ps50_idx5" / "**" / "*.png"), recursive=True):
        seed_labels[os.path.relpath(path, out)] = int(path[-5])
    assert len(records) == len(seed_labels)
    assert set(records["jpg"]) == set(seed_labels)
    for _, r in records.iterrows():
        assert r["label"] == ["normal", "cancer"][seed_labels[r["jpg"]]]
        assert r["patient_id"] == Path(r["jpg"]).parts[1]
    assert (records["label"] == "cancer").sum() == truth["counts"]["positive"]
    audit = pd.read_csv(tmp_path / "m" / "audit.csv", dtype=str)
    assert (audit["status"] == "header_mismatch").sum() == truth["counts"]["edge_patches"]


def safetensors(path):
    """A safetensors file's arrays, read with numpy (the format: an 8-byte header length, a
    JSON header of dtypes, shapes and offsets, then the raw little-endian data)."""
    raw = Path(path).read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32"
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype="<f4").reshape(t["shape"])
    return out


def test_a_colour_run_sees_pillows_rgb_and_predicts_the_same_in_a_fresh_process(twin, tmp_path):
    """`train --channels rgb` keeps the patches' colour: the model input is Pillow's RGB
    (normalised with the recipe's (0.5, 0.25): exact within float32 rounding, 1e-6) for every
    50 x 50 test patch, the checkpoint's input recipe records three channels (its model config
    holds no shape), and `predict` in a new process gives the run's own test scores exactly."""
    out, _ = twin
    run = tmp_path / "run"
    p = subprocess.run([BIN, "train", "--manifest", str(out / "manifest.toml"), "--channels", "rgb",
                        "--size", "50", "--fractions", "0.8,0.1,0.1", "--epochs", "1", "--cache", "none",
                        "--out", str(run), "--json"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    config = json.loads((run / "checkpoint" / "config.json").read_text())
    assert "channels" not in config["model"] and config["input"]["channels"] == "rgb"
    p = subprocess.run([BIN, "predict", "--run", str(run), "--part", "test", "--out", str(tmp_path / "p.csv"),
                        "--saliency", str(tmp_path / "sal"), "--heatmap", str(tmp_path / "slides")],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    ours = pd.read_csv(run / "predictions.csv")
    again = pd.read_csv(tmp_path / "p.csv")
    assert list(again["row"]) == list(ours["row"])
    assert (again["score"].to_numpy() == ours["score"].to_numpy()).all()
    # 80/10/10 by patient folder: every patient on one side only.
    split = json.loads((run / "run.json").read_text())
    assert [s["patients"] for s in split["split"]] == [12, 2, 2]
    assert not split["shared_patients"]
    assert len({Path(f).parts[1] for f in again["file"]}) == 2

    table = pd.read_csv(tmp_path / "sal" / "saliency.csv", dtype=str, keep_default_na=False)
    inputs = safetensors(tmp_path / "sal" / "saliency.safetensors")["input"]
    assert inputs.shape == (len(table), 3, 50, 50)
    checked = 0
    for i, f in enumerate(table["file"]):
        with Image.open(out / f) as im:
            if im.size != (50, 50):
                continue  # an edge patch: resized by the recipe
            rgb = np.asarray(im, dtype=np.float32) / 255.0
        want = ((rgb - 0.5) / 0.25).transpose(2, 0, 1)
        np.testing.assert_allclose(inputs[i], want, atol=1e-6, err_msg=f)
        checked += 1
    assert checked > 0.8 * len(table)


def test_slide_heat_maps_hold_every_test_patch_with_the_slides_auc(twin, tmp_path):
    """`predict --heatmap`: one PNG per test slide and slides.csv, whose counts and per-slide
    ROC AUC equal scikit-learn's `roc_auc_score` on the same patches' scores (1e-12)."""
    from sklearn.metrics import roc_auc_score

    out, _ = twin
    run = tmp_path / "run"
    subprocess.run([BIN, "train", "--manifest", str(out / "manifest.toml"), "--channels", "rgb", "--size", "24",
                    "--epochs", "1", "--cache", "none", "--out", str(run)], check=True, capture_output=True)
    p = subprocess.run([BIN, "predict", "--run", str(run), "--part", "test", "--out", str(tmp_path / "p.csv"),
                        "--heatmap", str(tmp_path / "slides"), "--json"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    written = json.loads(p.stdout)["heatmaps"]
    scores = pd.read_csv(tmp_path / "p.csv")
    slides = pd.read_csv(tmp_path / "slides" / "slides.csv")
    assert written["slides"] == len(slides) == scores["patient"].nunique()
    assert written["patches"] == slides["patches"].sum() == len(scores) and written["unplaced"] == 0
    for _, s in slides.iterrows():
        mine = scores[scores["patient"] == s["slide"]]
        assert len(mine) == s["patches"]
        assert (mine["class"] == "cancer").sum() == s["annotated_cancer"]
        if mine["label"].nunique() == 2:
            assert abs(roc_auc_score(mine["label"], mine["score"]) - s["roc_auc"]) < 1e-12
        else:
            assert pd.isna(s["roc_auc"])
        with Image.open(tmp_path / "slides" / s["png"]) as im:
            assert im.format == "PNG" and im.width == 1000

"""`mammolab train` / `mammolab evaluate` end to end on the ci cohort: the run directory,
the JSON contract shared with `mammolab metrics`, scikit-learn's numbers on the written
predictions (1e-12), patient and breast roll-ups recomputed with pandas, no raw patient
ids in the outputs, and the one-line errors."""

import json
import os
import subprocess

import pandas as pd
from sklearn import metrics

BIN = os.environ.get("MAMMOLAB_BIN")


def run(*args):
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True)


def test_run_directory_and_json(trained, cohort):
    run_dir, summary = trained
    for f in ["run.json", "history.csv", "predictions.csv", "metrics.json", "metrics_chosen.json", "port_check.safetensors",
              "checkpoint/model.safetensors", "checkpoint/config.json", "checkpoint/resume/optimizer.bpk"]:
        assert (run_dir / f).is_file(), f
    assert summary["epochs"] == 2 and summary["classes"] == ["normal", "cancer"]
    info = json.loads((run_dir / "run.json").read_text())
    assert info["shared_patients"] == 0
    history = pd.read_csv(run_dir / "history.csv")
    assert list(history["epoch"]) == [1, 2]
    # shareable: no hospital patient id anywhere in the predictions
    _, truth = cohort
    ids = {i["patient_id"] for i in truth["images"]}
    text = (run_dir / "predictions.csv").read_text()
    assert not any(i in text for i in ids)
    assert pd.read_csv(run_dir / "predictions.csv")["patient"].str.match(r"^P-[0-9a-f]{10}$").all()


def test_evaluate_matches_metrics_and_scikit_learn(trained):
    run_dir, summary = trained
    pred = pd.read_csv(run_dir / "predictions.csv")
    p = run("evaluate", "--run", run_dir, "--threshold", "0.5", "--json")
    assert p.returncode == 0, p.stderr
    ev = json.loads(p.stdout)
    # evaluate adds scikit-learn's classification_report rows, in the run's class order.
    per_class = ev.pop("per_class")
    predicted = pred["score"] >= 0.5
    for k, (row, name) in enumerate(zip(per_class, summary["classes"])):
        truth, said = (pred["label"] == bool(k)), (predicted == bool(k))
        p_, r_, f_, n_ = metrics.precision_recall_fscore_support(truth, said, average="binary", zero_division=0)
        assert row["class"] == name and row["support"] == truth.sum()
        assert abs(row["precision"] - p_) < 1e-12 and abs(row["recall"] - r_) < 1e-12 and abs(row["f1"] - f_) < 1e-12
    m = run("metrics", "--csv", run_dir / "predictions.csv", "--label", "label", "--score", "score", "--json")
    assert json.loads(m.stdout) == ev == summary["test"]
    # Without --threshold, evaluate uses the threshold the run chose on validation.
    chosen = json.loads((run_dir / "run.json").read_text())["threshold"]
    assert chosen["rule"] == "youden" and chosen == summary["threshold"]
    at = json.loads(run("evaluate", "--run", run_dir, "--json").stdout)
    assert at["threshold"] == chosen["threshold"]
    assert at["confusion"] == summary["test_chosen"]["confusion"]
    assert at["confusion"] == json.loads((run_dir / "metrics_chosen.json").read_text())["confusion"]
    assert at["recall"] == (pred["label"] & (pred["score"] >= chosen["threshold"])).sum() / pred["label"].sum()
    assert abs(ev["roc_auc"] - metrics.roc_auc_score(pred["label"], pred["score"])) < 1e-12
    for level, keys in [("patient", ["patient"]), ("breast", ["patient", "laterality"])]:
        g = pred.fillna({"laterality": ""}).groupby(keys).agg(label=("label", "max"), score=("score", "max"))
        p = run("evaluate", "--run", run_dir, "--level", level, "--json")
        assert p.returncode == 0, p.stderr
        ev = json.loads(p.stdout)
        assert ev["n"] == len(g) and ev["positives"] == int(g["label"].sum())
        assert abs(ev["roc_auc"] - metrics.roc_auc_score(g["label"], g["score"])) < 1e-12


def test_one_line_errors(cohort, tmp_path):
    out, _ = cohort
    # (arguments, text the one line must hold, exit code: 1 bad input, 2 usage)
    cases = [
        (["evaluate", "--run", tmp_path], "predictions.csv", 1),
        (["evaluate", "--run", tmp_path, "--level", "organ"], "image, breast, patient", 2),
        (["train", "--manifest", out / "manifest.toml", "--model", "unet", "--out", tmp_path / "x"], "unet", 2),
        (["train", "--manifest", out / "manifest.toml", "--class-weights", "some", "--out", tmp_path / "x"], "auto, none", 2),
        (["train", "--manifest", out / "manifest.toml", "--device", "cuda", "--out", tmp_path / "y"], "cuda", 1),
        (["train", "--manifest", out / "manifest.toml", "--size", "4", "--out", tmp_path / "z"], "size", 1),
    ]
    for args, needle, code in cases:
        p = run(*args)
        assert p.returncode == code, (args, p.stderr)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], (args, p.stderr)
        assert lines[0].startswith("error: "), (args, p.stderr)

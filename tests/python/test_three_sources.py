"""Seed 002's three-source cohort trained in three classes: the run's `metrics.json` against
scikit-learn on the run's own `predictions.csv`, and the per-source numbers against pandas.

References: scikit-learn 1.6 `roc_auc_score(multi_class="ovr"|"ovo", average="macro"|
"weighted")` and binary `roc_auc_score` per class, `accuracy_score`,
`balanced_accuracy_score`, `cohen_kappa_score`, `confusion_matrix` (tolerance 1e-12; the probabilities are read back from the CSV, which
holds them to f64's shortest round-trip text, so both sides see the same numbers); pandas
`groupby("source")` for each source's accuracy and counts.
"""

import json
import os
import subprocess
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, cohen_kappa_score,
                             confusion_matrix, roc_auc_score)

BIN = os.environ.get("MAMMOLAB_BIN")
CLASSES = ["normal", "benign", "malignant"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("three")
    subprocess.run([BIN, "synth", "--profile", "three-sources", "--scale", "ci", "--out",
                    str(root / "data")], check=True, capture_output=True)
    return root


def train(root, name, *extra):
    p = subprocess.run([BIN, "train", "--manifest", str(root / "data" / "manifest.toml"),
                        "--epochs", "3", "--size", "32", "--cache", "none",
                        "--out", str(root / name), "--json", *extra],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return root / name, json.loads(p.stdout)


@pytest.fixture(scope="module")
def run(data):
    return train(data, "run")


@pytest.fixture(scope="module")
def holdout(data):
    return train(data, "holdout-cbis", "--holdout-source", "cbis-ddsm")


def check_source(m, group):
    """One source's metrics against scikit-learn on its rows of predictions.csv."""
    y = group["class"].map(CLASSES.index).to_numpy()
    p = group[[f"p_{c}" for c in CLASSES]].to_numpy()
    pred = p.argmax(axis=1)
    assert m["n"] == len(group)
    assert abs(m["accuracy"] - accuracy_score(y, pred)) < 1e-12
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true"
        assert abs(m["balanced_accuracy"] - balanced_accuracy_score(y, pred)) < 1e-12
    assert m["confusion"] == confusion_matrix(y, pred, labels=[0, 1, 2]).tolist()
    for c, auc in enumerate(m["roc_auc_per_class"]):
        if 0 < (y == c).sum() < len(y):
            assert abs(auc - roc_auc_score(y == c, p[:, c])) < 1e-12, CLASSES[c]
        else:
            assert auc is None, CLASSES[c]


def test_metrics_equal_scikit_learn_on_the_runs_predictions(run):
    out, printed = run
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ["classes", "confusion", "accuracy", "roc_auc_ovr_macro", "per_source"]:
        assert printed[key] == metrics[key]
    df = pd.read_csv(out / "predictions.csv")
    assert list(df.columns) == ["patient", "source", "sheet", "row", "class", "p_normal",
                                "p_benign", "p_malignant", "predicted"]
    y = df["class"].map(CLASSES.index).to_numpy()
    p = df[[f"p_{c}" for c in CLASSES]].to_numpy()
    pred = p.argmax(axis=1)
    assert list(df.predicted) == [CLASSES[i] for i in pred]
    assert metrics["classes"] == CLASSES and metrics["n"] == len(df)
    assert metrics["confusion"] == confusion_matrix(y, pred, labels=[0, 1, 2]).tolist()
    for multi in ["ovr", "ovo"]:
        for average in ["macro", "weighted"]:
            ref = roc_auc_score(y, p, multi_class=multi, average=average, labels=[0, 1, 2])
            assert abs(metrics[f"roc_auc_{multi}_{average}"] - ref) < 1e-12, (multi, average)
    assert abs(metrics["accuracy"] - accuracy_score(y, pred)) < 1e-12
    assert abs(metrics["balanced_accuracy"] - balanced_accuracy_score(y, pred)) < 1e-12
    assert abs(metrics["cohen_kappa"] - cohen_kappa_score(y, pred)) < 1e-12


def test_per_source_metrics_equal_pandas(run):
    out, _ = run
    metrics = json.loads((out / "metrics.json").read_text())
    df = pd.read_csv(out / "predictions.csv")
    assert set(df.source) == set(metrics["per_source"]) == {"cbis-ddsm", "inbreast", "mini-mias"}
    for source, group in df.groupby("source"):
        m = metrics["per_source"][source]
        check_source(m, group)
        assert abs(m["accuracy"] - (group["class"] == group.predicted).mean()) < 1e-12
        missing = [c for c in CLASSES if c not in set(group["class"])]
        assert m["missing_classes"] == missing
        if missing:
            assert m["roc_auc_ovr_macro"] is None
        else:
            y = group["class"].map(CLASSES.index).to_numpy()
            p = group[[f"p_{c}" for c in CLASSES]].to_numpy()
            assert abs(m["roc_auc_ovr_macro"] - roc_auc_score(y, p, multi_class="ovr")) < 1e-12
    # CBIS-DDSM has no normal films: its test images never carry that class.
    assert "normal" in metrics["per_source"]["cbis-ddsm"]["missing_classes"]
    run_json = json.loads((out / "run.json").read_text())
    assert run_json["classes"] == CLASSES and run_json["positive"] is None


def test_evaluate_recomputes_the_metrics_from_the_predictions(run):
    out, _ = run
    metrics = json.loads((out / "metrics.json").read_text())
    p = subprocess.run([BIN, "evaluate", "--run", str(out), "--json"], capture_output=True,
                       text=True, check=True)
    again = json.loads(p.stdout)
    assert again["confusion"] == metrics["confusion"]
    assert again["per_source"].keys() == metrics["per_source"].keys()
    for key in ["accuracy", "balanced_accuracy", "roc_auc_ovr_macro", "roc_auc_ovo_weighted"]:
        assert abs(again[key] - metrics[key]) < 1e-12, key


def test_leaving_out_the_source_without_normal_films(holdout):
    out, printed = holdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert printed["per_source"] == metrics["per_source"]
    assert metrics["holdout_source"] == "cbis-ddsm"
    # No normal film in the test part: no three-class summary, only the source's numbers.
    assert "roc_auc_ovr_macro" not in metrics and "confusion" not in metrics
    df = pd.read_csv(out / "predictions.csv")
    assert set(df.source) == {"cbis-ddsm"} and "normal" not in set(df["class"])
    check_source(metrics["per_source"]["cbis-ddsm"], df)
    run_json = json.loads((out / "run.json").read_text())
    assert run_json["options"]["data"]["holdout_source"] == "cbis-ddsm"
    p = subprocess.run([BIN, "evaluate", "--run", str(out), "--json"], capture_output=True,
                       text=True, check=True)
    assert json.loads(p.stdout) == metrics
    text = subprocess.run([BIN, "evaluate", "--run", str(out)], capture_output=True,
                          text=True, check=True).stdout
    assert "tested on every image of cbis-ddsm" in text, text


def test_an_unknown_holdout_source_is_one_line(data):
    p = subprocess.run([BIN, "train", "--manifest", str(data / "data" / "manifest.toml"),
                        "--epochs", "1", "--size", "32", "--cache", "none",
                        "--out", str(data / "bad"), "--holdout-source", "mias"],
                       capture_output=True, text=True)
    assert p.returncode != 0
    assert "no source is named `mias` (the cohort's: cbis-ddsm, inbreast, mini-mias)" in p.stderr


def test_a_sweep_of_three_class_runs_summarises_each_seeds_metrics(data):
    out = data / "sweep"
    p = subprocess.run([BIN, "train", "--manifest", str(data / "data" / "manifest.toml"),
                        "--epochs", "1", "--size", "32", "--cache", "none", "--seeds", "1..3",
                        "--holdout-source", "mini-mias", "--out", str(out), "--json"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    table = pd.read_csv(out / "sweep.csv")
    assert list(table.columns) == ["seed", "epochs", *summary["metrics"], "error"]
    assert summary["metrics"][:3] == ["accuracy", "balanced_accuracy", "roc_auc_ovr_macro"]
    assert "mini-mias/roc_auc_malignant" in summary["metrics"]
    for _, row in table.iterrows():
        m = json.loads((out / f"seed-{int(row.seed)}" / "metrics.json").read_text())
        assert abs(row["accuracy"] - m["accuracy"]) < 1e-12
        source = m["per_source"]["mini-mias"]
        assert abs(row["mini-mias/balanced_accuracy"] - source["balanced_accuracy"]) < 1e-12
        assert abs(row["mini-mias/roc_auc_malignant"] - source["roc_auc_per_class"][2]) < 1e-12
    spread = dict((name, s) for name, s in summary["spread"])
    for metric in ["accuracy", "roc_auc_ovr_macro", "mini-mias/roc_auc_normal"]:
        v = table[metric].to_numpy()
        assert abs(spread[metric]["mean"] - v.mean()) < 1e-12, metric
        assert abs(spread[metric]["sd"] - v.std(ddof=1)) < 1e-12, metric
    p = subprocess.run([BIN, "compare", str(out), str(out)], capture_output=True, text=True)
    assert p.returncode != 0 and "k-class runs have no single ROC AUC" in p.stderr

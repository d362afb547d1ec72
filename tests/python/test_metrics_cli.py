"""`mammolab metrics` end to end, checked against scikit-learn 1.6.1 (tolerance 1e-12).

The input is the Wisconsin diagnostic breast cancer table shipped with scikit-learn, scored
by a logistic regression, written to CSV the way a researcher would export predictions.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict

sys.path.insert(0, str(Path(__file__).parent))
import make_sklearn_reference  # noqa: E402

BIN = os.environ.get("MAMMOLAB_BIN")


def run(*args, ok=True):
    p = subprocess.run([BIN, *args], capture_output=True, text=True)
    if ok:
        assert p.returncode == 0, p.stderr
    return p


@pytest.fixture(scope="module")
def predictions(tmp_path_factory):
    data = load_breast_cancer()
    y = np.where(data.target == 0, "malignant", "benign")
    x = (data.data - data.data.mean(0)) / data.data.std(0)
    p = cross_val_predict(LogisticRegression(C=0.01, max_iter=1000), x, y == "malignant", cv=5, method="predict_proba")[:, 1]
    path = tmp_path_factory.mktemp("metrics") / "predictions.csv"
    pd.DataFrame({"diagnosis": y, "p_malignant": p}).to_csv(path, index=False)
    return path, y == "malignant", p


@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_metrics_json_matches_scikit_learn(predictions, threshold):
    path, y, p = predictions
    out = run("metrics", "--csv", str(path), "--label", "diagnosis", "--score", "p_malignant",
              "--positive", "malignant", "--threshold", str(threshold), "--json").stdout
    got = json.loads(out)
    pred = p >= threshold
    tn, fp, fn, tp = metrics.confusion_matrix(y, pred).ravel()
    assert got["confusion"] == {"tn": tn, "fp": fp, "fn": fn, "tp": tp}
    assert (got["n"], got["positives"], got["threshold"]) == (len(y), int(y.sum()), threshold)
    want = {
        "roc_auc": metrics.roc_auc_score(y, p),
        "average_precision": metrics.average_precision_score(y, p),
        "precision": metrics.precision_score(y, pred),
        "recall": metrics.recall_score(y, pred),
        "specificity": metrics.recall_score(~y, ~pred),
        "f1": metrics.f1_score(y, pred),
        "accuracy": metrics.accuracy_score(y, pred),
        "balanced_accuracy": metrics.balanced_accuracy_score(y, pred),
        "mcc": metrics.matthews_corrcoef(y, pred),
        "cohen_kappa": metrics.cohen_kappa_score(y, pred),
        "brier": metrics.brier_score_loss(y, p),
    }
    for k, v in want.items():
        assert abs(got[k] - v) <= 1e-12, (k, got[k], v)


def test_metrics_plots_and_errors(predictions, tmp_path):
    path, _, _ = predictions
    run("metrics", "--csv", str(path), "--label", "diagnosis", "--score", "p_malignant",
        "--positive", "malignant", "--plots", str(tmp_path / "plots"))
    names = sorted(f.name for f in (tmp_path / "plots").iterdir())
    assert names == ["calibration.png", "confusion.png", "pr.png", "roc.png", "thresholds.png"]
    # Text labels need --positive; a missing column lists similar ones; one line each.
    e = run("metrics", "--csv", str(path), "--label", "diagnosis", "--score", "p_malignant", ok=False)
    assert e.returncode == 1 and "--positive" in e.stderr and e.stderr.count("\n") == 1
    e = run("metrics", "--csv", str(path), "--label", "diagnosis", "--score", "malignant", ok=False)
    assert "no column `malignant` (similar: p_malignant)" in e.stderr
    e = run("metrics", "--csv", str(tmp_path / "nope.csv"), "--label", "a", "--score", "b", ok=False)
    assert e.returncode == 1 and "nope.csv" in e.stderr


def test_committed_reference_is_current():
    """The Rust tests read tests/data/sklearn_reference.json; it must be what the script makes
    (floats to 1e-12 relative: BLAS kernels differ in the last bits between processors)."""
    from json_compare import differences
    committed = json.loads((Path(__file__).parents[1] / "data" / "sklearn_reference.json").read_text())
    fresh = json.loads(json.dumps(make_sklearn_reference.reference()))
    assert differences(committed, fresh) == []


def multiclass_cases():
    """Three classes with many ties (probabilities on a 0.1 grid), four imbalanced ones, and
    real data nobody here wrote: scikit-learn's iris table scored by a cross-validated
    logistic regression."""
    rng = np.random.default_rng(20261205)
    cases = {}
    y = rng.choice(3, size=300, p=[0.5, 0.3, 0.2])
    tenths = np.array([rng.multinomial(10, np.eye(3)[c] * 0.4 + 0.2) for c in y])
    cases["ties"] = (["normal", "benign", "malignant"], y, tenths / 10.0)
    y = rng.choice(4, size=500, p=[0.7, 0.15, 0.1, 0.05])
    logits = rng.normal(size=(500, 4)) + 1.2 * np.eye(4)[y]
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    cases["imbalanced"] = (["a", "b", "c", "d"], y, p)
    from sklearn.datasets import load_iris
    iris = load_iris()
    p = cross_val_predict(LogisticRegression(C=0.05, max_iter=1000), iris.data, iris.target, cv=5,
                          method="predict_proba")
    cases["iris"] = (list(iris.target_names), iris.target, p)
    return cases


@pytest.mark.parametrize("case", ["ties", "imbalanced", "iris"])
def test_multiclass_metrics_match_scikit_learn(case, tmp_path):
    classes, y, p = multiclass_cases()[case]
    k = len(classes)
    cols = [f"p_{c}" for c in classes]
    path = tmp_path / "scores.csv"
    frame = pd.DataFrame(p, columns=cols)
    frame.insert(0, "truth", np.array(classes)[y])
    frame.to_csv(path, index=False)
    got = json.loads(run("metrics", "--csv", str(path), "--label", "truth", "--score", ",".join(cols),
                         "--classes", ",".join(classes), "--json").stdout)
    # What the CSV holds is what mammolab read: compare with scikit-learn on the same floats.
    p = pd.read_csv(path)[cols].to_numpy()
    pred = p.argmax(1)
    labels = list(range(k))
    assert got["classes"] == classes and got["n"] == len(y)
    assert got["confusion"] == metrics.confusion_matrix(y, pred, labels=labels).tolist()
    prec, rec, f1, sup = metrics.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    for i, row in enumerate(got["per_class"]):
        assert row["class"] == classes[i] and row["support"] == sup[i]
        for key, ref in [("precision", prec[i]), ("recall", rec[i]), ("f1", f1[i])]:
            assert abs(row[key] - ref) <= 1e-12, (case, classes[i], key)
    want = {
        "accuracy": metrics.accuracy_score(y, pred),
        "balanced_accuracy": metrics.balanced_accuracy_score(y, pred),
        "cohen_kappa": metrics.cohen_kappa_score(y, pred),
    }
    for mc in ["ovr", "ovo"]:
        for avg in ["macro", "weighted"]:
            want[f"roc_auc_{mc}_{avg}"] = metrics.roc_auc_score(y, p, multi_class=mc, average=avg, labels=labels)
    for key, ref in want.items():
        assert abs(got[key] - ref) <= 1e-12, (case, key, got[key], ref)
    per = [metrics.roc_auc_score(y == c, p[:, c]) for c in range(k)]
    assert np.allclose(got["roc_auc_per_class"], per, rtol=0, atol=1e-12)


def test_multiclass_plots_text_and_errors(tmp_path):
    classes, y, p = multiclass_cases()["ties"]
    cols = [f"p_{c}" for c in classes]
    path = tmp_path / "scores.csv"
    frame = pd.DataFrame(p, columns=cols)
    frame.insert(0, "truth", np.array(classes)[y])
    frame.to_csv(path, index=False)
    args = ["metrics", "--csv", str(path), "--label", "truth", "--score", ",".join(cols)]
    text = run(*args, "--classes", ",".join(classes), "--plots", str(tmp_path / "plots")).stdout
    assert "one-vs-one macro" in text and "malignant" in text
    assert sorted(f.name for f in (tmp_path / "plots").iterdir()) == ["confusion.png", "roc.png"]
    # Several score columns need their classes; a label outside them and scores that are
    # not probabilities are one line each.
    e = run(*args, ok=False)
    assert "--classes" in e.stderr and e.stderr.count("\n") == 1
    e = run(*args, "--classes", "normal,benign,cancer", ok=False)
    first = int(np.argmax(y == 2)) + 2  # the header is line 1
    assert f"line {first}: `truth` is `malignant`, not one of the classes normal, benign, cancer" in e.stderr
    frame[cols[0]] += 0.5
    frame.to_csv(path, index=False)
    e = run(*args, "--classes", ",".join(classes), ok=False)
    assert "add up to" in e.stderr and e.stderr.count("\n") == 1

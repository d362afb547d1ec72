"""Reference values for mammolab's metrics, computed by scikit-learn.

Run from the repository root (scripts/check.sh's venv has the pinned versions):

    python tests/python/make_sklearn_reference.py tests/data/sklearn_reference.json

The Rust tests in tests/it/eval.rs compare every number in the output with a stated
tolerance. The file is committed; tests/python/test_sklearn_reference.py regenerates it
in memory and fails if the committed copy is stale.
"""

import json
import sys

import numpy as np
import sklearn
from sklearn import metrics
from sklearn.calibration import calibration_curve
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def binary_cases():
    rng = np.random.default_rng(20261122)
    cases = {}

    # Many ties: scores on a 0.1 grid.
    y = rng.random(200) < 0.2
    s = np.clip(np.round(rng.normal(0.35 + 0.3 * y, 0.2), 1), 0, 1)
    cases["ties"] = (y, s)

    # Heavy imbalance like screening: 1 % positives.
    y = rng.random(5000) < 0.01
    s = np.where(y, rng.beta(4, 3, 5000), rng.beta(2, 5, 5000))
    cases["imbalanced_1pct"] = (y, s)

    # Perfect and inverted scorers.
    y = np.array([0, 0, 0, 1, 0, 1, 1, 0, 1, 0], dtype=bool)
    s = np.where(y, 0.8, 0.2) + np.arange(10) * 0.01
    cases["perfect"] = (y, s)
    cases["inverted"] = (y, 1.0 - s)

    # A constant scorer: every threshold is one tie.
    cases["constant"] = (y, np.full(10, 0.5))

    # Real data nobody here wrote: the Wisconsin diagnostic breast cancer table shipped
    # with scikit-learn; positive = malignant (target 0), probabilities of a logistic
    # regression on a fixed hold-out split.
    data = load_breast_cancer()
    x_tr, x_te, y_tr, y_te = train_test_split(
        data.data, data.target == 0, test_size=0.4, random_state=0, stratify=data.target
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=1000))
    model.fit(x_tr, y_tr)
    cases["wisconsin"] = (y_te, model.predict_proba(x_te)[:, 1])
    return cases


def floats(a):
    return [float(v) for v in a]


def binary_reference(y, s):
    t = 0.5
    pred = s >= t
    tn, fp, fn, tp = metrics.confusion_matrix(y, pred, labels=[False, True]).ravel()
    fpr, tpr, thr = metrics.roc_curve(y, s, drop_intermediate=False)
    prec, rec, pthr = metrics.precision_recall_curve(y, s)
    out = {
        "labels": [int(v) for v in y],
        "scores": floats(s),
        "threshold": t,
        "roc_auc": metrics.roc_auc_score(y, s),
        "average_precision": metrics.average_precision_score(y, s),
        # thresholds[0] is +inf, which JSON cannot hold: it is left out.
        "roc_curve": {"fpr": floats(fpr), "tpr": floats(tpr), "thresholds": floats(thr[1:])},
        # scikit-learn's order (increasing threshold), without its final (1, 0) point.
        "pr_curve": {
            "precision": floats(prec[:-1]),
            "recall": floats(rec[:-1]),
            "thresholds": floats(pthr),
        },
        "confusion": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
        "precision": metrics.precision_score(y, pred, zero_division=0),
        "recall": metrics.recall_score(y, pred, zero_division=0),
        "specificity": metrics.recall_score(~y, ~pred, zero_division=0),
        "f1": metrics.f1_score(y, pred, zero_division=0),
        "f2": metrics.fbeta_score(y, pred, beta=2, zero_division=0),
        "accuracy": metrics.accuracy_score(y, pred),
        "balanced_accuracy": metrics.balanced_accuracy_score(y, pred),
        "mcc": metrics.matthews_corrcoef(y, pred),
        "cohen_kappa": metrics.cohen_kappa_score(y, pred),
        "brier": metrics.brier_score_loss(y, s),
        "log_loss": metrics.log_loss(y, s, labels=[False, True]),
    }
    for strategy, n_bins in [("uniform", 10), ("quantile", 5)]:
        pt, pp = calibration_curve(y, s, n_bins=n_bins, strategy=strategy)
        out[f"calibration_{strategy}_{n_bins}"] = {"prob_true": floats(pt), "prob_pred": floats(pp)}
    return out


def multiclass_reference():
    rng = np.random.default_rng(7)
    names = ["normal", "benign", "malignant"]
    y = rng.choice(3, size=300, p=[0.8, 0.15, 0.05])
    # A confused classifier that never predicts "malignant": zero division in its row.
    pred = np.where(rng.random(300) < 0.7, y, rng.choice(2, size=300))
    pred[pred == 2] = 0
    return {
        "classes": names,
        "y_true": [int(v) for v in y],
        "y_pred": [int(v) for v in pred],
        "confusion": metrics.confusion_matrix(y, pred, labels=[0, 1, 2]).tolist(),
        "report_2": metrics.classification_report(
            y, pred, labels=[0, 1, 2], target_names=names, digits=2, zero_division=0
        ),
        "report_4": metrics.classification_report(
            y, pred, labels=[0, 1, 2], target_names=names, digits=4, zero_division=0
        ),
        "accuracy": metrics.accuracy_score(y, pred),
        "mcc": metrics.matthews_corrcoef(y, pred),
        "cohen_kappa": metrics.cohen_kappa_score(y, pred),
    }


def logistic_reference():
    """LogisticRegression(C=1) on the first 10 Wisconsin columns, standardised with the
    training mean and population std (what mammolab's Logistic does inside)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    data = load_breast_cancer()
    x = data.data[:, :10]
    y = data.target == 0  # malignant
    rng = np.random.default_rng(5)
    idx = rng.permutation(len(y))
    train, test = idx[:400], idx[400:]
    mean, std = x[train].mean(0), x[train].std(0)
    model = LogisticRegression(C=1.0, tol=1e-12, max_iter=10000)
    model.fit((x[train] - mean) / std, y[train])
    proba = model.predict_proba((x[test] - mean) / std)[:, 1]
    return {
        "x_train": x[train].tolist(),
        "y_train": y[train].tolist(),
        "x_test": x[test].tolist(),
        "proba_test": floats(proba),
    }


def reference():
    return {
        "logistic": logistic_reference(),
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "binary": {name: binary_reference(y, s) for name, (y, s) in binary_cases().items()},
        "multiclass": multiclass_reference(),
    }


if __name__ == "__main__":
    with open(sys.argv[1], "w") as f:
        json.dump(reference(), f)
        f.write("\n")

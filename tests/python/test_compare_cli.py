"""`mammolab compare` on two run directories, checked against DeLong's test written here
the slow, literal way: the O(m n) matrix of pairwise comparisons psi(x, y) of DeLong,
DeLong & Clarke-Pearson (1988), their covariance, and scipy's normal distribution
(scipy.stats.norm.sf). The two implementations share no code (mammolab uses mid-ranks).
Tolerance 1e-9 absolute on AUCs, standard error, z and p.
"""

import json
import os
import subprocess

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

BIN = os.environ.get("MAMMOLAB_BIN")
TOL = 1e-9


def run(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout


def components(y, s):
    """Placement values of positives (V10) and negatives (V01) from the full psi matrix."""
    pos, neg = s[y], s[~y]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    return psi.mean(1), psi.mean(0), psi.mean()


def delong(y, a, b, yb=None):
    """Paired when yb is None, else unpaired (b scored on labels yb)."""
    v10a, v01a, auc_a = components(y, a)
    v10b, v01b, auc_b = components(y if yb is None else yb, b)
    if yb is None:
        s10 = np.cov(np.vstack([v10a, v10b]))
        s01 = np.cov(np.vstack([v01a, v01b]))
        m, n = len(v10a), len(v01a)
        var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n
    else:
        var = (np.var(v10a, ddof=1) / len(v10a) + np.var(v01a, ddof=1) / len(v01a)
               + np.var(v10b, ddof=1) / len(v10b) + np.var(v01b, ddof=1) / len(v01b))
    se = np.sqrt(var)
    z = (auc_b - auc_a) / se
    return auc_a, auc_b, se, z, 2 * stats.norm.sf(abs(z))


def write_run(dir, rows, y, s):
    dir.mkdir(parents=True)
    with open(dir / "predictions.csv", "w", encoding="utf-8") as f:
        f.write("patient,sheet,row,laterality,label,class,score\n")
        for r, yi, si in zip(rows, y, s):
            f.write(f"P-{r:04d},Non-Cancer,{r},L,{int(yi)},{'cancer' if yi else 'normal'},{float(si)!r}\n")


@pytest.fixture(scope="module")
def scored():
    rng = np.random.default_rng(3)
    n = 400
    y = rng.random(n) < 0.1
    # Two correlated scorers; B sees the signal better. Rounded so that ties occur.
    base = rng.normal(size=n)
    a = np.round(1 / (1 + np.exp(-(base + 1.0 * y))), 2)
    b = np.round(1 / (1 + np.exp(-(base + 1.6 * y + 0.5 * rng.normal(size=n)))), 2)
    return y, a, b


def test_paired_delong_matches_the_pairwise_reference(tmp_path, scored):
    y, a, b = scored
    rows = np.arange(len(y))
    write_run(tmp_path / "a", rows, y, a)
    # B lists the same images in another order: compare matches them by sheet and row.
    perm = np.random.default_rng(9).permutation(len(y))
    write_run(tmp_path / "b", rows[perm], y[perm], b[perm])
    got = json.loads(run("compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json"))
    auc_a, auc_b, se, z, p = delong(y, a, b)
    assert got["kind"] == "runs" and got["paired"] is True
    assert abs(got["auc_a"] - roc_auc_score(y, a)) < TOL
    assert abs(got["auc_a"] - auc_a) < TOL and abs(got["auc_b"] - auc_b) < TOL
    assert abs(got["std_error"] - se) < TOL
    assert abs(got["z"] - z) < TOL
    assert abs(got["p_value"] - p) < TOL
    assert got["significant"] == (p < 0.05)
    text = run("compare", str(tmp_path / "a"), str(tmp_path / "b"))
    assert "DeLong paired test" in text


def test_unpaired_delong_when_the_test_sets_differ(tmp_path, scored):
    y, a, b = scored
    half = len(y) // 2
    write_run(tmp_path / "a", np.arange(half), y[:half], a[:half])
    write_run(tmp_path / "b", np.arange(half, len(y)), y[half:], b[half:])
    got = json.loads(run("compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json"))
    auc_a, auc_b, se, z, p = delong(y[:half], a[:half], b[half:], yb=y[half:])
    assert got["paired"] is False
    for k, v in [("auc_a", auc_a), ("auc_b", auc_b), ("std_error", se), ("z", z), ("p_value", p)]:
        assert abs(got[k] - v) < TOL, k


def test_compare_refuses_a_folder_that_is_neither(tmp_path, scored):
    (tmp_path / "empty").mkdir()
    y, a, _ = scored
    write_run(tmp_path / "a", np.arange(len(y)), y, a)
    p = subprocess.run([BIN, "compare", str(tmp_path / "a"), str(tmp_path / "empty")], capture_output=True, text=True)
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "neither predictions.csv" in lines[0], p.stderr

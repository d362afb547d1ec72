"""P4: ROC AUC + average precision on 10^6 scores, mammolab vs scikit-learn, in one run.

    bash scripts/bench.sh p4        (builds the Rust side in release mode, then runs this)

Both sides compute roc_auc_score and average_precision_score on the same arrays; the
time is the best of REPEATS runs of the pair, excluding file reading. The values must
agree to 1e-12.
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import sklearn
from sklearn.metrics import average_precision_score, roc_auc_score

N = 1_000_000
REPEATS = 5


def cases():
    rng = np.random.default_rng(4)
    y = rng.random(N) < 0.02  # screening-like prevalence
    s = np.where(y, rng.beta(3, 4, N), rng.beta(2, 5, N))
    yield "continuous scores", y, s
    # Probabilities rounded to 3 decimals: at most 1001 distinct values, heavy ties.
    yield "tied scores (3 decimals)", y, np.round(s, 3)


def sklearn_time(y, s):
    best = float("inf")
    for _ in range(REPEATS):
        t = time.perf_counter()
        auc = roc_auc_score(y, s)
        ap = average_precision_score(y, s)
        best = min(best, time.perf_counter() - t)
    return auc, ap, best


def main(rust_bin):
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, y, s in cases():
            lp, sp = Path(tmp, "labels.u8"), Path(tmp, "scores.f64")
            y.astype(np.uint8).tofile(lp)
            s.astype("<f8").tofile(sp)
            out = subprocess.run(
                [rust_bin, str(lp), str(sp), str(REPEATS)], check=True, capture_output=True, text=True
            ).stdout
            rust = json.loads(out)
            auc, ap, secs = sklearn_time(y, s)
            d_auc, d_ap = abs(rust["roc_auc"] - auc), abs(rust["average_precision"] - ap)
            assert d_auc <= 1e-12 and d_ap <= 1e-12, (name, d_auc, d_ap)
            rows.append(
                {
                    "case": name,
                    "n": N,
                    "roc_auc": auc,
                    "average_precision": ap,
                    "max_abs_diff": max(d_auc, d_ap),
                    "sklearn_s": secs,
                    "mammolab_s": rust["seconds"],
                    "speedup": secs / rust["seconds"],
                    "mammolab_threads": rust["threads"],
                }
            )
    print(f"P4 ROC AUC + AP, n = {N}, best of {REPEATS}; scikit-learn {sklearn.__version__}")
    print(f"{'case':28} {'scikit-learn':>12} {'mammolab':>10} {'speedup':>8} {'max |diff|':>11}")
    for r in rows:
        print(
            f"{r['case']:28} {r['sklearn_s'] * 1e3:10.1f}ms {r['mammolab_s'] * 1e3:8.1f}ms"
            f" {r['speedup']:7.1f}x {r['max_abs_diff']:11.1e}"
        )
    return rows


if __name__ == "__main__":
    rows = main(sys.argv[1])
    if len(sys.argv) > 2:
        Path(sys.argv[2]).write_text(json.dumps(rows, indent=1) + "\n")

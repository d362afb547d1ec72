"""`mammolab train --covariates` (image + workbook columns, `model::fusion`) against pandas:
the standardiser saved in the checkpoint is pandas' mean and population standard deviation
(ddof=0) of the training images' workbook rows, missing cells skipped (relative 1e-9); the
port check's columns are those rows standardised, a missing cell 0 (1e-6, f32); `predict
--part test` in a fresh process reproduces the run's scores exactly; images without a
workbook row are refused in one line; Grad-CAM maps are drawn for every test image."""

import json
import os
import subprocess

import numpy as np
import pandas as pd
from safetensors.numpy import load_file

BIN = os.environ.get("MAMMOLAB_BIN")
COLUMNS = ["Age", "BodyPartThickness", "original_firstorder_Mean"]


def run(*args):
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True)


def sheets(cohort_dir):
    """Every labelled sheet of the cohort's workbook, indexed by (sheet, spreadsheet row)."""
    book = pd.read_excel(cohort_dir / "datacombined.xlsx", sheet_name=None)
    parts = []
    for name, df in book.items():
        df = df.copy()
        df["sheet"] = name
        df["row"] = np.arange(len(df)) + 2  # header = row 1
        parts.append(df)
    return pd.concat(parts).set_index(["sheet", "row"])


def test_fusion_standardises_as_pandas_and_predict_reproduces_it(cohort, tmp_path):
    cohort_dir, _ = cohort
    run_dir = tmp_path / "fusion"
    p = run("train", "--manifest", cohort_dir / "manifest.toml", "--covariates", ",".join(COLUMNS),
            "--epochs", "1", "--size", "32", "--cache", "none", "--out", run_dir, "--json")
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    assert summary["model"] == "cnn" and summary["covariates"]["columns"] == COLUMNS
    scaler = json.loads((run_dir / "checkpoint" / "config.json").read_text())["model"]["scaler"]

    # the training images' rows, as `predict` lists them, and their values read by pandas
    train_csv = tmp_path / "train.csv"
    assert run("predict", "--run", run_dir, "--part", "train", "--out", train_csv).returncode == 0
    rows = pd.read_csv(train_csv)
    book = sheets(cohort_dir)
    values = book.loc[list(zip(rows["sheet"], rows["row"])), COLUMNS].astype(float)
    assert np.allclose(scaler["mean"], values.mean().to_numpy(), rtol=1e-9, atol=0)
    assert np.allclose(scaler["sd"], values.std(ddof=0).to_numpy(), rtol=1e-9, atol=0)
    assert scaler["missing"] == values.isna().sum().tolist()
    assert scaler["rows"] == len(values)

    # the run's test scores again, in a fresh process: exactly; Grad-CAM with the columns held
    test_csv = tmp_path / "test.csv"
    maps = tmp_path / "maps"
    p = run("predict", "--run", run_dir, "--part", "test", "--out", test_csv, "--saliency", maps)
    assert p.returncode == 0, p.stderr
    assert len(pd.read_csv(maps / "saliency.csv")) == len(pd.read_csv(test_csv))
    written = pd.read_csv(run_dir / "predictions.csv")
    got = pd.read_csv(test_csv)
    both = written.merge(got, on=["sheet", "row"], suffixes=("_run", "_predict"), validate="one_to_one")
    assert len(both) == len(written) > 0
    assert (both["score_run"] == both["score_predict"]).all()

    # the port check's columns: the first test images' rows standardised (missing -> 0)
    check = load_file(run_dir / "port_check.safetensors")
    n = check["covariates"].shape[0]
    raw = book.loc[list(zip(written["sheet"][:n], written["row"][:n])), COLUMNS].astype(float)
    want = ((raw - scaler["mean"]) / scaler["sd"]).fillna(0.0).to_numpy()
    assert check["covariates"].shape == (n, len(COLUMNS))
    assert np.allclose(check["covariates"], want, atol=1e-6)

    # images alone cannot be scored by a model that needs their workbook rows
    folder = cohort_dir / "acıbademsana"
    p = run("predict", "--run", run_dir, "--images", folder, "--out", tmp_path / "x.csv")
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1 and "workbook columns" in p.stderr, p.stderr

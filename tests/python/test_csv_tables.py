"""CSV tables (`mammolab sheets --json --cells`) against pandas' `read_csv` on CSV files
nobody here wrote: the datasets scikit-learn ships (sklearn/datasets/data/*.csv: iris,
wine, breast cancer, Boston house prices, Linnerud), plus the CBIS-DDSM twin's CSVs with
their quoted line breaks and empty cells.

Reference: pandas 2.2 `read_csv(keep_default_na=False, na_values=[""],
float_precision="round_trip")` (mammolab keeps `NA`/`N/A` as text, see `csv_cell`).
Tolerance: none; numbers are compared exactly, text byte for byte, empty cells as null.
Records longer than the header line: pandas either refuses the file or, when every record
is longer by the same count, silently makes the leading fields an index (iris-like files of
sklearn whose first line is a count: `breast_cancer.csv`, `wine_data.csv`). mammolab refuses
both in one line naming the file: a table's first column must not vanish into an index.
"""

import json
import math
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import sklearn

SKLEARN_CSVS = sorted((Path(sklearn.__file__).parent / "datasets" / "data").glob("*.csv"))


def sheets(path):
    return subprocess.run([os.environ["MAMMOLAB_BIN"], "sheets", str(path), "--json", "--cells"],
                          capture_output=True, text=True)


def reference(path):
    return pd.read_csv(path, keep_default_na=False, na_values=[""], float_precision="round_trip")


def same_cell(ours, theirs):
    if theirs is None or (isinstance(theirs, float) and math.isnan(theirs)):
        return ours is None
    if isinstance(theirs, (bool,)) or type(theirs).__name__ == "bool_":
        return ours == bool(theirs)
    if isinstance(theirs, str) and isinstance(ours, (int, float)) and not isinstance(ours, bool):
        # a number in a text (object) column: pandas keeps the field's text
        return float(theirs) == ours
    if isinstance(theirs, (int, float)) or hasattr(theirs, "dtype"):
        return isinstance(ours, (int, float)) and not isinstance(ours, bool) and ours == theirs
    return ours == theirs


def compare(path):
    p = sheets(path)
    try:
        df = reference(path)
        if not isinstance(df.index, pd.RangeIndex):
            raise pd.errors.ParserError("pandas made the leading fields an index")
    except pd.errors.ParserError:
        assert p.returncode != 0, f"{path.name}: pandas refuses it, mammolab read it"
        assert p.stderr.count("\n") == 1 and path.name in p.stderr, p.stderr
        return "refused"
    assert p.returncode == 0, p.stderr
    (sheet,) = json.loads(p.stdout)["sheets"]
    assert sheet["name"] == path.stem
    assert sheet["rows"] == len(df), path.name
    names = [c["name"] for c in sheet["columns"]]
    assert len(names) == df.shape[1]
    for ours, theirs in zip(names, df.columns):
        if not theirs.startswith("Unnamed: ") and "." not in theirs:
            assert ours == theirs
    for i, row in enumerate(sheet["cells"]):
        for j, cell in enumerate(row):
            theirs = df.iat[i, j]
            theirs = theirs.item() if hasattr(theirs, "item") else theirs
            assert same_cell(cell, theirs), (path.name, i + 2, names[j], cell, theirs)
    return "read"


@pytest.mark.parametrize("path", SKLEARN_CSVS, ids=lambda p: p.name)
def test_sklearn_csvs_read_as_pandas_reads_them(path):
    compare(path)


def test_the_sklearn_set_has_both_outcomes():
    outcomes = {compare(p) for p in SKLEARN_CSVS}
    assert outcomes == {"read", "refused"}, outcomes


def test_cbis_twin_csvs_read_as_pandas_reads_them(tmp_path):
    out = tmp_path / "cbis"
    subprocess.run([os.environ["MAMMOLAB_BIN"], "synth", "--profile", "cbis-ddsm", "--scale", "ci",
                    "--out", str(out)], check=True, capture_output=True)
    for f in sorted(out.glob("*.csv")):
        assert compare(f) == "read"

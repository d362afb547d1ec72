"""The mini-MIAS twin (seed 002's third source) read by the tools a researcher uses on the real
download, and mammolab's reading of it checked against them.

Published facts checked here (the database's README as Kaggle mirrors it, and the public
notebooks that load it): `Info.txt` whose header line is `REFNUM BG CLASS SEVERITY X Y
RADIUS ` with a trailing space (so `pd.read_csv(sep=" ")` grows a bogus `Unnamed: 7`
column), one line per abnormality, `NORM` lines without severity or position, a few
calcification lines without a position, Y counted from the bottom-left corner; films
`all-mias/mdb001.pgm` ... 1024 x 1024 8-bit binary PGM, in pairs of one woman.

References: pandas `read_csv(sep=r"\\s+")` for the table (exact: text byte for byte, numbers
equal, missing fields null), Pillow for the PGM films (exact), and the label mapping
written here in pandas (NORM -> normal, else severity B -> benign, M -> malignant) against
`mammolab merge`'s records.
"""

import json
import math
import os
import subprocess

import numpy as np
import pandas as pd
import pytest

from PIL import Image

from conftest import synth_twin

BIN = os.environ.get("MAMMOLAB_BIN")


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    return synth_twin(tmp_path_factory, "mini-mias")


def test_info_txt_reads_in_pandas_as_mammolab_reads_it(twin):
    out, _ = twin
    ref = pd.read_csv(out / "Info.txt", sep=r"\s+")
    assert list(ref.columns) == ["REFNUM", "BG", "CLASS", "SEVERITY", "X", "Y", "RADIUS"]
    # The published trap: a single-space separator makes a column of the trailing space.
    naive = pd.read_csv(out / "Info.txt", sep=" ")
    assert "Unnamed: 7" in naive.columns
    p = subprocess.run([BIN, "sheets", str(out / "Info.txt"), "--json", "--cells"],
                       capture_output=True, text=True, check=True)
    (sheet,) = json.loads(p.stdout)["sheets"]
    assert sheet["name"] == "Info"
    assert [c["name"] for c in sheet["columns"]] == list(ref.columns)
    assert len(sheet["cells"]) == len(ref)
    for ours, (_, theirs) in zip(sheet["cells"], ref.iterrows()):
        for o, t in zip(ours, theirs):
            if isinstance(t, float) and math.isnan(t):
                assert o is None
            elif isinstance(o, str):
                assert o == t
            else:
                assert o == t, (ours, list(theirs))


def test_films_open_in_pillow_with_lesions_where_info_txt_puts_them(twin):
    out, truth = twin
    info = pd.read_csv(out / "Info.txt", sep=r"\s+")
    films = sorted((out / "all-mias").glob("*.pgm"))
    assert [f.name for f in films] == [f"mdb{n:03}.pgm" for n in range(1, 41)]
    for f in films:
        with Image.open(f) as im:
            assert (im.format, im.mode, im.size) == ("PPM", "L", (1024, 1024))
    placed = info.dropna(subset=["X"])
    assert len(placed) > 0
    for _, line in placed.iterrows():
        px = np.asarray(Image.open(out / "all-mias" / f"{line.REFNUM}.pgm"))
        row = 1024 - int(line.Y)  # the README's origin is the bottom-left corner
        x, r = int(line.X), int(line.RADIUS)
        inside = px[max(row - r // 3, 0):row + r // 3 + 1, max(x - r // 3, 0):x + r // 3 + 1]
        assert inside.mean() > 20, (line.REFNUM, x, row)
    # Lines without a position are calcifications, with a severity.
    unplaced = info[info.X.isna() & (info.CLASS != "NORM")]
    assert len(unplaced) == truth["counts"]["unplaced"]
    assert set(unplaced.CLASS) == {"CALC"} and set(unplaced.SEVERITY) <= {"B", "M"}


def test_merge_labels_and_pairs_every_film_as_pandas_does(twin, tmp_path):
    out, truth = twin
    subprocess.run([BIN, "merge", "--manifest", str(out / "manifest.toml"), "--out", str(tmp_path), "--raw-ids"],
                   check=True, capture_output=True)
    records = pd.read_csv(tmp_path / "records.csv", keep_default_na=False)
    info = pd.read_csv(out / "Info.txt", sep=r"\s+")
    first = info.drop_duplicates("REFNUM", keep="first").set_index("REFNUM")
    expected = np.where(first.CLASS == "NORM", "normal",
                        first.SEVERITY.map({"B": "benign", "M": "malignant"}))
    kept = records[records.status == "image_found"].set_index("key")
    assert len(kept) == len(first) == 40
    got = kept.loc[[r.upper() for r in first.index], "label"].to_numpy()
    assert list(got) == list(expected)
    # Films in pairs: the woman's id is her pair's first number.
    numbers = first.index.str[3:].astype(int)
    pair = [f"MDB{n - (n - 1) % 2:03}" for n in numbers]
    assert list(kept.loc[[r.upper() for r in first.index], "patient_id"]) == pair
    # The other lines of a film are audited as repeating it, none lost.
    assert len(records) == len(info)
    assert (records.status == "unmatched").sum() == len(info) - len(first)
    assert {img["refnum"].upper(): img["class"] for img in truth["images"]} == dict(zip(kept.index, kept.label))

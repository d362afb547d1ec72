"""The Kaggle "DDSM Mammography" twin (seed 004's download) read by the tools a researcher uses
on the real one, and mammolab's reader checked against them.

Published facts checked here (the dataset's description on Kaggle, and the public notebooks
that load it): `training10_{0..4}/training10_{0..4}.tfrecords` holding `tf.train.Example`s
with `label` (int64, 0-4), `label_normal` (int64) and `image` (299*299 raw uint8 bytes);
`cv10_data/cv10_data.npy` and `test10_data/test10_data.npy` of shape (n, 299, 299, 1) uint8
beside `cv10_labels.npy` and `test10_labels.npy` in the same five-way code; cv10 holding
only calcifications and test10 only masses.

References: the `tfrecord` package (PyPI, its own protobuf decoding through `example_pb2`)
for the Examples, the `crc32c` package (ICRAR's, not mammolab's table) for every record's
masked CRC-32C, NumPy for the arrays. All comparisons are exact.
"""

import json
import os
import struct
import subprocess
from collections import Counter

import crc32c
import numpy as np
import pandas as pd
import pytest

from PIL import Image
from tfrecord.reader import tfrecord_loader

from conftest import synth_twin

SIDE = 299
SHARDS = [f"training10_{i}/training10_{i}.tfrecords" for i in range(5)]
ARRAYS = {"cv10": ("cv10_data/cv10_data.npy", "cv10_labels.npy"),
          "test10": ("test10_data/test10_data.npy", "test10_labels.npy")}


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    return synth_twin(tmp_path_factory, "ddsm")


def pixels(value):
    """A `bytes_list` feature as uint8 values (tfrecord gives bytes or an array by version)."""
    return np.frombuffer(bytes(value), dtype=np.uint8)


def masked(data):
    crc = crc32c.crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def test_every_record_checksums_as_tensorflow_writes_them(twin):
    out, _ = twin
    for shard in SHARDS:
        raw = (out / shard).read_bytes()
        pos = records = 0
        while pos < len(raw):
            length_bytes = raw[pos:pos + 8]
            (length,) = struct.unpack("<Q", length_bytes)
            (length_crc,) = struct.unpack("<I", raw[pos + 8:pos + 12])
            data = raw[pos + 12:pos + 12 + length]
            (data_crc,) = struct.unpack("<I", raw[pos + 12 + length:pos + 16 + length])
            assert masked(length_bytes) == length_crc, (shard, records)
            assert masked(data) == data_crc, (shard, records)
            pos += 16 + length
            records += 1
        assert pos == len(raw) and records > 0


def test_tfrecord_and_numpy_read_the_published_layout(twin):
    out, truth = twin
    by_file = Counter(p["file"] for p in truth["patches"])
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert names == set(SHARDS) | {f for pair in ARRAYS.values() for f in pair} | {"ground_truth.json"}
    labels_seen = Counter()
    for shard in SHARDS:
        n = 0
        for ex in tfrecord_loader(str(out / shard), None,
                                  {"label": "int", "label_normal": "int", "image": "byte"}):
            label, normal = int(ex["label"][0]), int(ex["label_normal"][0])
            assert 0 <= label <= 4 and normal == int(label != 0)
            assert len(pixels(ex["image"])) == SIDE * SIDE
            labels_seen[label] += 1
            n += 1
        assert n == by_file[shard]
    assert set(labels_seen) == {0, 1, 2, 3, 4}
    # ci keeps two negatives per positive (default six, the download's 86 %).
    assert 0.6 < labels_seen[0] / sum(labels_seen.values()) < 0.7
    for stem, (data, labels) in ARRAYS.items():
        x, y = np.load(out / data), np.load(out / labels)
        assert x.shape == (by_file[data], SIDE, SIDE, 1) and x.dtype == np.uint8
        assert y.shape == (x.shape[0],) and np.issubdtype(y.dtype, np.integer)
        allowed = {0, 1, 3} if stem == "cv10" else {0, 2, 4}
        assert set(np.unique(y).tolist()) <= allowed, (stem, np.unique(y))
        assert 0 in y and len(set(y.tolist())) > 1


def test_mammolab_counts_what_the_references_count(twin):
    out, _ = twin
    p = subprocess.run([os.environ["MAMMOLAB_BIN"], "patches", str(out), "--json"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    audit = json.loads(p.stdout)
    for f in audit["files"]:
        if f["file"].endswith(".tfrecords"):
            ref = Counter(int(ex["label"][0]) for ex in tfrecord_loader(str(out / f["file"]), None, {"label": "int"}))
        else:
            ref = Counter(np.load(out / f["labels_file"]).tolist())
        assert {int(k): v for k, v in f["labels"].items()} == dict(ref), f["file"]
        assert f["patches"] == sum(ref.values())
    assert audit["patches"] == sum(f["patches"] for f in audit["files"])


def test_pixels_agree_between_the_records_and_the_truth(twin):
    out, truth = twin
    # Each positive's three crops are one lesion's, in one part; the arrays' pixels are the
    # bytes NumPy reads, and a record's image the bytes tfrecord decodes.
    origins = Counter(p["origin"] for p in truth["patches"] if p["label"] != 0)
    assert origins and set(origins.values()) == {3}
    x = np.load(out / "cv10_data/cv10_data.npy")
    first = pixels(next(tfrecord_loader(str(out / SHARDS[0]), None, {"image": "byte"}))["image"])
    assert first.reshape(SIDE, SIDE).std() > 0 and x[0, :, :, 0].std() > 0


def test_unpacked_patches_read_by_pandas_and_pillow_and_train(twin, tmp_path):
    out, truth = twin
    bin_ = os.environ["MAMMOLAB_BIN"]
    unpacked = tmp_path / "unpacked"
    p = subprocess.run([bin_, "patches", str(out), "--unpack", str(unpacked), "--json"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    df = pd.read_csv(unpacked / "patches.csv")
    assert list(df.columns) == ["patch", "source", "index", "part", "label", "label_normal",
                                "abnormality", "pathology"]
    assert len(df) == len(truth["patches"])
    assert (df["label_normal"] == (df["label"] != 0)).all()
    assert set(df["part"]) == {"training", "cv", "test"}
    # Each PNG holds the array's bytes (Pillow against NumPy).
    x = np.load(out / "test10_data/test10_data.npy")
    row = df[df["source"] == "test10_data/test10_data.npy"].iloc[5]
    png = np.asarray(Image.open(unpacked / "patches" / "test10_data" / f"{row['patch']}.png"))
    assert png.dtype == np.uint8 and (png == x[row["index"], :, :, 0]).all()

    run = tmp_path / "run"
    p = subprocess.run([bin_, "train", "--manifest", str(unpacked / "manifest.toml"), "--model", "cnn",
                        "--epochs", "2", "--size", "32", "--cache", "none", "--out", str(run), "--json"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([bin_, "evaluate", "--run", str(run), "--json"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    per_class = {c["class"]: c["support"] for c in report["per_class"]}
    test = df[df["part"].isin(["cv", "test"]) & (df["label"] != 0)]
    assert per_class == {"benign": int(test["label"].isin([1, 2]).sum()),
                         "malignant": int(test["label"].isin([3, 4]).sum())}

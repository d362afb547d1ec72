"""`mammolab predict --features LAYER --pool P` against the same layer of the PyTorch
module (test_roundtrip.py's) on the weights the run exported and the inputs `--saliency`
saved beside it (`saliency.safetensors`, the prepared test images in table order).

Layers as mammolab names them (model::layers): the CNN's `blocks.<i>` (after the pool) and
`dense` (after ReLU), the residual net's `stem`, `blocks.<i>` and `gap`, the VAE's `mu`;
pooling a map is `mean` / `amax` over (h, w) or `flatten(1)`. Tolerance (f32 on both
sides): within 1e-4 of the largest magnitude plus 1e-6.
"""

import subprocess

import pyarrow.csv
import pyarrow.parquet
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from test_roundtrip import BIN, cohort  # noqa: F401  (cohort is a fixture)
from test_saliency import runs, trained  # noqa: F401  (runs is a fixture)


def cnn_layer(net, x, layer):
    for i, b in enumerate(net.blocks):
        x = b(x)
        if layer == f"blocks.{i}":
            return x
    d = net.dense(x.flatten(1))
    if net.dense_norm is not None:
        d = net.dense_norm(d)
    return F.relu(d)


def deep_layer(net, x, layer):
    if layer == "stem":
        return F.max_pool2d(F.relu(net.stem(x)), 2)
    return F.adaptive_avg_pool2d(net.features(x), 1).flatten(1)  # gap


def torch_layer(model, net, x, layer):
    if model == "cnn":
        return cnn_layer(net, x, layer)
    if model == "resnet":
        return deep_layer(net, x, layer)
    return net.mu(net.features(x).flatten(1))


def pooled(a, pool):
    if a.dim() == 2:
        return a
    if pool == "mean":
        return a.mean(dim=(2, 3))
    if pool == "max":
        return a.amax(dim=(2, 3))
    return a.flatten(1)


@pytest.mark.parametrize(
    "model,layer,pool",
    [("cnn", "dense", "mean"), ("cnn", "blocks.1", "flatten"), ("cnn", "blocks.0", "max"),
     ("resnet", "stem", "mean"), ("resnet", "gap", "mean"), ("vae", "mu", "mean")],
)
def test_features_equal_pytorch(cohort, runs, tmp_path, model, layer, pool):
    run, cfg, net = trained(cohort, runs, model)
    out = tmp_path / "p.csv"
    p = subprocess.run(
        [BIN, "predict", "--run", str(run), "--part", "test", "--out", str(out),
         "--saliency", str(tmp_path / "maps"), "--features", layer, "--pool", pool, "--json"],
        capture_output=True, text=True,
    )
    assert p.returncode == 0, p.stderr
    x = load_file(tmp_path / "maps" / "saliency.safetensors")["input"]
    table = pyarrow.parquet.read_table(tmp_path / "p.features.parquet").to_pydict()
    scored = pyarrow.csv.read_csv(out).to_pydict()
    assert table["file"] == scored["file"] and len(table["file"]) == x.shape[0] > 0
    cols = [c for c in table if c.startswith(layer + ".")]
    assert cols == [f"{layer}.{k}" for k in range(len(cols))]
    ours = torch.tensor([table[c] for c in cols], dtype=torch.float64).T
    with torch.no_grad():
        theirs = pooled(torch_layer(model, net, x, layer), pool).double()
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    scale = theirs.abs().max().item()
    err = (ours - theirs).abs().max().item()
    assert scale > 0, f"{model} {layer}: all activations zero, nothing was compared"
    assert err <= 1e-4 * scale + 1e-6, f"{model} {layer} {pool}: max |mammolab - PyTorch| = {err} (scale {scale})"


def test_unknown_layer_is_one_line_naming_the_layers(cohort, runs, tmp_path):
    run, _, _ = trained(cohort, runs, "cnn")
    p = subprocess.run(
        [BIN, "predict", "--run", str(run), "--part", "test", "--out", str(tmp_path / "p.csv"),
         "--features", "conv9"],
        capture_output=True, text=True,
    )
    assert p.returncode != 0
    assert p.stderr.strip().count("\n") == 0, p.stderr
    assert "no layer `conv9`; it has blocks.0, blocks.1, blocks.2, dense, logits" in p.stderr

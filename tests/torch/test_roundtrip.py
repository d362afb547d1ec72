"""mammolab's exported weights in PyTorch 2.9.1: `model.safetensors` of a `mammolab train`
run loads with `load_state_dict(strict=True)` into a PyTorch module written here from the
architecture's description (same attribute names), and that module reproduces burn's
logits for the inputs in the run's `port_check.safetensors` (tolerance 1e-4, f32).

Run by scripts/check.sh with the torch venv (tests/python/requirements-torch.txt).
"""

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn
import torch.nn.functional as F

BIN = os.environ.get("MAMMOLAB_BIN")


class Block(nn.Module):
    """3x3 conv, (batch norm,) ReLU, 2x2 max-pool (seed 001's block; dropout is off in eval)."""

    def __init__(self, i, o, same, norm):
        super().__init__()
        self.conv = nn.Conv2d(i, o, 3, padding=1 if same else 0)
        self.norm = nn.BatchNorm2d(o) if norm else None

    def activate(self, x):
        x = self.conv(x)
        return F.relu(self.norm(x) if self.norm is not None else x)

    def forward(self, x):
        return F.max_pool2d(self.activate(x), 2)


class Cnn(nn.Module):
    def __init__(self, cfg, channels, side):
        super().__init__()
        chans = [channels, *cfg["filters"]]
        norm = cfg.get("batch_norm", False)
        self.blocks = nn.ModuleList(Block(a, b, cfg["same_padding"], norm) for a, b in zip(chans, chans[1:]))
        self.dense = nn.Linear(chans[-1] * side * side, cfg["dense"])
        self.dense_norm = nn.BatchNorm1d(cfg["dense"]) if norm else None
        self.logits = nn.Linear(cfg["dense"], cfg["classes"])

    def features(self, x):
        """The last convolution after its ReLU, before its pool (what Grad-CAM explains)."""
        for b in self.blocks[:-1]:
            x = b(x)
        return self.blocks[-1].activate(x)

    def classify(self, a):
        x = self.dense(F.max_pool2d(a, 2).flatten(1))
        if self.dense_norm is not None:
            x = self.dense_norm(x)
        return self.logits(F.relu(x))

    def forward(self, x):
        return self.classify(self.features(x))


class DeepBlock(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.conv1 = nn.Conv2d(w, w, 3, padding=1)
        self.conv2 = nn.Conv2d(w, w, 3, padding=1)


class Deep(nn.Module):
    def __init__(self, cfg, channels):
        super().__init__()
        w = cfg["width"]
        self.residual = cfg["residual"]
        self.stem = nn.Conv2d(channels, w, 3, padding=1)
        self.blocks = nn.ModuleList(DeepBlock(w) for _ in range(cfg["blocks"]))
        self.logits = nn.Linear(w, cfg["classes"])

    def features(self, x):
        """The last block's output."""
        x = F.max_pool2d(F.relu(self.stem(x)), 2)
        half = len(self.blocks) // 2
        for i, b in enumerate(self.blocks):
            if i == half and i > 0:
                x = F.max_pool2d(x, 2)
            f = b.conv2(F.relu(b.conv1(x)))
            x = F.relu(x + f) if self.residual else F.relu(f)
        return x

    def classify(self, a):
        return self.logits(F.adaptive_avg_pool2d(a, 1).flatten(1))

    def forward(self, x):
        return self.classify(self.features(x))


class Vae(nn.Module):
    """Seed 000's CNN-VAE. `code: map` (`--vae code=map`): mu and log_var are 1 x 1
    convolutions over the last feature map, written as linear layers over its channels and
    flattened position by position (channels last), as mammolab stores them. `head_input:
    positions`: the head scores each position's code, each class keeps its highest score."""

    def __init__(self, cfg, channels, size):
        super().__init__()
        chans = [channels, *cfg["filters"]]
        side = size // 2 ** len(cfg["filters"])
        feat = chans[-1] * side * side
        self.map = cfg.get("code", "vector") == "map"
        src, code = (chans[-1], cfg["latent"] * side * side) if self.map else (feat, cfg["latent"])
        self.shape = (chans[-1], side)
        self.encoder = nn.ModuleList(nn.Conv2d(a, b, 4, stride=2, padding=1) for a, b in zip(chans, chans[1:]))
        self.mu = nn.Linear(src, cfg["latent"])
        self.log_var = nn.Linear(src, cfg["latent"])
        self.expand = nn.Linear(cfg["latent"], src)
        rev = chans[::-1]
        self.decoder = nn.ModuleList(nn.ConvTranspose2d(a, b, 4, stride=2, padding=1) for a, b in zip(rev, rev[1:]))
        self.positions = cfg.get("head_input", "mu") == "positions"
        self.head = nn.Linear(cfg["latent"] if self.positions else code, cfg["classes"])

    def features(self, x):
        """The encoder's last convolution after its ReLU."""
        for c in self.encoder:
            x = F.relu(c(x))
        return x

    def classify(self, a):
        if self.positions:
            return self.head(self.mu(a.permute(0, 2, 3, 1))).flatten(1, 2).amax(dim=1)
        code = self.mu(a.permute(0, 2, 3, 1)).flatten(1) if self.map else self.mu(a.flatten(1))
        return self.head(code)

    def forward(self, x):
        return self.classify(self.features(x))


class Fusion(nn.Module):
    """Seed 001's CNN whose classifier also takes k standardised workbook columns: one linear
    layer over [dense features ; columns], stored as the CNN's `logits` plus a bias-free
    `covariates` map."""

    def __init__(self, cfg, channels, size):
        super().__init__()
        self.image = build(cfg["image"] | {"kind": "cnn"}, channels, size)
        self.covariates = nn.Linear(len(cfg["scaler"]["columns"]), cfg["image"]["classes"], bias=False)

    def forward(self, x, columns):
        return self.image(x) + self.covariates(columns)


class SeparableUnit(nn.Module):
    """Keras' SeparableConv2D (depthwise 3x3 without bias, then 1x1 with bias; "same"), ReLU,
    then batch norm (Keras' epsilon 1e-3), in CancerNet's published order."""

    def __init__(self, i, o):
        super().__init__()
        self.depthwise = nn.Conv2d(i, i, 3, padding=1, groups=i, bias=False)
        self.pointwise = nn.Conv2d(i, o, 1)
        self.norm = nn.BatchNorm2d(o, eps=1e-3)

    def forward(self, x):
        return self.norm(F.relu(self.pointwise(self.depthwise(x))))


class Stage(nn.Module):
    def __init__(self, i, o, n):
        super().__init__()
        self.units = nn.ModuleList(SeparableUnit(i if k == 0 else o, o) for k in range(n))

    def forward(self, x):
        for u in self.units:
            x = u(x)
        return x


class CancerNet(nn.Module):
    """Seed 003's CancerNet as published in Keras (PyImageSearch, 2019): stages of 1, 2 and 3
    separable convolutions of 32, 64 and 128 filters, each stage pooled 2x2 (dropout 0.25 is
    off in eval), dense 256 with ReLU then batch norm (dropout 0.5 off), one logit per class."""

    def __init__(self, cfg, channels, size):
        super().__init__()
        chans = channels
        self.stages = nn.ModuleList()
        for n, o in [(1, 32), (2, 64), (3, 128)]:
            self.stages.append(Stage(chans, o, n))
            chans = o
        side = size // 8
        self.dense = nn.Linear(128 * side * side, 256)
        self.dense_norm = nn.BatchNorm1d(256, eps=1e-3)
        self.logits = nn.Linear(256, cfg["classes"])

    def features(self, x):
        """The last separable unit's output, before the last pool (what Grad-CAM explains)."""
        for s in self.stages[:-1]:
            x = F.max_pool2d(s(x), 2)
        return self.stages[-1](x)

    def classify(self, a):
        x = self.dense(F.max_pool2d(a, 2).flatten(1))
        return self.logits(self.dense_norm(F.relu(x)))

    def forward(self, x):
        return self.classify(self.features(x))


def input_shape(info):
    """`(channels, size)` of a checkpoint's `config.json`: its input recipe holds the shape
    (one grey channel unless it says `"channels": "rgb"`; square images), its model config
    none."""
    recipe = info["input"]
    assert recipe["width"] == recipe["height"], recipe
    return (3 if recipe.get("channels") == "rgb" else 1), recipe["width"]


def build(cfg, channels, size):
    """The PyTorch module of `config.json`'s `model` for `channels` x `size` x `size` inputs."""
    kind = cfg["kind"]
    if kind == "cancernet":
        return CancerNet(cfg, channels, size)
    if kind == "cnn":
        side = size
        for _ in cfg["filters"]:
            side = (side if cfg["same_padding"] else side - 2) // 2
        return Cnn(cfg, channels, side)
    if kind == "fusion":
        return Fusion(cfg, channels, size)
    if kind == "deep":
        return Deep(cfg, channels)
    return Vae(cfg, channels, size)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    if not BIN:
        pytest.fail("MAMMOLAB_BIN must name the mammolab binary (scripts/check.sh sets it)")
    out = tmp_path_factory.mktemp("cohort") / "ci"
    subprocess.run([BIN, "synth", "--profile", "ci", "--out", str(out)], check=True, capture_output=True)
    return out / "manifest.toml"


# cnn-bn: batch norm's running statistics as of the last step (a checkpoint once wrote them
# one step late: burn keeps the newest per thread until it synchronises them)
# fusion: seed 001's CNN with two workbook columns beside the image (`--covariates`)
# cancernet: seed 003's network on grey mammograms here, and in colour on the IDC twin below
@pytest.mark.parametrize("model", ["cnn", "cnn-bn", "vae", "resnet", "fusion", "cancernet"])
def test_pytorch_loads_the_weights_and_reproduces_the_logits(cohort, tmp_path, model):
    extra = ["--covariates", "Age,BodyPartThickness"] if model == "fusion" else ["--model", model]
    check_logits(cohort, tmp_path / model, model, [*extra, "--size", "32"])


@pytest.mark.parametrize("settings", ["code=map", "code=map,head=positions"])
def test_vae_with_a_latent_map(cohort, tmp_path, settings):
    check_logits(cohort, tmp_path / "vae-map", "vae", ["--model", "vae", "--vae", settings, "--size", "32"])


def test_cancernet_in_colour_on_the_idc_twin(tmp_path):
    twin = tmp_path / "idc"
    subprocess.run([BIN, "synth", "--profile", "idc", "--scale", "ci", "--out", str(twin)], check=True,
                   capture_output=True)
    check_logits(twin / "manifest.toml", tmp_path / "run", "cancernet",
                 ["--model", "cancernet", "--channels", "rgb", "--size", "48"])


def check_logits(manifest, run, model, extra):
    """Train one epoch with `extra`, load the weights into the PyTorch module and compare its
    logits with burn's on the run's port-check inputs (1e-4)."""
    p = subprocess.run(
        [BIN, "train", "--manifest", str(manifest), *extra, "--epochs", "1",
         "--cache", "none", "--out", str(run), "--json"],
        capture_output=True, text=True,
    )
    assert p.returncode == 0, p.stderr
    info = json.loads((run / "checkpoint" / "config.json").read_text())
    net = build(info["model"], *input_shape(info))
    state = load_file(run / "checkpoint" / "model.safetensors")
    # every name and shape as PyTorch expects (burn keeps no num_batches_tracked counter)
    missing = net.load_state_dict(state, strict=False)
    assert missing.unexpected_keys == []
    assert all(k.endswith("num_batches_tracked") for k in missing.missing_keys), missing
    net.eval()
    check = load_file(run / "port_check.safetensors")
    with torch.no_grad():
        logits = net(check["input"], check["covariates"]) if model == "fusion" else net(check["input"])
    assert logits.shape == check["logits"].shape
    err = (logits - check["logits"]).abs().max().item()
    assert err < 1e-4, f"{model}: max |PyTorch - burn| = {err}"


def test_committed_torch_reference_is_what_the_script_makes():
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "python"))
    import make_torch_reference
    from json_compare import differences  # float64 values, 1e-12 relative (see there)

    committed = json.loads((Path(__file__).parents[1] / "data" / "torch_reference.json").read_text())
    fresh = json.loads(json.dumps(make_torch_reference.reference()))
    assert differences(committed, fresh) == []

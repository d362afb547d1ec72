"""mammolab's saliency maps against the same computation in PyTorch 2.9.1, on the weights a
`mammolab train` run exports and the inputs `mammolab predict --saliency` saved
(`saliency.safetensors`).

Grad-CAM (Selvaraju et al. 2017), written here from its definition with torch.autograd:
A = the explained layer's activation, alpha_k = spatial mean of d logit_c / d A_k,
raw = sum_k alpha_k A_k, map = F.interpolate(ReLU(raw), input size, bilinear,
align_corners=False). The explained layer is the one mammolab names (`blocks.<last>.conv`
after ReLU for the CNN, `blocks.<last>` for the residual net, `encoder.<last>` after ReLU for
the VAE: `features` of the modules in test_roundtrip.py, `classify` the rest).
Tolerances (f32 on both sides): channel weights and raw maps within 1e-4 of the largest
magnitude plus 1e-7, the upsampled map within 1e-4 of its largest value plus 1e-7.

Occlusion sensitivity (Zeiler & Fergus 2014) for the CNN: squares of side size/8 every
size/16, the last one moved to the edge, filled with the input value of black; a pixel's
value is the mean drop of the class's log-odds (log p / (1 - p) of the softmax) over the
squares covering it. Same tolerance.
"""

import json
import subprocess

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from test_roundtrip import BIN, build, cohort, input_shape  # noqa: F401  (cohort is a fixture)


def close(ours, theirs, what):
    scale = theirs.abs().max().item()
    err = (ours - theirs).abs().max().item()
    assert err <= 1e-4 * scale + 1e-7, f"{what}: max |mammolab - PyTorch| = {err} (scale {scale})"
    return scale


@pytest.fixture(scope="module")
def runs():
    return {}


def trained(cohort, runs, model):
    """One 1-epoch 32 px run per model, shared by the tests of this module."""
    if model in runs:
        return runs[model]
    run = cohort.parents[1] / f"run-{model}"
    p = subprocess.run(
        [BIN, "train", "--manifest", str(cohort), "--model", model, "--epochs", "1", "--size", "32",
         "--cache", "none", "--out", str(run), "--json"],
        capture_output=True, text=True,
    )
    assert p.returncode == 0, p.stderr
    cfg = json.loads((run / "checkpoint" / "config.json").read_text())
    net = build(cfg["model"], *input_shape(cfg))
    net.load_state_dict(load_file(run / "checkpoint" / "model.safetensors"), strict=True)
    net.eval()
    runs[model] = (run, cfg, net)
    return runs[model]


def saliency(run, tmp_path, method, images=None, cls=None):
    """`mammolab predict --saliency` on the run's test part, or on `images`."""
    out = tmp_path / f"maps-{method}-{cls}"
    what = ["--part", "test"] if images is None else ["--images", *map(str, images)]
    cmd = [BIN, "predict", "--run", str(run), *what, "--out", str(tmp_path / "s.csv"),
           "--saliency", str(out), "--saliency-method", method, "--json"]
    if cls is not None:
        cmd += ["--saliency-class", cls]
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["saliency"], load_file(out / "saliency.safetensors")


@pytest.mark.parametrize("model", ["cnn", "vae", "resnet"])
def test_grad_cam_equals_pytorch(cohort, runs, tmp_path, model):
    run, cfg, net = trained(cohort, runs, model)
    # Both classes: after one epoch the evidence for one of them is often negative
    # everywhere (an all-zero map after the ReLU); the other's map is not.
    map_scales = []
    for c, name in enumerate(cfg["classes"]):
        written, t = saliency(run, tmp_path, "grad-cam", cls=name)
        assert written["method"] == "grad_cam" and written["class"] == name
        x = t["input"]
        assert x.shape[0] == written["images"] > 0
        a = net.features(x).detach().requires_grad_(True)
        (g,) = torch.autograd.grad(net.classify(a)[:, c].sum(), a)
        alpha = g.mean(dim=(2, 3))
        raw = (alpha[:, :, None, None] * a).sum(1).detach()
        up = F.interpolate(F.relu(raw)[:, None], size=x.shape[2:], mode="bilinear", align_corners=False)[:, 0]
        assert close(t["weights"], alpha, f"{model} {name} channel weights") > 0
        assert close(t["raw"], raw, f"{model} {name} raw map") > 0
        map_scales.append(close(t["map"], up, f"{model} {name} upsampled map"))
    assert max(map_scales) > 0, "every map was all zero: the upsampling went unchecked"


def test_occlusion_equals_pytorch(cohort, runs, tmp_path):
    run, cfg, net = trained(cohort, runs, "cnn")
    # 225 forward passes per image at 32 px: four images, one of them a cancer.
    jpgs = sorted(cohort.parent.rglob("*.jpg"))
    cancer = [p for p in jpgs if "/Cancer/" in p.as_posix()][:1]
    written, t = saliency(run, tmp_path, "occlusion", cancer + jpgs[-3:])
    x = t["input"]
    n, _, h, w = x.shape
    assert n == written["images"] == 4
    mean, std = cfg["input"]["normalise"] or (0.0, 1.0)
    fill = -mean / std
    patch = max(h // 8, 1)
    stride = max(patch // 2, 1)

    def starts(side):
        s = list(range(0, side - patch + 1, stride))
        return s if s[-1] == side - patch else s + [side - patch]

    c = len(cfg["classes"]) - 1

    def log_odds(logits):
        p = F.softmax(logits.double(), 1)[:, c]
        return torch.log(p) - torch.log1p(-p)

    with torch.no_grad():
        base = log_odds(net(x))
        drop = torch.zeros(n, h, w, dtype=torch.float64)
        cover = torch.zeros(h, w)
        for y0 in starts(h):
            for x0 in starts(w):
                occ = x.clone()
                occ[:, :, y0:y0 + patch, x0:x0 + patch] = fill
                d = base - log_odds(net(occ))
                drop[:, y0:y0 + patch, x0:x0 + patch] += d[:, None, None]
                cover[y0:y0 + patch, x0:x0 + patch] += 1
        want = (drop / cover).float()
    assert written["method"] == "occlusion" and written["layer"] is None
    assert close(t["map"], want, "occlusion map") > 0

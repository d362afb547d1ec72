"""torchvision's ResNet-18 and ResNet-50 (torchvision 0.24.1, PyTorch 2.9.1) in mammolab.

torchvision builds each network with its own random initialisation (batch-norm statistics
and affine parameters randomised too, so that they matter), saves the state dict as
safetensors, and `mammolab train --pretrained FILE --freeze-backbone` starts from it on a
one-channel cohort. Then, in PyTorch:
- the run's `model.safetensors` loads with `load_state_dict(strict=True)` into torchvision's
  own module (num_classes=2, conv1 with one input channel): every name and shape;
- conv1 is the sum of the file's RGB filters, and every frozen backbone tensor (weights,
  batch-norm statistics) is the file's, bit for bit;
- torchvision reproduces burn's logits for the run's `port_check.safetensors` inputs:
  max |PyTorch - burn| <= 1e-4 * max(1, max |logit|) (f32, 20-50 layers deep).

Run by scripts/check.sh with the torch venv (tests/python/requirements-torch.txt).
"""

import json
import subprocess

import pytest
import torch
import torchvision
from safetensors.torch import load_file, save_file

from test_roundtrip import BIN, cohort  # noqa: F401  (cohort is a fixture)


def torchvision_weights(arch, path):
    torch.manual_seed({"resnet18": 18, "resnet50": 50}[arch])
    net = getattr(torchvision.models, arch)()  # random init, nothing downloaded
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.1)
                m.running_mean.normal_(0.0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(path))
    return state


def train(cohort, run, arch, weights, *extra):
    return subprocess.run(
        [BIN, "train", "--manifest", str(cohort), "--model", arch, "--pretrained", str(weights),
         "--epochs", "1", "--size", "32", "--cache", "none", "--out", str(run), "--json", *extra],
        capture_output=True, text=True,
    )


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_torchvision_weights_load_and_reproduce_the_logits(cohort, tmp_path, arch):
    weights = tmp_path / f"{arch}.safetensors"
    source = torchvision_weights(arch, weights)
    run = tmp_path / "run"
    p = train(cohort, run, arch, weights, "--freeze-backbone")
    assert p.returncode == 0, p.stderr
    info = json.loads((run / "checkpoint" / "config.json").read_text())
    assert info["model"] == {"kind": "resnet", "depth": int(arch[6:]), "classes": 2}
    # the shape is the input recipe's (one grey channel: no "channels" key), held once
    assert (info["input"]["width"], info["input"]["height"], "channels" in info["input"]) == (32, 32, False)
    assert info["train"]["backbone_lr_factor"] == 0.0
    assert info["train"]["pretrained"].startswith(str(weights))

    net = getattr(torchvision.models, arch)(num_classes=2)
    net.conv1 = torch.nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    state = load_file(run / "checkpoint" / "model.safetensors")
    missing = net.load_state_dict(state, strict=False)
    # burn has no num_batches_tracked counters; everything else is there, name for name
    assert missing.unexpected_keys == []
    assert all(k.endswith("num_batches_tracked") for k in missing.missing_keys)
    net.eval()

    conv1 = source["conv1.weight"].sum(dim=1, keepdim=True)
    assert (state["conv1.weight"] - conv1).abs().max().item() <= 1e-6
    frozen = [k for k in source if not k.startswith(("fc.", "conv1.")) and not k.endswith("num_batches_tracked")]
    changed = [k for k in frozen if not torch.equal(state[k], source[k])]
    assert changed == [], f"frozen backbone tensors changed: {changed[:5]}"
    assert state["fc.weight"].shape == (2, source["fc.weight"].shape[1])

    check = load_file(run / "port_check.safetensors")
    with torch.no_grad():
        logits = net(check["input"])
    assert logits.shape == check["logits"].shape
    scale = max(1.0, check["logits"].abs().max().item())
    err = (logits - check["logits"]).abs().max().item()
    assert err <= 1e-4 * scale, f"{arch}: max |PyTorch - burn| = {err} (logits up to {scale})"


def test_wrong_depth_is_one_line_naming_the_file(cohort, tmp_path):
    weights = tmp_path / "resnet18.safetensors"
    torchvision_weights("resnet18", weights)
    p = train(cohort, tmp_path / "run", "resnet50", weights)
    assert p.returncode != 0
    err = p.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert str(weights) in err and "not a torchvision resnet50" in err, err

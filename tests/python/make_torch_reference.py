"""Reference values from PyTorch for tests/it/model.rs (run with the torch venv:
`bash scripts/env.sh`'s need_torch; `python make_torch_reference.py OUT.json`).

- loss: `F.cross_entropy` with and without `weight=`; focal loss (gamma 2) written the
  usual PyTorch way on top of `F.cross_entropy(reduction="none")`.
- vae: reconstruction as `F.mse_loss(reduction="sum")` / batch and
  `F.binary_cross_entropy(reduction="sum")` / batch; KL of N(mu, exp(log_var)) from N(0, I)
  via `torch.distributions.kl_divergence`, summed / batch.
- interpolate: `F.interpolate(mode="bilinear", align_corners=False)` enlarging (saliency
  maps to the input size) and shrinking, for `imaging::upsample_bilinear`.
- affine: torchvision's `transforms.v2.functional.affine` (bilinear, about the centre;
  its angle is clockwise; `fill=None`: `grid_sample`'s zero padding. With `fill=0`
  torchvision also multiplies edge pixels by the interpolated mask, so a pixel half
  outside the image gets a quarter of its value instead of half) and `adjust_gamma` + `adjust_contrast`, for
  `dataset::Draw` (whose rotation is counter-clockwise).
"""

import json
import sys

import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torchvision.transforms import InterpolationMode
from torch.distributions import Normal, kl_divergence


def floats(t):
    return [float(v) for v in t.reshape(-1).tolist()]


def reference():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(12, 3, generator=g, dtype=torch.float64) * 2
    targets = torch.tensor([0, 1, 2, 2, 1, 0, 0, 0, 2, 1, 0, 0])
    weights = torch.tensor([0.5, 2.0, 4.0], dtype=torch.float64)
    ce = F.cross_entropy(logits, targets, reduction="none")
    p = torch.exp(-ce)
    focal = (1 - p) ** 2 * ce
    w = weights[targets]
    b, c, h, wd = 3, 1, 4, 5
    x = torch.rand(b, c, h, wd, generator=g, dtype=torch.float64)
    rec = torch.rand(b, c, h, wd, generator=g, dtype=torch.float64) * 0.98 + 0.01
    mu = torch.randn(b, 6, generator=g, dtype=torch.float64)
    log_var = torch.randn(b, 6, generator=g, dtype=torch.float64) * 0.5
    kl = kl_divergence(Normal(mu, torch.exp(0.5 * log_var)), Normal(0.0, 1.0)).sum() / b
    small = torch.rand(3, 4, generator=g, dtype=torch.float64)
    big = torch.rand(9, 7, generator=g, dtype=torch.float64)

    img = torch.rand(1, 9, 11, generator=g, dtype=torch.float64)

    def affine(angle_ccw, translate, scale):
        out = TF.affine(img, angle=-angle_ccw, translate=translate, scale=scale, shear=[0.0, 0.0],
                        interpolation=InterpolationMode.BILINEAR, fill=None)
        return {"rotate": angle_ccw, "shift": translate, "scale": scale, "output": floats(out)}

    def bilinear(t, size):
        return floats(F.interpolate(t[None, None], size=size, mode="bilinear", align_corners=False)[0, 0])

    return {
        "torch_version": torch.__version__,
        "loss": {
            "logits": floats(logits),
            "targets": targets.tolist(),
            "weights": floats(weights),
            "ce": float(ce.mean()),
            "ce_weighted": float(F.cross_entropy(logits, targets, weight=weights)),
            "focal2": float(focal.mean()),
            "focal2_weighted": float((focal * w).sum() / w.sum()),
        },
        "vae": {
            "shape": [b, c, h, wd],
            "input": floats(x),
            "reconstruction": floats(rec),
            "mu": floats(mu),
            "log_var": floats(log_var),
            "mse": float(F.mse_loss(rec, x, reduction="sum") / b),
            "bce": float(F.binary_cross_entropy(rec, x, reduction="sum") / b),
            "kl": float(kl),
        },
        "affine": {
            "input": floats(img),
            "shape": list(img.shape[1:]),
            "cases": [affine(*c) for c in [(30.0, [1.5, -2.0], 1.1), (-90.0, [0.0, 0.0], 1.0),
                                           (7.0, [0.0, 0.0], 0.8), (0.0, [-3.25, 0.5], 1.0)]],
            "intensity": [
                {"gamma": gm, "contrast": ct,
                 "output": floats(TF.adjust_contrast(TF.adjust_gamma(img, gm), ct))}
                for gm, ct in [(1.3, 1.0), (0.8, 1.2), (1.0, 0.7)]
            ],
        },
        "interpolate": [
            {"input": floats(t), "shape": list(t.shape), "size": list(size), "output": bilinear(t, size)}
            for t, size in [(small, (12, 16)), (small, (7, 5)), (big, (4, 3)), (big, (9, 7))]
        ],
    }


if __name__ == "__main__":
    with open(sys.argv[1], "w") as f:
        json.dump(reference(), f)
        f.write("\n")

"""P5: training throughput of seed 001's CNN on the CPU, mammolab (burn Flex) vs PyTorch.

    bash scripts/bench.sh p5     (builds the Rust side in release mode, then runs this
                                  with the torch venv of tests/python/requirements-torch.txt)

Same network (conv 32-64-128, 3x3 valid, ReLU, 2x2 max-pool; dense 128; 2 logits), same
input (224 x 224, 1 channel, f32), same batch (16), Adam at 1e-3, cross-entropy, random
images; each side trains EPOCHS epochs over IMAGES images and reports images/s per epoch.
The first epoch includes start-up; the result is the best later epoch. PyTorch uses all
cores (torch.get_num_threads()), burn's Flex uses rayon's pool (all cores).
"""

import json
import subprocess
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F

SIZE, CHANNELS, BATCH, IMAGES, EPOCHS = 224, 1, 16, 96, 3


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(CHANNELS, 32, 3)
        self.c2 = nn.Conv2d(32, 64, 3)
        self.c3 = nn.Conv2d(64, 128, 3)
        side = (((SIZE - 2) // 2 - 2) // 2 - 2) // 2
        self.dense = nn.Linear(128 * side * side, 128)
        self.logits = nn.Linear(128, 2)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = F.max_pool2d(F.relu(self.c3(x)), 2)
        return self.logits(F.relu(self.dense(x.flatten(1))))


def pytorch():
    torch.manual_seed(1)
    x = torch.rand(IMAGES, CHANNELS, SIZE, SIZE)
    y = torch.arange(IMAGES) % 2
    net = Cnn()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    rates = []
    for _ in range(EPOCHS):
        perm = torch.randperm(IMAGES)
        t = time.perf_counter()
        for i in range(0, IMAGES, BATCH):
            idx = perm[i : i + BATCH]
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()
        rates.append(IMAGES / (time.perf_counter() - t))
    return rates


def main(rust_bin, out_path):
    out = subprocess.run(
        [rust_bin, str(SIZE), str(CHANNELS), str(BATCH), str(IMAGES), str(EPOCHS)],
        check=True, capture_output=True, text=True,
    ).stdout
    rust = json.loads(out)
    torch_rates = pytorch()
    r, t = max(rust["images_per_second"][1:]), max(torch_rates[1:])
    result = {
        "network": "seed 001 CNN", "input": [CHANNELS, SIZE, SIZE], "batch": BATCH,
        "images": IMAGES, "epochs": EPOCHS,
        "mammolab_images_per_second": rust["images_per_second"], "mammolab_threads": rust["threads"],
        "pytorch_images_per_second": torch_rates, "pytorch_threads": torch.get_num_threads(),
        "pytorch_version": torch.__version__,
        "ratio": r / t,
    }
    with open(out_path, "w") as f:
        json.dump(result, f, indent=2)
    print(f"P5 seed 001 CNN training, {SIZE}x{SIZE}x{CHANNELS}, batch {BATCH}: "
          f"PyTorch {t:.1f} images/s, mammolab {r:.1f} images/s, ratio {r / t:.2f}x")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

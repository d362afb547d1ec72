"""P6: training throughput of seed 001's CNN on one NVIDIA GPU, mammolab (burn-cuda) vs
PyTorch, in one run. Needs a GPU, PyTorch with CUDA, and the Rust side built elsewhere with
`cargo build --release --features cuda --example bench_train --example device_check`.

    python benches/p6_cuda.py BENCH_TRAIN DEVICE_CHECK OUT.json [SIZE BATCH IMAGES EPOCHS]

Same network, input (SIZE x SIZE x 1, f32), batch, Adam at 1e-3 and cross-entropy on both
sides; TF32 is off in PyTorch so both compute in f32. Reports images/s per epoch (the
result is the best epoch after the first), the time to the end of the first step (burn-cuda
compiles its kernels at run time; PyTorch loads cuDNN), peak GPU memory (PyTorch:
max_memory_reserved; mammolab: the largest `nvidia-smi` reading while it runs, minus the
reading before), and the CPU-vs-GPU check of examples/device_check.rs.
"""

import json
import subprocess
import sys
import threading
import time

import torch
from torch import nn
import torch.nn.functional as F


def gpu_used_mib():
    out = subprocess.run(
        ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", "0"],
        capture_output=True, text=True, check=True,
    ).stdout
    return float(out.strip().splitlines()[0])


class Cnn(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.c1, self.c2, self.c3 = nn.Conv2d(1, 32, 3), nn.Conv2d(32, 64, 3), nn.Conv2d(64, 128, 3)
        side = (((size - 2) // 2 - 2) // 2 - 2) // 2
        self.dense = nn.Linear(128 * side * side, 128)
        self.logits = nn.Linear(128, 2)

    def forward(self, x):
        for c in (self.c1, self.c2, self.c3):
            x = F.max_pool2d(F.relu(c(x)), 2)
        return self.logits(F.relu(self.dense(x.flatten(1))))


def pytorch(size, batch, images, epochs):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda")
    torch.manual_seed(1)
    start = time.perf_counter()
    x = torch.rand(images, 1, size, size, device=dev)
    y = torch.arange(images, device=dev) % 2
    net = Cnn(size).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    rates, first = [], None
    for _ in range(epochs):
        torch.cuda.synchronize()
        t = time.perf_counter()
        for i in range(0, images, batch):
            loss = F.cross_entropy(net(x[i : i + batch]), y[i : i + batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()
            if first is None:
                first = time.perf_counter() - start
        torch.cuda.synchronize()
        rates.append(images / (time.perf_counter() - t))
    return rates, first, torch.cuda.max_memory_reserved() / 2**20


def rust(bench, size, batch, images, epochs):
    base, peak, done = gpu_used_mib(), [0.0], threading.Event()

    def poll():
        while not done.is_set():
            peak[0] = max(peak[0], gpu_used_mib())
            time.sleep(0.2)

    th = threading.Thread(target=poll)
    th.start()
    try:
        out = subprocess.run(
            [bench, str(size), "1", str(batch), str(images), str(epochs), "cuda"],
            check=True, capture_output=True, text=True,
        ).stdout
    finally:
        done.set()
        th.join()
    r = json.loads(out)
    return r["images_per_second"], r["first_step_seconds"], peak[0] - base


def main():
    bench, check, out_path = sys.argv[1:4]
    size, batch, images, epochs = (int(v) for v in (sys.argv[4:8] or [224, 16, 512, 3]))
    r_rates, r_first, r_mem = rust(bench, size, batch, images, epochs)
    t_rates, t_first, t_mem = pytorch(size, batch, images, epochs)
    device = json.loads(subprocess.run([check, str(size)], check=True, capture_output=True, text=True).stdout)
    r, t = max(r_rates[1:] or r_rates), max(t_rates[1:] or t_rates)
    result = {
        "gpu": torch.cuda.get_device_name(0), "input": [1, size, size], "batch": batch,
        "images": images, "epochs": epochs,
        "mammolab_images_per_second": r_rates, "mammolab_first_step_seconds": r_first,
        "mammolab_peak_gpu_mib": r_mem,
        "pytorch_images_per_second": t_rates, "pytorch_first_step_seconds": t_first,
        "pytorch_peak_gpu_mib": t_mem, "pytorch_version": torch.__version__,
        "ratio": r / t, "cpu_vs_gpu": device,
    }
    with open(out_path, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

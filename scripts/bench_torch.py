#!/usr/bin/env python3
"""PyTorch side of `convmixer bench --vs torch`: the same ConvMixer (the paper's Appendix D definition), batch,
image size and thread count, timed the same way (warm-up steps, then timed steps). A train step is forward in
training mode, cross-entropy, backward and a plain SGD update; an inference step is a no-grad forward in eval mode.
Prints one JSON object. Reference tooling only: the suite never imports torch."""
import argparse
import json
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Residual(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x) + x


def conv_mixer(dim, depth, kernel_size=9, patch_size=7, n_classes=1000, activation=nn.GELU):
    # Appendix D of "Patches Are All You Need?", with the activation as a parameter (GELU or ReLU).
    return nn.Sequential(
        nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size),
        activation(),
        nn.BatchNorm2d(dim),
        *[nn.Sequential(
            Residual(nn.Sequential(
                nn.Conv2d(dim, dim, kernel_size, groups=dim, padding="same"),
                activation(),
                nn.BatchNorm2d(dim))),
            nn.Conv2d(dim, dim, kernel_size=1),
            activation(),
            nn.BatchNorm2d(dim)) for _ in range(depth)],
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
        nn.Linear(dim, n_classes))


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--mode", choices=["train", "infer"], default="train")
    p.add_argument("--dim", type=int, required=True)
    p.add_argument("--depth", type=int, required=True)
    p.add_argument("--kernel", type=int, default=9)
    p.add_argument("--patch", type=int, default=7)
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--activation", choices=["gelu", "relu"], default="gelu")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=0.01)
    a = p.parse_args()

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = conv_mixer(a.dim, a.depth, a.kernel, a.patch, a.classes, nn.GELU if a.activation == "gelu" else nn.ReLU)
    x = torch.randn(a.batch, 3, a.image_size, a.image_size)
    y = torch.randint(0, a.classes, (a.batch,))
    opt = torch.optim.SGD(model.parameters(), lr=a.lr)

    if a.mode == "train":
        model.train()

        def step():
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            loss.item()
    else:
        model.eval()

        def step():
            with torch.no_grad():
                model(x).sum().item()

    for _ in range(a.warmup):
        step()
    step_ms = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        step_ms.append((time.perf_counter() - t0) * 1000)
    ms_per_img = sum(step_ms) / (a.steps * a.batch)
    print(json.dumps({
        "ms_per_img": ms_per_img,
        "img_per_s": 1000 / ms_per_img,
        "step_ms": step_ms,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # ru_maxrss is KiB on Linux
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""PyTorch side of `convmixer bench --vs torch`: the same ConvMixer (the paper's Appendix D definition), batch,
image size and thread count, timed the same way (warm-up steps, then timed steps). A train step is forward in
training mode, cross-entropy, backward and a plain SGD update; an inference step is a no-grad forward in eval mode.

With --seg-model unet|convmixer_unet --config JSON (the registry model's resolved config) it times a segmentation
model instead, built from scripts/seg_reference.py (milesial UNet, seed 000's ConvMixer-Unet) on H x W inputs: a train
step is then forward in training mode, the soft Dice loss of lib/train/segLoss.ts (soft_dice_loss below) on random
labels (uniform over the classes and the ignore index), backward and the same SGD update. --expect-params N (the
registry's count) makes a model with another parameter count an error (exit 3, one line on stderr).

With --torchvision-model resnet50|resnet101|resnet152|vit_b_16|swin_t|swin_s it times that torchvision model instead (the
comparison rows of `convmixer bench models --vs torch`): weights=None (torchvision's random init, seeded), --classes
outputs, and for vit_b_16 image_size=--image-size (swin_t / swin_s take any input size). Without torchvision, or a
torchvision without that model (older ones lack swin_t / swin_s), it exits 4 with one line on stderr (the caller skips
the row's PyTorch side). torchvision, like torch, is benchmark-only tooling.

Prints one JSON object. Reference tooling only: the suite never imports torch."""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from seg_reference import Residual  # the block wrapper of Appendix D, defined once


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


def soft_dice_loss(logits, labels, num_classes, ignore_index, smooth=1.0):
    """lib/train/segLoss.ts softDiceLoss: logits N x K x H x W, labels N x H x W (class index or ignore_index).
    Per class c over batch and pixels together: dice_c = (2 sum(p_c g_c) + smooth) / (sum(p_c) + sum(g_c) + smooth),
    p = softmax over classes, g = one-hot labels, ignored pixels zeroed in both; loss = 1 - mean_c dice_c."""
    flat = labels.reshape(-1).long()
    keep = flat != ignore_index
    valid = keep.to(logits.dtype).unsqueeze(1)  # P x 1
    g = F.one_hot(torch.where(keep, flat, torch.zeros_like(flat)), num_classes).to(logits.dtype) * valid
    p = logits.softmax(1).permute(0, 2, 3, 1).reshape(-1, num_classes) * valid  # NHWC pixel order, as segLoss.ts
    intersection = (p * g).sum(0)
    cardinality = p.sum(0) + g.sum(0)
    dice = (2 * intersection + smooth) / (cardinality + smooth)
    return 1 - dice.mean()


def seg_model(name, c):
    """The registry segmentation model `name` ('unet' or 'convmixer_unet' family) with its resolved config `c`, in PyTorch."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from seg_reference import ConvMixerUnet, UNet
    if name == "unet":
        return UNet(c["inChannels"], c["numClasses"], c["baseWidth"])
    return ConvMixerUnet(c["inChannels"], c["numClasses"], list(c["encoderWidths"]), c["decoderWidth"], c["depth"], c["kernelSize"], c["patchSize"])


TORCHVISION_MODELS = ("resnet50", "resnet101", "resnet152", "vit_b_16", "swin_t", "swin_s")
TORCHVISION_MISSING_EXIT = 4


def torchvision_model(name, classes, image_size):
    """torchvision.models.<name>(weights=None) with `classes` outputs (vit_b_16 at `image_size`); exits 4 when unavailable."""
    try:
        import torchvision
    except ImportError as e:
        print(f"bench_torch.py: torchvision not installed ({e})", file=sys.stderr)
        sys.exit(TORCHVISION_MISSING_EXIT)
    build = getattr(torchvision.models, name, None)
    if build is None:
        print(f"bench_torch.py: torchvision {torchvision.__version__} has no models.{name}", file=sys.stderr)
        sys.exit(TORCHVISION_MISSING_EXIT)
    kwargs = {"image_size": image_size} if name.startswith("vit_") else {}
    return build(weights=None, num_classes=classes, **kwargs), torchvision.__version__


def blas_library():
    """The BLAS behind torch's matmuls (nn.Linear, attention): Debian's python3-torch calls the system libblas.so.3, which is
    the slow reference (netlib) BLAS unless an optimized one is installed (apt-get install libopenblas0-pthread); pip
    wheels link MKL or OpenBLAS in. Read from the libraries this process has mapped, after the model ran."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if ".so" in line}
    except OSError:
        libs = set()
    names = sorted(os.path.basename(os.path.dirname(p)) + "/" + os.path.basename(p) for p in libs)
    kinds = (("mkl", "MKL"), ("openblas", "OpenBLAS"), ("blis", "BLIS"), ("atlas", "ATLAS"))
    # The system libblas.so.3 torch links (Debian's alternatives pick the directory it lives in) decides; else a BLAS bundled in.
    for name in [n for n in names if "/libblas.so" in n] + names:
        for key, label in kinds:
            if key in name.lower():
                return f"{label} ({name})"
        if name.startswith("blas/libblas.so"):
            return f"reference BLAS ({name})"
    info = [part.split("=", 1)[1] for part in torch.__config__.show().replace(",", " ").split() if part.startswith("BLAS_INFO=")]
    return f"built in ({info[0]})" if info else "unknown"


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--mode", choices=["train", "infer"], default="train")
    p.add_argument("--dim", type=int)
    p.add_argument("--depth", type=int)
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
    p.add_argument("--seg-model", choices=["unet", "convmixer_unet"], help="a segmentation model family instead of a ConvMixer")
    p.add_argument("--config", help="with --seg-model: the registry model's resolved config as JSON")
    p.add_argument("--height", type=int, help="with --seg-model: input height (default --image-size)")
    p.add_argument("--width", type=int, help="with --seg-model: input width (default --image-size)")
    p.add_argument("--ignore-index", type=int, default=255, help="with --seg-model: the label the Dice loss ignores")
    p.add_argument("--torchvision-model", choices=TORCHVISION_MODELS, help="a torchvision classification model instead of a ConvMixer")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                   help="bf16: forward and loss under torch.autocast('cpu', dtype=torch.bfloat16), as the engine's bf16 mode")
    p.add_argument("--expect-params", type=int, help="fail (exit 3) unless the model has exactly this many parameters")
    a = p.parse_args()
    if a.seg_model is None and a.torchvision_model is None and (a.dim is None or a.depth is None):
        p.error("--dim and --depth are required (or --seg-model with --config, or --torchvision-model)")
    if a.seg_model is not None and a.torchvision_model is not None:
        p.error("--seg-model and --torchvision-model exclude each other")
    if a.seg_model is not None and a.config is None:
        p.error("--seg-model needs --config")

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    torchvision_version = None
    if a.seg_model is not None:
        config = json.loads(a.config)
        model = seg_model(a.seg_model, config)
        h, w = a.height or a.image_size, a.width or a.image_size
        classes, in_channels = config["numClasses"], config["inChannels"]
        x = torch.randn(a.batch, in_channels, h, w)
        y = torch.randint(0, classes + 1, (a.batch, h, w))
        y[y == classes] = a.ignore_index  # the ignore path of the loss runs too

        def loss_fn(logits):
            return soft_dice_loss(logits, y, classes, a.ignore_index)
    else:
        if a.torchvision_model is not None:
            model, torchvision_version = torchvision_model(a.torchvision_model, a.classes, a.image_size)
        else:
            model = conv_mixer(a.dim, a.depth, a.kernel, a.patch, a.classes, nn.GELU if a.activation == "gelu" else nn.ReLU)
        x = torch.randn(a.batch, 3, a.image_size, a.image_size)
        y = torch.randint(0, a.classes, (a.batch,))

        def loss_fn(logits):
            return F.cross_entropy(logits, y)
    params = sum(t.numel() for t in model.parameters())
    if a.expect_params is not None and params != a.expect_params:
        name = a.seg_model or (f"torchvision {a.torchvision_model}" if a.torchvision_model else f"ConvMixer-{a.dim}/{a.depth}")
        print(f"bench_torch.py: parameter count mismatch for {name}: this engine's registry model has {a.expect_params}, "
              f"the PyTorch model {params}: not the same architecture", file=sys.stderr)
        sys.exit(3)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr)

    # fp32 master weights and optimizer either way; bf16 autocasts the convolutions and matmuls of forward and loss.
    def autocast():
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16")

    if a.mode == "train":
        model.train()

        def step():
            opt.zero_grad(set_to_none=True)
            with autocast():
                loss = loss_fn(model(x))
            loss.backward()
            opt.step()
            loss.item()
    else:
        model.eval()

        def step():
            with torch.no_grad(), autocast():
                model(x).float().sum().item()

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
        "precision": a.precision,
        "params": params,
        "torch": torch.__version__,
        "blas": blas_library(),
        **({"torchvision": torchvision_version} if torchvision_version is not None else {}),
    }))


if __name__ == "__main__":
    main()

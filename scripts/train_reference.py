"""Reference fixtures for test/train-torch.test.ts: a few training steps of tiny ConvMixers in PyTorch, defined here
independently of the TypeScript code, so that the engine's whole training step (forward, backward, global-norm clipping,
AdamW with decoupled weight decay, the paper's one-cycle lr, BatchNorm running statistics) is checked end to end
against torch, for the BatchNorm model and for Table 3's LayerNorm ablation.

Each case trains ConvMixer-16/2 (kernel 3, patch 2, 10 classes) on ONE fixed batch of 16 random 8x8 images with random
soft targets (as mixup/CutMix make them), for 6 epochs of one step each, so the data order cannot differ between the
two implementations. The recipe is the quick profile's optimizer: AdamW(betas 0.9/0.999, eps 1e-8, weight decay 0.01
on every parameter), lr_max 0.01 on the one-cycle schedule lr(t) = interp(t, [0, E*2//5, E*4//5, E], [0, lr_max,
lr_max/20, 0]) at the end of each step (t = epoch + 1), clip_grad_norm_(1.0), soft-target cross-entropy (mean over the
batch).

- batchnorm: the paper's block, BatchNorm2d (eps 1e-5, momentum 0.1) after each GELU.
- layernorm: Table 3's "BatchNorm -> LayerNorm": LayerNorm over the channels of each pixel (eps 1e-5, affine per
  channel), as nn.LayerNorm on channels-last data computes it (see ChannelLayerNorm for why it is written out).

Files: test/fixtures/train-tiny/<case>.safetensors: `init.<key>` (the state dict before training, PyTorch layouts,
timm key names; no num_batches_tracked), `input_nhwc` [16, 8, 8, 3], `targets` [16, 10], `losses` [6] (the loss of
each step, before its update), `lrs` [6], `grad_norms` [6] (global norm before clipping) and `final.<key>` (the state
dict after the last step, running statistics included).

usage: /usr/bin/python3 scripts/train_reference.py   (needs PyTorch: apt-get install python3-torch)
"""
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from safetensors_file import write_safetensors
from seg_reference import Residual  # the block wrapper of Appendix D, defined once

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'train-tiny')
DIM, DEPTH, K, P, CLASSES, N, HW = 16, 2, 3, 2, 10, 16, 8
EPOCHS, LR_MAX, WD, CLIP = 6, 0.01, 0.01, 1.0


class ChannelLayerNorm(nn.LayerNorm):
    """nn.LayerNorm over C of an NCHW tensor, per pixel, computed in NCHW. Not as the usual permute -> nn.LayerNorm ->
    permute: the gradient such a permute hands back is channels-last strided, and PyTorch's CPU GELU backward with a
    strided gradient and a contiguous input returns wrong values (pytorch/pytorch#112006, #107876; reproduced with
    Debian's torch 1.13: errors up to ~4 for unit-scale gradients, and stem gradients of 1e12 in this model)."""

    def forward(self, x):
        mean = x.mean(dim=1, keepdim=True)
        var = x.var(dim=1, unbiased=False, keepdim=True)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight[:, None, None] + self.bias[:, None, None]


class ConvMixer(nn.Module):
    """timm's module layout: stem.{0,2}, blocks.{i}.0.fn.{0,2}, blocks.{i}.{1,3}, head."""

    def __init__(self, norm):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, DIM, P, stride=P), nn.GELU(), norm(DIM))
        self.blocks = nn.Sequential(*[nn.Sequential(
            Residual(nn.Sequential(nn.Conv2d(DIM, DIM, K, groups=DIM, padding='same'), nn.GELU(), norm(DIM))),
            nn.Conv2d(DIM, DIM, 1), nn.GELU(), norm(DIM)) for _ in range(DEPTH)])
        self.head = nn.Linear(DIM, CLASSES)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.head(x.mean(dim=(2, 3)))


def one_cycle(t):
    return float(np.interp([t], [0, EPOCHS * 2 // 5, EPOCHS * 4 // 5, EPOCHS], [0, LR_MAX, LR_MAX / 20, 0])[0])


def state(model, prefix):
    return {f'{prefix}.{k}': v.detach().numpy().copy() for k, v in model.state_dict().items() if 'num_batches_tracked' not in k}


def run(name, norm, seed):
    torch.manual_seed(seed)
    model = ConvMixer(norm)
    # Non-trivial norm affine parameters, so a swapped weight/bias or a missed affine shows.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    x = torch.randn(N, 3, HW, HW)
    targets = torch.softmax(2 * torch.randn(N, CLASSES), dim=1)
    out = {**state(model, 'init'), 'input_nhwc': x.permute(0, 2, 3, 1).numpy().copy(), 'targets': targets.numpy()}
    opt = torch.optim.AdamW(model.parameters(), lr=LR_MAX, betas=(0.9, 0.999), eps=1e-8, weight_decay=WD)
    model.train()
    losses, lrs, norms = [], [], []
    for epoch in range(EPOCHS):
        lr = one_cycle(epoch + 1)
        for g in opt.param_groups:
            g['lr'] = lr
        opt.zero_grad()
        loss = torch.sum(-targets * F.log_softmax(model(x), dim=1), dim=1).mean()
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)))
        opt.step()
        losses.append(loss.item())
        lrs.append(lr)
    out.update({'losses': np.array(losses, dtype=np.float32), 'lrs': np.array(lrs, dtype=np.float32),
                'grad_norms': np.array(norms, dtype=np.float32), **state(model, 'final')})
    write_safetensors(os.path.join(OUT, f'{name}.safetensors'), out)
    print(name, 'losses', ' '.join(f'{v:.5f}' for v in losses), 'grad norms', ' '.join(f'{v:.3f}' for v in norms))


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    run('batchnorm', nn.BatchNorm2d, 1)
    run('layernorm', ChannelLayerNorm, 2)

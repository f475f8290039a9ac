"""Reference fixtures for test/seg-models.test.ts: tiny instances of the two segmentation models, defined here in PyTorch
independently of the TypeScript code, with random weights (BatchNorm affine and running statistics included), a random
input, and their logits in eval mode (running statistics) and training mode (batch statistics).

- unet: milesial/Pytorch-UNet's UNet(n_channels=3, n_classes, bilinear=False) as in its unet/unet_parts.py since 2021-12
  (DoubleConv convs without bias), with the widths 64..1024 scaled down to base..16*base. The input is 20x28, so the
  max pools floor (20 -> 10 -> 5 -> 2 -> 1) and the up path pads to the skip sizes as milesial does.
- convmixer_unet: seed 000's ConvMixer-Unet as its author's script builds it (five full ConvMixers with 2x2 patch
  embeddings; einops 'b (c r1 r2) h w -> b c (h r1) (w r2)' upsampling = F.pixel_shuffle, PyTorch's CRD channel order;
  concat [upsampled, skip]; no head), with small widths.

Files: test/fixtures/seg-tiny/<case>.safetensors: the state dict (PyTorch layouts: conv [out, in, kh, kw], depthwise
[C, 1, k, k], transposed conv [in, out, kh, kw]; no num_batches_tracked) plus `input` [N, 3, H, W], `eval_logits` and
`train_logits` [N, K, H, W] and `after_train.<key>` (every BatchNorm running statistic after that training-mode pass);
test/fixtures/seg-tiny/expected.json: each case's registry name and config overrides, and the full-size models' parameter
counts and forward multiply-adds of their convolutions (counted by forward hooks) at a few input sizes.

usage: /usr/bin/python3 scripts/seg_reference.py   (needs PyTorch: apt-get install python3-torch)

Importing this module defines the models only (scripts/bench_torch.py builds UNet and ConvMixerUnet from here); the
fixtures are written when it runs as a script.
"""
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from safetensors_file import write_safetensors

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'seg-tiny')


def double_conv(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class DoubleConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.double_conv = double_conv(cin, cout)

    def forward(self, x):
        return self.double_conv(x)


class Down(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(cin, cout))

    def forward(self, x):
        return self.maxpool_conv(x)


class Up(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cin // 2, kernel_size=2, stride=2)
        self.conv = DoubleConv(cin, cout)

    def forward(self, x, skip):
        x = self.up(x)
        dy, dx = skip.shape[2] - x.shape[2], skip.shape[3] - x.shape[3]
        x = F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([skip, x], dim=1))


class OutConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        return self.conv(x)


class UNet(nn.Module):
    def __init__(self, n_channels, n_classes, base):
        super().__init__()
        w = [base * 2 ** i for i in range(5)]
        self.inc = DoubleConv(n_channels, w[0])
        self.down1, self.down2, self.down3, self.down4 = (Down(w[i], w[i + 1]) for i in range(4))
        self.up1, self.up2, self.up3, self.up4 = (Up(w[i], w[i - 1]) for i in range(4, 0, -1))
        self.outc = OutConv(w[0], n_classes)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.down4(x4)
        x = self.up1(x5, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        x = self.up4(x, x1)
        return self.outc(x)


class Residual(nn.Module):
    """fn(x) + x: Appendix D's block wrapper (bench_torch.py and train_reference.py import it from here)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x) + x


def conv_mixer(cin, dim, depth, k, p):
    return nn.Sequential(
        nn.Conv2d(cin, dim, kernel_size=p, stride=p), nn.GELU(), nn.BatchNorm2d(dim),
        *[nn.Sequential(Residual(nn.Sequential(nn.Conv2d(dim, dim, k, groups=dim, padding='same'), nn.GELU(), nn.BatchNorm2d(dim))),
                        nn.Conv2d(dim, dim, kernel_size=1), nn.GELU(), nn.BatchNorm2d(dim)) for _ in range(depth)])


class ConvMixerUnet(nn.Module):
    def __init__(self, cin, n_classes, enc, dec, depth, k, p):
        super().__init__()
        p2 = p * p
        self.p = p
        self.convmix1 = conv_mixer(cin, enc[0], depth, k, p)
        self.convmix2 = conv_mixer(enc[0], enc[1], depth, k, p)
        self.convmix3 = conv_mixer(enc[1], enc[2], depth, k, p)
        self.convmix4 = conv_mixer(enc[2] // p2 + enc[1], dec, depth, k, p)
        self.convmix5 = conv_mixer(dec // (p2 * p2) + enc[0], n_classes * p2 * p2, depth, k, p)

    def forward(self, x):
        p = self.p
        x1 = self.convmix1(x)
        x2 = self.convmix2(x1)
        x3 = self.convmix3(x2)
        x4 = self.convmix4(torch.cat([F.pixel_shuffle(x3, p), x2], 1))
        x5 = self.convmix5(torch.cat([F.pixel_shuffle(x4, p * p), x1], 1))
        return F.pixel_shuffle(x5, p * p)


def randomize(model):
    """Weights not at their init values: He-uniform convs (so activations keep their scale through ~20 layers and every
    part of the net shows in the logits), small biases, BN affine around 1 / 0 and running statistics != 0 / 1."""
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith('num_batches_tracked'):
                continue
            if name.endswith('running_var'):
                t.copy_(torch.rand_like(t) * 0.5 + 0.75)
            elif name.endswith('running_mean'):
                t.copy_(torch.randn_like(t) * 0.1)
            elif t.dim() == 1 and name.rsplit('.', 1)[0] + '.running_mean' in model.state_dict():
                t.copy_((1.0 if name.endswith('weight') else 0.0) + torch.randn_like(t) * 0.1)
            elif t.dim() == 1:
                t.copy_((torch.rand_like(t) - 0.5) * 0.2)
            else:  # fan_in: t[0].numel() (in * k * k; for ConvTranspose2d PyTorch's out * k * k)
                t.copy_((torch.rand_like(t) * 2 - 1) * (6 / t[0].numel()) ** 0.5)


def case(name, registry, overrides, model, shape, out=OUT):
    randomize(model)
    state = {k: v.clone() for k, v in model.state_dict().items() if not k.endswith('num_batches_tracked')}
    x = torch.randn(*shape)
    model.eval()
    with torch.no_grad():
        eval_logits = model(x)
        model.train()
        train_logits = model(x)
    after = {f'after_train.{k}': v for k, v in model.state_dict().items() if k.endswith(('running_mean', 'running_var'))}
    tensors = {**state, 'input': x, 'eval_logits': eval_logits, 'train_logits': train_logits, **after}
    write_safetensors(os.path.join(out, f'{name}.safetensors'), {k: v.detach().numpy() for k, v in tensors.items()})
    return {'model': registry, 'overrides': overrides, 'input_shape': list(shape), 'params': sum(p.numel() for p in model.parameters())}


def conv_macs(model, h, w):
    """Multiply-adds of every Conv2d / ConvTranspose2d in one forward pass of a 1 x 3 x h x w input."""
    total = [0]

    def hook(m, inputs, out):
        if isinstance(m, nn.ConvTranspose2d):  # every input pixel meets k*k*out weights
            total[0] += inputs[0][0].numel() * m.out_channels * m.kernel_size[0] * m.kernel_size[1]
        else:
            total[0] += out[0].numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            m.register_forward_hook(hook)
    with torch.no_grad():
        model.eval()
        model(torch.zeros(1, 3, h, w))
    return total[0]


def write_cases(out=OUT):
    """The two tiny cases (seeded: the fixtures are reproducible), written to `out`; returns their expected.json entries."""
    torch.manual_seed(7)
    os.makedirs(out, exist_ok=True)
    return {
        'unet': case('unet', 'unet', {'baseWidth': 2, 'numClasses': 3}, UNet(3, 3, 2), (2, 3, 20, 28), out),
        'convmixer_unet': case('convmixer_unet', 'convmixer_unet',
                               {'encoderWidths': [4, 8, 16], 'decoderWidth': 16, 'depth': 2, 'kernelSize': 3, 'numClasses': 2},
                               ConvMixerUnet(3, 2, [4, 8, 16], 16, 2, 3, 2), (2, 3, 16, 24), out),
    }


def main():
    cases = write_cases()
    # Full-size parameter counts of the same PyTorch definitions (the seed's 31M Unet and 23.4M ConvMixer-Unet).
    counts = {f'unet K={k}': sum(p.numel() for p in UNet(3, k, 64).parameters()) for k in (2, 11, 19, 20)}
    counts.update({f'convmixer_unet K={k}': sum(p.numel() for p in ConvMixerUnet(3, k, [64, 256, 1024], 1024, 8, 9, 2).parameters()) for k in (11, 19, 20)})

    sizes = [(256, 512), (192, 256), (360, 480)]
    macs = {f'unet K=20 {h}x{w}': conv_macs(UNet(3, 20, 64), h, w) for h, w in sizes}
    macs.update({f'convmixer_unet K=20 {h}x{w}': conv_macs(ConvMixerUnet(3, 20, [64, 256, 1024], 1024, 8, 9, 2), h, w) for h, w in sizes})
    with open(os.path.join(OUT, 'expected.json'), 'w') as f:
        json.dump({'generator': f'scripts/seg_reference.py (torch {torch.__version__})', 'cases': cases, 'full_size_param_counts': counts,
                   'full_size_conv_macs': macs}, f, indent=1)
    print(json.dumps({**counts, **macs}, indent=1))


if __name__ == '__main__':
    main()

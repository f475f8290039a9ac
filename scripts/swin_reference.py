"""Reference fixtures for test/swin.test.ts: tiny Swin Transformers built by torchvision's own SwinTransformer class
(torchvision.models.swin_transformer, the class behind swin_t / swin_s), every parameter set to random values, their state
dicts saved in torchvision's layout (features.N..., mlp.0 / mlp.3, head; relative_position_index buffers included, int64),
with an input batch and the logits torchvision computes for it (in float64, from the float32-rounded weights and inputs).
The TypeScript model (lib/models/swin.ts) loads these weights through its torchvision -> timm key mapping and must give
the same logits.

Cases (eval mode; dropout and stochastic depth are 0 here anyway):
  shift: patch 2, embed 8, depths [2, 2], heads [1, 2], window 2, 16x16 input. Feature maps 8x8 and 4x4, both larger
         than the window, so the second block of each stage rolls the map and masks attention (no padding).
  pad:   patch 2, embed 4, depths [2, 2, 2], heads [1, 2, 2], window 3, 20x12 input (not square). Maps 10x6 (padded to
         12x6 for the windows, shifted along both sides), 5x3 (padded to 6x3: shifted along H only, the window covers W),
         3x2 (padded to 3x3: no shift); patch merging pads the odd sides 5 and 3.

usage: /usr/bin/python3 scripts/swin_reference.py   (needs torch and torchvision; reference tooling only, never imported by
the suite) -> test/fixtures/swin-tiny/<case>.safetensors, inputs.safetensors, expected.json
"""
import json
import os

import numpy as np
import torch
import torchvision
from torchvision.models.swin_transformer import SwinTransformer

from safetensors_file import write_safetensors

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'swin-tiny')

# name -> (torchvision kwargs, registry overrides of swin_tiny_patch4_window7_224, input H, W)
CASES = {
    'shift': (dict(patch_size=[2, 2], embed_dim=8, depths=[2, 2], num_heads=[1, 2], window_size=[2, 2]),
              {'patchSize': 2, 'embedDim': 8, 'depths': [2, 2], 'numHeads': [1, 2], 'windowSize': 2, 'numClasses': 5}, 16, 16),
    'pad': (dict(patch_size=[2, 2], embed_dim=4, depths=[2, 2, 2], num_heads=[1, 2, 2], window_size=[3, 3]),
            {'patchSize': 2, 'embedDim': 4, 'depths': [2, 2, 2], 'numHeads': [1, 2, 2], 'windowSize': 3, 'numClasses': 5}, 20, 12),
}


def randomize(model, gen):
    """Every parameter random (torchvision's init leaves norms at 1/0 and biases near 0, which would hide mistakes)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('relative_position_bias_table'):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)  # large enough that a wrong index shows
            elif p.dim() == 1:  # LayerNorm weights around 1, biases (also LayerNorm's) around 0
                base = 1.0 if name.endswith('weight') else 0.0
                p.copy_(base + torch.randn(p.shape, generator=gen) * 0.2)
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in ** 0.5)


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(20240)
    manifest, inputs = {}, {}
    for case, (kwargs, overrides, h, w) in CASES.items():
        model = SwinTransformer(num_classes=5, stochastic_depth_prob=0.0, **kwargs).eval()
        randomize(model, gen)
        x = torch.randn(2, 3, h, w, generator=gen)
        with torch.no_grad():
            logits32 = model(x)
            logits = model.double()(x.double())
        sd = {k: v.numpy() for k, v in model.float().state_dict().items()}
        write_safetensors(os.path.join(OUT, f'{case}.safetensors'), sd)
        inputs[case] = x.numpy()
        manifest[case] = {
            'model': 'swin_tiny_patch4_window7_224', 'overrides': overrides, 'input_shape': [2, 3, h, w],
            'params': sum(p.numel() for p in model.parameters()), 'logits_shape': list(logits.shape),
            'logits': [round(float(v), 8) for v in logits.ravel()],
            'float32_vs_float64_max_abs': float((logits32.double() - logits).abs().max()),
        }
    write_safetensors(os.path.join(OUT, 'inputs.safetensors'), inputs)  # per case: the input batch, NCHW
    with open(os.path.join(OUT, 'expected.json'), 'w') as f:
        json.dump({'generator': f'scripts/swin_reference.py (torch {torch.__version__}, torchvision {torchvision.__version__})',
                   'cases': manifest}, f, indent=1)
    print('wrote', OUT, {k: os.path.getsize(os.path.join(OUT, f'{k}.safetensors')) for k in CASES})

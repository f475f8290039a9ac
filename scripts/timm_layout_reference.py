"""Reference fixtures for test/timm-weights.test.ts: tiny ResNet / DeiT / Mixer / ResMLP state dicts in timm's key names
and PyTorch layouts (conv OIHW, Linear [out, in]), and their logits computed here with numpy in PyTorch's conventions
(NCHW, symmetric conv/pool padding, BatchNorm eval with running stats, LayerNorm eps 1e-6, exact-erf GELU, timm's
attention head split), written independently of the TypeScript models. PyTorch/timm are not needed (none on this machine);
the forward definitions follow timm's resnet.py, vision_transformer.py and mlp_mixer.py as read from the source.

usage: python3 scripts/timm_layout_reference.py   (writes test/fixtures/timm-tiny/: <case>.safetensors, inputs.safetensors, expected.json)
"""
import json
import math
import os

import numpy as np

from safetensors_file import write_safetensors

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'timm-tiny')
rng = np.random.default_rng(12)
erf = np.vectorize(math.erf)


def gelu(x):
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def rand(*shape, scale=0.3):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def conv2d(x, w, b=None, stride=1, pad=0):
    """x [N, C, H, W], w [O, I, kh, kw] (PyTorch), zero padding `pad` on each side."""
    n, c, h, wd = x.shape
    o, i, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    y = np.zeros((n, o, oh, ow), np.float64)
    for r in range(kh):
        for s in range(kw):
            patch = xp[:, :, r:r + stride * oh:stride, s:s + stride * ow:stride]  # [N, C, oh, ow]
            y += np.einsum('nchw,oc->nohw', patch, w[:, :, r, s])
    if b is not None:
        y += b[None, :, None, None]
    return y


def maxpool3s2p1(x):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    oh, ow = (h + 2 - 3) // 2 + 1, (w + 2 - 3) // 2 + 1
    y = np.full((n, c, oh, ow), -np.inf)
    for r in range(3):
        for s in range(3):
            y = np.maximum(y, xp[:, :, r:r + 2 * oh:2, s:s + 2 * ow:2])
    return y


def bn_eval(x, sd, p, eps=1e-5):
    w, b, m, v = (sd[f'{p}.{k}'] for k in ('weight', 'bias', 'running_mean', 'running_var'))
    return (x - m[None, :, None, None]) / np.sqrt(v[None, :, None, None] + eps) * w[None, :, None, None] + b[None, :, None, None]


def linear(x, sd, p):
    return x @ sd[f'{p}.weight'].T + sd[f'{p}.bias']


def layer_norm(x, sd, p, eps=1e-6):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * sd[f'{p}.weight'] + sd[f'{p}.bias']


def bn_params(sd, p, c):
    sd[f'{p}.weight'] = 1 + rand(c, scale=0.2)
    sd[f'{p}.bias'] = rand(c, scale=0.2)
    sd[f'{p}.running_mean'] = rand(c, scale=0.2)
    sd[f'{p}.running_var'] = (0.5 + rng.random(c)).astype(np.float32)
    sd[f'{p}.num_batches_tracked'] = np.array(7, np.int64)  # PyTorch state dicts have it (int64); loaders drop it


def resnet(layers, channels, stem, classes, in_ch=3):
    sd = {'conv1.weight': rand(stem, in_ch, 7, 7, scale=0.2)}
    bn_params(sd, 'bn1', stem)
    blocks, inplanes = [], stem
    for si, (n, w) in enumerate(zip(layers, channels)):
        out = 4 * w
        for bi in range(n):
            p = f'layer{si + 1}.{bi}'
            stride = 2 if bi == 0 and si > 0 else 1
            down = bi == 0 and (stride != 1 or inplanes != out)
            sd[f'{p}.conv1.weight'] = rand(w, inplanes, 1, 1)
            bn_params(sd, f'{p}.bn1', w)
            sd[f'{p}.conv2.weight'] = rand(w, w, 3, 3)
            bn_params(sd, f'{p}.bn2', w)
            sd[f'{p}.conv3.weight'] = rand(out, w, 1, 1)
            bn_params(sd, f'{p}.bn3', out)
            if down:
                sd[f'{p}.downsample.0.weight'] = rand(out, inplanes, 1, 1)
                bn_params(sd, f'{p}.downsample.1', out)
            blocks.append((p, stride, down))
            inplanes = out
    sd['fc.weight'] = rand(classes, inplanes)
    sd['fc.bias'] = rand(classes)

    def forward(x):
        h = np.maximum(bn_eval(conv2d(x, sd['conv1.weight'], stride=2, pad=3), sd, 'bn1'), 0)
        h = maxpool3s2p1(h)
        for p, stride, down in blocks:
            a = np.maximum(bn_eval(conv2d(h, sd[f'{p}.conv1.weight']), sd, f'{p}.bn1'), 0)
            a = np.maximum(bn_eval(conv2d(a, sd[f'{p}.conv2.weight'], stride=stride, pad=1), sd, f'{p}.bn2'), 0)
            a = bn_eval(conv2d(a, sd[f'{p}.conv3.weight']), sd, f'{p}.bn3')
            sc = bn_eval(conv2d(h, sd[f'{p}.downsample.0.weight'], stride=stride), sd, f'{p}.downsample.1') if down else h
            h = np.maximum(a + sc, 0)
        return h.mean((2, 3)) @ sd['fc.weight'].T + sd['fc.bias']
    return sd, forward


def ln_params(sd, p, d):
    sd[f'{p}.weight'] = 1 + rand(d, scale=0.2)
    sd[f'{p}.bias'] = rand(d, scale=0.2)


def lin_params(sd, p, i, o):
    sd[f'{p}.weight'] = rand(o, i, scale=1 / math.sqrt(i))
    sd[f'{p}.bias'] = rand(o, scale=0.1)


def patch_tokens(x, sd, key, p):
    y = conv2d(x, sd[f'{key}.weight'], sd[f'{key}.bias'], stride=p)  # [N, D, h, w]
    n, d = y.shape[:2]
    return y.reshape(n, d, -1).transpose(0, 2, 1)  # flatten(2).transpose(1, 2): [N, L, D]


def vit(img, patch, d, depth, heads, classes, in_ch=3):
    tokens = (img // patch) ** 2 + 1
    sd = {'patch_embed.proj.weight': rand(d, in_ch, patch, patch, scale=0.1), 'patch_embed.proj.bias': rand(d, scale=0.1),
          'cls_token': rand(1, 1, d), 'pos_embed': rand(1, tokens, d)}
    for i in range(depth):
        ln_params(sd, f'blocks.{i}.norm1', d)
        lin_params(sd, f'blocks.{i}.attn.qkv', d, 3 * d)
        lin_params(sd, f'blocks.{i}.attn.proj', d, d)
        ln_params(sd, f'blocks.{i}.norm2', d)
        lin_params(sd, f'blocks.{i}.mlp.fc1', d, 4 * d)
        lin_params(sd, f'blocks.{i}.mlp.fc2', 4 * d, d)
    ln_params(sd, 'norm', d)
    lin_params(sd, 'head', d, classes)

    def attention(x, p):
        b, n, c = x.shape
        hd = c // heads
        qkv = linear(x, sd, f'{p}.qkv').reshape(b, n, 3, heads, hd).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = q @ k.transpose(0, 1, 3, 2) * hd ** -0.5
        a = np.exp(a - a.max(-1, keepdims=True))
        a = a / a.sum(-1, keepdims=True)
        return linear((a @ v).transpose(0, 2, 1, 3).reshape(b, n, c), sd, f'{p}.proj')

    def forward(x):
        h = patch_tokens(x, sd, 'patch_embed.proj', patch)
        h = np.concatenate([np.broadcast_to(sd['cls_token'], (h.shape[0], 1, d)), h], 1) + sd['pos_embed']
        for i in range(depth):
            h = h + attention(layer_norm(h, sd, f'blocks.{i}.norm1'), f'blocks.{i}.attn')
            h = h + linear(gelu(linear(layer_norm(h, sd, f'blocks.{i}.norm2'), sd, f'blocks.{i}.mlp.fc1')), sd, f'blocks.{i}.mlp.fc2')
        return linear(layer_norm(h, sd, 'norm')[:, 0], sd, 'head')
    return sd, forward


def mixer(kind, img, patch, d, depth, classes, in_ch=3):
    n_tok = (img // patch) ** 2
    sd = {'stem.proj.weight': rand(d, in_ch, patch, patch, scale=0.1), 'stem.proj.bias': rand(d, scale=0.1)}

    def norm_params(p):
        if kind == 'mixer':
            ln_params(sd, p, d)
        else:
            sd[f'{p}.alpha'] = 1 + rand(1, 1, d, scale=0.2)
            sd[f'{p}.beta'] = rand(1, 1, d, scale=0.2)

    def norm(x, p):
        return layer_norm(x, sd, p) if kind == 'mixer' else sd[f'{p}.alpha'] * x + sd[f'{p}.beta']

    def mlp(x, p):
        return linear(gelu(linear(x, sd, f'{p}.fc1')), sd, f'{p}.fc2')

    for i in range(depth):
        b = f'blocks.{i}'
        norm_params(f'{b}.norm1')
        if kind == 'mixer':
            lin_params(sd, f'{b}.mlp_tokens.fc1', n_tok, d // 2)
            lin_params(sd, f'{b}.mlp_tokens.fc2', d // 2, n_tok)
        else:
            lin_params(sd, f'{b}.linear_tokens', n_tok, n_tok)
        norm_params(f'{b}.norm2')
        lin_params(sd, f'{b}.mlp_channels.fc1', d, 4 * d)
        lin_params(sd, f'{b}.mlp_channels.fc2', 4 * d, d)
        if kind == 'resmlp':
            sd[f'{b}.ls1'] = 1 + rand(d, scale=0.2)
            sd[f'{b}.ls2'] = 1 + rand(d, scale=0.2)
    norm_params('norm')
    lin_params(sd, 'head', d, classes)

    def forward(x):
        h = patch_tokens(x, sd, 'stem.proj', patch)
        for i in range(depth):
            b = f'blocks.{i}'
            if kind == 'mixer':
                h = h + mlp(norm(h, f'{b}.norm1').transpose(0, 2, 1), f'{b}.mlp_tokens').transpose(0, 2, 1)
                h = h + mlp(norm(h, f'{b}.norm2'), f'{b}.mlp_channels')
            else:
                h = h + sd[f'{b}.ls1'] * linear(norm(h, f'{b}.norm1').transpose(0, 2, 1), sd, f'{b}.linear_tokens').transpose(0, 2, 1)
                h = h + sd[f'{b}.ls2'] * mlp(norm(h, f'{b}.norm2'), f'{b}.mlp_channels')
        return linear(norm(h, 'norm').mean(1), sd, 'head')
    return sd, forward


# name -> (registry model, overrides, input size, builder). Overrides are the registry's config keys.
CASES = {
    'resnet': ('resnet50', {'layers': [2, 1, 1, 1], 'channels': [1, 2, 2, 3], 'stemWidth': 4, 'numClasses': 5}, 32,
               lambda: resnet([2, 1, 1, 1], [1, 2, 2, 3], 4, 5)),
    'deit': ('deit_tiny_patch16_224', {'imgSize': 32, 'depth': 2, 'embedDim': 12, 'numHeads': 3, 'numClasses': 5}, 32,
             lambda: vit(32, 16, 12, 2, 3, 5)),
    'mixer': ('mixer_b16_224', {'imgSize': 32, 'depth': 2, 'embedDim': 8, 'numClasses': 5}, 32, lambda: mixer('mixer', 32, 16, 8, 2, 5)),
    'resmlp': ('resmlp_12_224', {'imgSize': 32, 'depth': 2, 'embedDim': 8, 'numClasses': 5}, 32, lambda: mixer('resmlp', 32, 16, 8, 2, 5)),
}

if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    manifest, inputs = {}, {}
    for case, (model, overrides, size, build) in CASES.items():
        sd, forward = build()
        x = rng.standard_normal((2, 3, size, size)).astype(np.float32)
        logits = forward(x.astype(np.float64))
        write_safetensors(os.path.join(OUT, f'{case}.safetensors'), sd)
        inputs[case] = x
        manifest[case] = {'model': model, 'overrides': overrides, 'logits_shape': list(logits.shape),
                          'logits': [round(float(v), 7) for v in logits.ravel()]}
    write_safetensors(os.path.join(OUT, 'inputs.safetensors'), inputs)  # per case: the input batch, NCHW
    with open(os.path.join(OUT, 'expected.json'), 'w') as f:
        json.dump({'generator': 'scripts/timm_layout_reference.py (numpy ' + np.__version__ + ')', 'cases': manifest}, f)
    print('wrote', OUT, {k: os.path.getsize(os.path.join(OUT, f'{k}.safetensors')) for k in CASES})

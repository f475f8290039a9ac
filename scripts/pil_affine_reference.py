"""Reference outputs of Pillow's affine transforms and crop-and-resize (bilinear and bicubic), for test/augment.test.ts.

timm's RandAugment rotates, shears and translates with PIL, and its RandomResizedCropAndInterpolation crops and
resizes with PIL, each picking bilinear or bicubic at random; these are the values lib/data/augment.ts's `affine`
and `resizedCrop` must reproduce. Not a dependency of the suite: run once with a Python that has
Pillow (Debian: python3-pil) and commit the JSON.

    /usr/bin/python3 scripts/pil_affine_reference.py > test/fixtures/pil-affine.json
"""
import json

import PIL
from PIL import Image

H, W = 7, 9  # not square, so a swapped height/width shows
FILL = (124, 116, 104)


def image_bytes():
    # A small deterministic pattern with edges and gradients (an LCG, so nothing depends on a RNG library).
    state, out = 12345, []
    for i in range(H * W * 3):
        state = (1103515245 * state + 12345) % 2**31
        out.append((state >> 16) % 256 if i % 5 else (i * 37) % 256)
    return bytes(out)


def main():
    src = image_bytes()
    img = Image.frombytes('RGB', (W, H), src)
    cases = {
        'shear_x': (1, 0.27, 0, 0, 1, 0),
        'shear_y': (1, 0, 0, -0.2, 1, 0),
        'translate': (1, 0, 2.6, 0, 1, -1.3),
        'general': (0.9, 0.15, 0.4, -0.1, 1.1, -0.6),
    }
    out = {'pillow': PIL.__version__, 'height': H, 'width': W, 'fill': FILL, 'input': list(src), 'cases': []}
    for name, m in cases.items():
        for resample, label in ((Image.BILINEAR, 'bilinear'), (Image.BICUBIC, 'bicubic')):
            res = img.transform(img.size, Image.AFFINE, m, resample=resample, fillcolor=FILL)
            out['cases'].append({'name': name, 'matrix': list(m), 'interpolation': label, 'output': list(res.tobytes())})
    for resample, label in ((Image.BILINEAR, 'bilinear'), (Image.BICUBIC, 'bicubic')):
        res = img.rotate(23, resample=resample, fillcolor=FILL)
        out['cases'].append({'name': 'rotate23', 'rotateDegrees': 23, 'interpolation': label, 'output': list(res.tobytes())})
    # RandomResizedCrop: crop (left, top, left + cw, top + ch), then resize back to the full size.
    crops = [(1, 2, 5, 6), (0, 0, 7, 9), (2, 1, 6, 4), (3, 5, 4, 4), (0, 0, 3, 2)]  # top, left, ch, cw
    out['crops'] = []
    for top, left, ch, cw in crops:
        for resample, label in ((Image.BILINEAR, 'bilinear'), (Image.BICUBIC, 'bicubic')):
            res = img.crop((left, top, left + cw, top + ch)).resize((W, H), resample)
            out['crops'].append({'top': top, 'left': left, 'ch': ch, 'cw': cw, 'interpolation': label, 'output': list(res.tobytes())})
    print(json.dumps(out))


if __name__ == '__main__':
    main()

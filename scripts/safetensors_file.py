"""write_safetensors for the reference scripts (seg_reference.py, swin_reference.py, timm_layout_reference.py): numpy
arrays to a .safetensors file, float as F32 and int64 as I64 (e.g. Swin's relative_position_index), the header padded to
8 bytes. numpy only, so the scripts that need neither torch nor timm can use it."""
import json
import struct

import numpy as np


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for k, v in tensors.items():
        i64 = v.dtype == np.int64
        b = np.ascontiguousarray(v, dtype='<i8' if i64 else '<f4').tobytes()
        header[k] = {'dtype': 'I64' if i64 else 'F32', 'shape': list(v.shape), 'data_offsets': [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))

// The safetensors format (8-byte little-endian header length, JSON header, raw little-endian data), read into Float32Arrays.
// Reads F32/F16/BF16/F64/I64 (converted to float32); writes F32 only, atomically.
import { readFileSync } from 'node:fs';
import { UserError } from '../errors.ts';
import { atomicWrite } from '../io.ts';

export interface StoredTensor {
  /** dtype as stored in the file (data is always converted to float32). */
  dtype: string;
  shape: number[];
  data: Float32Array;
}

// I64 for PyTorch's BatchNorm num_batches_tracked counters (state dicts carry them; loaders drop them).
const BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8 };

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

const bf16Bits = new Uint32Array(1);
const bf16Float = new Float32Array(bf16Bits.buffer);

function decode(dtype: string, bytes: Uint8Array, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    if (dtype === 'F32') out[i] = view.getFloat32(i * 4, true);
    else if (dtype === 'F64') out[i] = view.getFloat64(i * 8, true);
    else if (dtype === 'I64') out[i] = Number(view.getBigInt64(i * 8, true));
    else if (dtype === 'F16') out[i] = halfToFloat(view.getUint16(i * 2, true));
    else { bf16Bits[0] = view.getUint16(i * 2, true) << 16; out[i] = bf16Float[0]!; } // bfloat16 = top half of a float32
  }
  return out;
}

/** Parses safetensors bytes, or reads the file at `source`. Errors name the file (or '<bytes>') and what is wrong. */
export function readSafetensors(source: Uint8Array | string): Record<string, StoredTensor> {
  const where = typeof source === 'string' ? source : '<bytes>';
  let bytes: Uint8Array;
  try {
    bytes = typeof source === 'string' ? readFileSync(source) : source;
  } catch (err) {
    throw new UserError(`${where}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const fail = (what: string): never => { throw new UserError(`${where}: not a valid safetensors file: ${what}`); };
  if (bytes.byteLength < 8) fail('shorter than its 8-byte header length');
  const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLen > bytes.byteLength - 8) fail(`header length ${headerLen} exceeds the file size ${bytes.byteLength}`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  } catch {
    return fail('header is not JSON');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('header is not a JSON object');
  const body = bytes.subarray(8 + headerLen);
  const out: Record<string, StoredTensor> = {};
  const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const ranges: { name: string; start: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry) || !Object.values(entry).every((v) => typeof v === 'string')) fail('__metadata__ must map names to strings');
      continue;
    }
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) fail(`tensor '${name}': not an object with dtype, shape and data_offsets`);
    const { dtype, shape, data_offsets: offsets } = entry as { dtype: unknown; shape: unknown; data_offsets: unknown };
    const width = typeof dtype === 'string' ? BYTES[dtype] : undefined;
    if (!width) fail(`tensor '${name}' has dtype ${String(dtype)} (expected one of ${Object.keys(BYTES).join(', ')})`);
    if (!Array.isArray(shape) || !shape.every(isCount)) fail(`tensor '${name}': shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) fail(`tensor '${name}': data_offsets must be two non-negative integers, got ${JSON.stringify(offsets)}`);
    const dims = shape as number[];
    const count = dims.reduce((a, b) => a * b, 1);
    const [start, end] = offsets as [number, number];
    if (end - start !== count * width! || end > body.byteLength) fail(`tensor '${name}' data offsets [${start}, ${end}] do not fit its shape [${dims}] or the file`);
    ranges.push({ name, start, end });
    out[name] = { dtype: dtype as string, shape: [...dims], data: decode(dtype as string, body.subarray(start, end), count) };
  }
  // As the reference implementation requires: the tensors tile the data exactly, without overlaps, gaps or unused bytes.
  ranges.sort((a, b) => a.start - b.start || a.end - b.end);
  let at = 0;
  for (const [i, r] of ranges.entries()) {
    if (r.start < at) fail(`tensors '${ranges[i - 1]!.name}' and '${r.name}' overlap (bytes ${r.start}-${at})`);
    if (r.start > at) fail(`gap of ${r.start - at} bytes before tensor '${r.name}' (data offsets must be contiguous)`);
    at = r.end;
  }
  if (at !== body.byteLength) fail(`${body.byteLength - at} bytes after the last tensor are not part of any tensor`);
  return out;
}

/** Writes float32 tensors (in insertion order) as safetensors, atomically; returns the bytes written. */
export function writeSafetensors(path: string, tensors: Record<string, { shape: number[]; data: Float32Array }>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header['__metadata__'] = metadata;
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`writeSafetensors: '${name}' has ${t.data.length} values for shape [${t.shape}]`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * count] };
    offset += 4 * count;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // pad so the data starts 8-byte aligned, as the reference writer does
  const headerBytes = new TextEncoder().encode(json);
  const bytes = new Uint8Array(8 + headerBytes.byteLength + offset);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(headerBytes.byteLength), true);
  bytes.set(headerBytes, 8);
  let pos = 8 + headerBytes.byteLength;
  for (const t of Object.values(tensors)) {
    for (let i = 0; i < t.data.length; i++, pos += 4) view.setFloat32(pos, t.data[i]!, true);
  }
  atomicWrite(path, bytes);
  return bytes;
}

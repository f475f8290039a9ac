// Recycled output buffers for the native kernels. A training step of a small ConvMixer allocates tens of fresh
// multi-MB Float32Arrays; each one costs page faults on first write, and together they push V8 into
// "external memory pressure" garbage collections (~10% of a batch-16 step). Instead, the native kernels take their
// outputs from this pool, and the cpu backend's disposeData hands a buffer back once no tensor data refers to it.
//
// Safety: a buffer is recycled only when (1) the pool allocated it, (2) every backend data entry whose values live
// in it (outputs, and aliases such as a slice's subarray, counted through write/move) has been disposed, and
// (3) it never escaped through readSync (dataSync(), data(), arraySync() hand out the backend's own array, which
// the caller may keep after disposing the tensor). A recycled buffer holds stale values: only kernels that write
// every output element may use allocOutput.
import { totalmem } from 'node:os';
import type { TensorInfo } from '@tensorflow/tfjs';

type DataId = TensorInfo['dataId'];

/** Smaller outputs are left to the allocator (cheap, and not worth the bookkeeping). */
export const MIN_POOLED_FLOATS = 1 << 16;
/**
 * Bytes the free lists may hold: the most pooled bytes live at once so far (a training step's working set, so the
 * next step reuses all of it), at least MIN_FREE_BYTES and at most half the machine's memory. A fixed 512 MB cap held
 * 3 of the ~60 activation-sized buffers of a batch-128 ConvMixer-256/8 k9 p1 step (134 MB each); every other output
 * was a fresh array, and first-touch page faults on a fresh 134 MB array cost ~90 ms here, more than the kernel
 * that writes it. CONVMIXER_POOL_MB fixes the cap.
 * At the cap, a released buffer first evicts free buffers of the sizes used least recently: one process trains and
 * evaluates models of several widths and batch sizes (the experiment runner goes through a whole table), and free
 * lists full of a finished model's sizes would otherwise turn every output of the next model into a fresh array
 * (ConvMixer-256/4 after three 128-wide runs: 54% of its time in the kernel's page-fault path, 2.2x slower epochs).
 * Only when nothing else can go is the released buffer left to the garbage collector.
 */
const MIN_FREE_BYTES = 512 * 1024 * 1024;
const MAX_FREE_BYTES = Math.floor(totalmem() / 2);
const FIXED_FREE_BYTES = fixedCapFromEnv(process.env.CONVMIXER_POOL_MB);

/** CONVMIXER_POOL_MB as bytes; null when unset, or (with a one-line warning) when it is not a number >= 0. */
function fixedCapFromEnv(raw: string | undefined): number | null {
  if (raw === undefined || raw === '') return null;
  const mb = Number(raw);
  if (Number.isFinite(mb) && mb >= 0) return Math.floor(mb * 1024 * 1024);
  console.warn(`CONVMIXER_POOL_MB: expected a number of megabytes >= 0, got '${raw}'; using the adaptive cap`);
  return null;
}
/** CONVMIXER_POOL=0 turns recycling off (fresh arrays every call), for before/after measurements. */
const POOL_ON = process.env.CONVMIXER_POOL !== '0';

interface PoolState {
  /** Live data entries per pooled buffer; absent = not pooled (or escaped). */
  refs: WeakMap<ArrayBuffer, number>;
  /** Which pooled buffer each live data entry lives in. */
  owner: WeakMap<object, ArrayBuffer>;
  /** Free buffers by length; the map's order is recency of use (least recent first), for eviction at the cap. */
  free: Map<number, Float32Array[]>;
  freeBytes: number;
  /** Test aid: a cap that overrides the adaptive one. */
  capOverride: number | null;
  /** Bytes of pooled buffers handed out and not yet released, and their maximum so far. */
  liveBytes: number;
  peakLiveBytes: number;
  /** Test aid: fill released buffers with NaN so a kernel that skips an output element shows up. */
  poison: boolean;
  stats: { allocated: number; reused: number; released: number; escaped: number; evicted: number };
}

const state: PoolState = {
  refs: new WeakMap(), owner: new WeakMap(), free: new Map(), freeBytes: 0, capOverride: null, liveBytes: 0, peakLiveBytes: 0, poison: false,
  stats: { allocated: 0, reused: 0, released: 0, escaped: 0, evicted: 0 },
};

/** How many bytes the free lists may hold now. */
export function freeCapBytes(): number {
  if (state.capOverride !== null) return state.capOverride;
  if (FIXED_FREE_BYTES !== null) return FIXED_FREE_BYTES;
  return Math.min(MAX_FREE_BYTES, Math.max(MIN_FREE_BYTES, state.peakLiveBytes));
}

function handOut(arr: Float32Array): Float32Array {
  state.refs.set(arr.buffer as ArrayBuffer, 0);
  state.liveBytes += arr.byteLength;
  state.peakLiveBytes = Math.max(state.peakLiveBytes, state.liveBytes);
  return arr;
}

/** An output array of n floats with UNSPECIFIED contents (the caller writes every element). */
export function allocOutput(n: number): Float32Array {
  if (n < MIN_POOLED_FLOATS || !POOL_ON) return new Float32Array(n);
  const list = state.free.get(n);
  const reused = list?.pop();
  if (reused) {
    markUsed(n, list!);
    state.freeBytes -= reused.byteLength;
    state.stats.reused++;
    return handOut(reused);
  }
  state.stats.allocated++;
  return handOut(new Float32Array(n));
}

/** Moves size n to the most recent end of the free lists' order (dropping it when its list is empty). */
function markUsed(n: number, list: Float32Array[]): void {
  state.free.delete(n);
  if (list.length > 0) state.free.set(n, list);
}

/** Drops free buffers of other sizes, least recently used first, until `bytes` more fit under the cap. */
function makeRoom(bytes: number, keep: number): boolean {
  const cap = freeCapBytes();
  for (const [n, list] of state.free) {
    if (state.freeBytes + bytes <= cap) break;
    if (n === keep) continue;
    while (list.length > 0 && state.freeBytes + bytes > cap) {
      state.freeBytes -= list.pop()!.byteLength;
      state.stats.evicted++;
    }
    if (list.length === 0) state.free.delete(n);
  }
  return state.freeBytes + bytes <= cap;
}

function track(dataId: DataId, values: unknown): void {
  if (!ArrayBuffer.isView(values)) return;
  const buf = values.buffer as ArrayBuffer;
  const n = state.refs.get(buf);
  if (n === undefined) return;
  state.refs.set(buf, n + 1);
  state.owner.set(dataId, buf);
}

function release(dataId: DataId): void {
  const buf = state.owner.get(dataId);
  if (!buf) return;
  state.owner.delete(dataId);
  const n = state.refs.get(buf);
  if (n === undefined) return; // escaped meanwhile
  if (n > 1) {
    state.refs.set(buf, n - 1);
    return;
  }
  state.refs.delete(buf);
  state.liveBytes -= buf.byteLength;
  const arr = new Float32Array(buf);
  if (!makeRoom(buf.byteLength, arr.length)) return;
  if (state.poison) arr.fill(NaN);
  const list = state.free.get(arr.length) ?? [];
  list.push(arr);
  markUsed(arr.length, list);
  state.freeBytes += buf.byteLength;
  state.stats.released++;
}

function escape(dataId: DataId): void {
  const buf = state.owner.get(dataId);
  if (buf && state.refs.delete(buf)) {
    state.stats.escaped++;
    state.liveBytes -= buf.byteLength;
  }
}

/** The parts of tfjs's MathBackendCPU the pool hooks. */
interface HookableBackend {
  data: { has(dataId: DataId): boolean; get(dataId: DataId): { values?: unknown } };
  write(values: unknown, shape: number[], dtype: string): DataId;
  move(dataId: DataId, values: unknown, shape: number[], dtype: string, refCount: number): void;
  disposeData(dataId: DataId, force?: boolean): boolean;
  readSync(dataId: DataId): unknown;
}

const hooked = new WeakSet<object>();

/** Installs the bookkeeping on a cpu backend instance (once per instance). */
export function hookBackend(backend: HookableBackend): void {
  if (hooked.has(backend)) return;
  hooked.add(backend);
  const { write, move, disposeData, readSync } = backend;
  backend.write = function (values, shape, dtype) {
    const id = write.call(this, values, shape, dtype);
    track(id, values);
    return id;
  };
  backend.move = function (dataId, values, shape, dtype, refCount) {
    release(dataId);
    move.call(this, dataId, values, shape, dtype, refCount);
    track(dataId, values);
  };
  backend.disposeData = function (dataId, force) {
    const done = disposeData.call(this, dataId, force);
    if (!this.data.has(dataId)) release(dataId);
    return done;
  };
  backend.readSync = function (dataId) {
    escape(dataId);
    return readSync.call(this, dataId);
  };
}

/** Test aid: NaN-fill buffers as they return to the pool. */
export function setPoolPoison(on: boolean): void {
  state.poison = on;
}

/** Test aid: a fixed cap for the free lists (bytes), or null for the usual one. */
export function setPoolCapForTest(bytes: number | null): void {
  state.capOverride = bytes;
}

/** Counters since start (fresh allocations, reuses, releases to the free lists, escapes through readSync, evictions at the cap). */
export function poolStats(): PoolState['stats'] & { freeBytes: number; liveBytes: number; peakLiveBytes: number } {
  return { ...state.stats, freeBytes: state.freeBytes, liveBytes: state.liveBytes, peakLiveBytes: state.peakLiveBytes };
}

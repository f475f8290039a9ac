// Seeded pseudo-random numbers with a serializable state, so that a resumed run draws exactly the numbers
// the uninterrupted run would have drawn. Generator: sfc32 (fast, 128-bit state), seeded with splitmix32.

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box-Muller; one value per call, so the state stays simple). */
  normal(): number;
  /** Beta(a, a) sample, as mixup/CutMix draw their mixing ratio. */
  beta(a: number, b: number): number;
  /** In-place Fisher-Yates shuffle; returns its argument. */
  shuffle<T>(arr: T[] | Uint32Array | Int32Array): typeof arr;
  getState(): number[];
  setState(state: number[]): void;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export function createRng(seed: number): Rng {
  const sm = splitmix32(seed);
  let a = sm(), b = sm(), c = sm(), d = sm();
  const u32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) u32();
  const next = (): number => u32() / 4294967296;
  const normal = (): number => {
    let u = next();
    while (u <= 1e-12) u = next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  };
  // Marsaglia-Tsang gamma sampler; beta(a,b) = X/(X+Y) with X~Gamma(a), Y~Gamma(b).
  const gamma = (k: number): number => {
    if (k < 1) return gamma(k + 1) * Math.pow(next() || 1e-12, 1 / k);
    const dd = k - 1 / 3, cc = 1 / Math.sqrt(9 * dd);
    for (;;) {
      let x: number, v: number;
      do { x = normal(); v = 1 + cc * x; } while (v <= 0);
      v = v * v * v;
      const u = next();
      if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + dd * (1 - v + Math.log(v))) return dd * v;
    }
  };
  return {
    next,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    int: (n) => Math.floor(next() * n),
    normal,
    beta: (x, y) => { const g1 = gamma(x), g2 = gamma(y); return g1 / (g1 + g2); },
    shuffle(arr) {
      for (let i = arr.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        const t = arr[i]!; arr[i] = arr[j]!; arr[j] = t;
      }
      return arr;
    },
    getState: () => [a, b, c, d],
    setState(s) { [a, b, c, d] = s.map((v) => v >>> 0) as [number, number, number, number]; },
  };
}

// The one place notebooks get their number formatting from: rounding for tables, percents from fractions, parameter
// counts with thousands separators. Run records store accuracies as fractions (0..1); tables show percents.

/** A number rounded to `digits` decimals for a table cell (null stays null, so danfojs shows it as missing). */
export function round(v: number | null | undefined, digits = 2): number | null {
  return v === null || v === undefined || !Number.isFinite(v) ? null : Number(v.toFixed(digits));
}

/** A fraction (0..1) as a percent rounded for a table cell. */
export function percent(fraction: number | null | undefined, digits = 2): number | null {
  return fraction === null || fraction === undefined ? null : round(100 * fraction, digits);
}

/** A signed difference in points, e.g. '+0.15' / '-3.02' ('–' when missing). */
export function signedPoints(v: number | null | undefined, digits = 2): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`;
}

/** A count with thousands separators, as prose shows it: 707,210. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

// Flag parsing shared by every subcommand: node's util.parseArgs in strict mode, with errors turned into
// one-line UserErrors that name the flag, and `--help` handled in one place.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from '../errors.ts';

/** A `convmixer` subcommand (lib/cli/<name>.ts exports one as `command`). */
export interface Command {
  summary: string;
  /** Runs the command; returns the process exit code. */
  run(argv: string[]): Promise<number>;
}

export type FlagSpec = NonNullable<ParseArgsConfig['options']>;

export interface Parsed<T> {
  values: T;
  positionals: string[];
  /** True when --help was given; the caller prints its usage and returns 0. */
  help: boolean;
}

export function parseFlags<T = Record<string, string | boolean | string[] | undefined>>(argv: string[], options: FlagSpec, allowPositionals = false): Parsed<T> {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
    const { help, ...rest } = values as Record<string, unknown>;
    return { values: rest as T, positionals, help: help === true };
  } catch (err) {
    const first = (err as Error).message.split('\n')[0]!;
    // parseArgs reads '--epochs -1' as a flag followed by another flag: say how to pass such a value.
    const ambiguous = /^Option '(--[\w-]+)' argument is ambiguous/.exec(first);
    throw new UserError(ambiguous ? `${ambiguous[1]}: a value starting with '-' must be written ${ambiguous[1]}=VALUE` : first);
  }
}

/** A flag that must be one of a fixed set of words; names the flag and the choices when it is not. */
export function choiceFlag<T extends string>(name: string, raw: string | undefined, allowed: readonly T[]): T | undefined {
  if (raw === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(raw)) throw new UserError(`--${name}: expected one of ${allowed.join(', ')}, got '${raw}'`);
  return raw as T;
}

/** A numeric flag value: integer or float, within [min, max]; names the flag when it is not. */
export function numberFlag(name: string, raw: string | undefined, opts: { int?: boolean; min?: number; max?: number } = {}): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || (opts.int && !Number.isInteger(v))) {
    throw new UserError(`--${name}: expected ${opts.int ? 'an integer' : 'a number'}, got '${raw}'`);
  }
  if ((opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max)) {
    throw new UserError(`--${name}: expected a value in [${opts.min ?? '-inf'}, ${opts.max ?? 'inf'}], got ${raw}`);
  }
  return v;
}

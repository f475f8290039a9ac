// A small streaming tar reader (ustar, GNU long names, pax headers) and a safe extractor. Enough for the
// dataset archives this suite unpacks; written here so the suite needs no tar dependency and so every
// entry's path is checked before anything is written: absolute paths, `..` segments and links that point
// out of the target folder are refused with an error naming the entry.
import { createReadStream, mkdirSync, writeFileSync, symlinkSync, linkSync, renameSync, rmSync, existsSync, openSync, readSync, closeSync, lstatSync, readlinkSync, readdirSync, realpathSync, type Stats } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { basename, dirname, join, posix, sep } from 'node:path';
import { UserError } from '../errors.ts';

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

export interface TarEntry {
  path: string;
  type: TarEntryType;
  size: number;
  mode: number;
  linkTarget: string;
  /** File contents (empty for everything but regular files). */
  data: Buffer;
}

const BLOCK = 512;

/** Reads exactly n bytes (fewer only at end of input) from an async stream of chunks, without quadratic copying. */
function byteReader(chunks: AsyncIterable<Uint8Array>): { read(n: number): Promise<Buffer>; drain(): Promise<void> } {
  const it = chunks[Symbol.asyncIterator]();
  const pending: Buffer[] = [];
  let avail = 0;
  let done = false;
  const pull = async (): Promise<void> => {
    const r = await it.next();
    if (r.done) { done = true; return; }
    const b = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    pending.push(b);
    avail += b.length;
  };
  return {
    async read(n) {
      while (avail < n && !done) await pull();
      const take = Math.min(n, avail);
      const out = Buffer.allocUnsafe(take);
      let off = 0;
      while (off < take) {
        const head = pending[0]!;
        const k = Math.min(head.length, take - off);
        head.copy(out, off, 0, k);
        off += k;
        if (k === head.length) pending.shift(); else pending[0] = head.subarray(k);
      }
      avail -= take;
      return out;
    },
    // Reading to the end lets gunzip check its CRC and length trailer.
    async drain() { while (!done) { await pull(); pending.length = 0; avail = 0; } },
  };
}

function cString(buf: Buffer, start: number, len: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end < 0 || end > start + len ? start + len : end);
}

function numberField(buf: Buffer, start: number, len: number): number {
  if (buf[start]! & 0x80) {
    // GNU base-256 encoding for values that do not fit in octal.
    let v = buf[start]! & 0x7f;
    for (let i = start + 1; i < start + len; i++) v = v * 256 + buf[i]!;
    return v;
  }
  const s = cString(buf, start, len).trim();
  if (s === '') return 0;
  const v = parseInt(s, 8);
  return Number.isFinite(v) && /^[0-7]+$/.test(s) ? v : NaN;
}

function headerChecksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  return numberField(h, 148, 8) === sum;
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const sp = data.indexOf(0x20, pos);
    if (sp < 0) break;
    const len = parseInt(data.toString('ascii', pos, sp), 10);
    if (!(len > 0)) break;
    const rec = data.toString('utf8', sp + 1, pos + len - 1); // drop trailing newline
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    pos += len;
  }
  return out;
}

const TYPES: Record<string, TarEntryType> = { '0': 'file', '\0': 'file', '7': 'file', '5': 'directory', '2': 'symlink', '1': 'hardlink' };

/** Entries of a tar stream, in order. `label` (the file name) appears in every error message. */
export async function* readTarEntries(chunks: AsyncIterable<Uint8Array>, label: string): AsyncGenerator<TarEntry> {
  const reader = byteReader(chunks);
  const truncated = (what: string): UserError => new UserError(`${label}: truncated tar archive (${what})`);
  let longName: string | null = null;
  let longLink: string | null = null;
  let pax: Record<string, string> = {};
  let offset = 0;
  let count = 0;
  for (;;) {
    const h = await reader.read(BLOCK);
    if (h.length === 0) throw truncated('ends without the end-of-archive marker');
    if (h.length < BLOCK) throw truncated(`partial header at byte ${offset}`);
    offset += BLOCK;
    if (h.every((b) => b === 0)) { await reader.drain(); return; }
    if (!headerChecksumOk(h)) {
      throw new UserError(count === 0 ? `${label}: not a tar archive (bad header checksum)` : `${label}: corrupt tar header at byte ${offset - BLOCK}`);
    }
    const flag = String.fromCharCode(h[156]!);
    let size = numberField(h, 124, 12);
    if (pax.size !== undefined) size = Number(pax.size);
    if (!Number.isFinite(size) || size < 0) throw new UserError(`${label}: corrupt tar header at byte ${offset - BLOCK} (bad size)`);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    const readBody = async (n: number): Promise<Buffer> => {
      const b = await reader.read(n);
      if (b.length < n) throw truncated(`entry body cut short at byte ${offset + b.length}`);
      offset += n;
      return b;
    };
    if (flag === 'L' || flag === 'K' || flag === 'x' || flag === 'g') {
      const body = (await readBody(padded)).subarray(0, size);
      if (flag === 'L') longName = cString(body, 0, body.length);
      else if (flag === 'K') longLink = cString(body, 0, body.length);
      else if (flag === 'x') pax = parsePax(body);
      continue; // global pax headers ('g') carry nothing these archives need
    }
    const isUstar = h.toString('ascii', 257, 262) === 'ustar';
    const prefix = isUstar ? cString(h, 345, 155) : '';
    const name = cString(h, 0, 100);
    const path = pax.path ?? longName ?? (prefix ? `${prefix}/${name}` : name);
    const linkTarget = pax.linkpath ?? longLink ?? cString(h, 157, 100);
    longName = longLink = null;
    pax = {};
    const type = TYPES[flag] ?? 'other';
    let data = Buffer.alloc(0);
    if (type === 'file') {
      data = await readBody(size);
      await readBody(padded - size);
    } else if (padded > 0) {
      await readBody(padded);
    }
    count++;
    yield { path, type, size, mode: numberField(h, 100, 8) || 0o644, linkTarget, data };
  }
}

const ABSOLUTE = /^([/\\]|[A-Za-z]:)/;
const LEAVES = 'resolves outside the target folder';

/** A checked relative path for an entry: refuses absolute paths and any `..` segment, naming the entry. */
export function safeEntryPath(entryPath: string, label: string): string {
  if (ABSOLUTE.test(entryPath)) throw new UserError(`${label}: refusing tar entry '${entryPath}' (absolute path)`);
  const parts = entryPath.split(/[/\\]+/).filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new UserError(`${label}: refusing tar entry '${entryPath}' (path leaves the target folder)`);
  return parts.join('/');
}

const MAX_LINK_DEPTH = 40; // what Linux allows before ELOOP

/** Where a path lands on disk: `real` has every existing symlink followed; `missing` is true once a component does not exist yet. */
interface Resolved { real: string; missing: boolean }

const inside = (root: string, p: string): boolean => p === root || p.startsWith(root + sep);

/**
 * Resolves `relPath` from the real folder `base` the way the OS would, one component at a time, following every
 * symlink already on disk (dangling ones too, by reading their text). A textual check alone is not enough: with
 * `a -> .` on disk, `a/..` is the root's parent. Throws `refuse(reason)` when any step leaves `root`, and for `..`
 * after a missing component (a later entry could make that component a link, changing where `..` goes).
 */
function resolveInside(root: string, base: string, relPath: string, refuse: (why: string) => Error, depth = 0): Resolved {
  if (depth > MAX_LINK_DEPTH) throw refuse('too many levels of symlinks');
  let cur = base;
  let missing = false;
  for (const comp of relPath.split(/[/\\]+/)) {
    if (comp === '' || comp === '.') continue;
    if (comp === '..') {
      if (missing) throw refuse("'..' after a folder that does not exist yet");
      cur = dirname(cur); // cur has no symlinks in it, so its textual parent is its real parent
    } else if (missing) {
      cur = join(cur, comp);
    } else {
      const next = join(cur, comp);
      const st = lstatOrNull(next);
      if (st === null) { missing = true; cur = next; }
      else if (st.isSymbolicLink()) {
        const text = readlinkSync(next);
        if (ABSOLUTE.test(text)) throw refuse(`passes through a symlink to absolute path '${text}'`);
        ({ real: cur, missing } = resolveInside(root, cur, text, refuse, depth + 1));
      } else cur = next;
    }
    if (!inside(root, cur)) throw refuse(LEAVES);
  }
  return { real: cur, missing };
}

function lstatOrNull(p: string): Stats | null {
  try { return lstatSync(p); } catch { return null; }
}

/** One-line refusal naming the archive and the entry. */
const refusal = (label: string, e: TarEntry) => (why: string): UserError => new UserError(`${label}: refusing tar entry '${e.path}' (${why})`);

/**
 * The real on-disk destination of an entry inside `root` (already a real path), with its parent folders created.
 * Refuses destinations whose parent resolves (through links extracted earlier) outside the root, and writing a
 * file or link over an existing symlink, which would write wherever that symlink points.
 */
function destination(root: string, rel: string, e: TarEntry, label: string): string {
  const refuse = refusal(label, e);
  const parent = resolveInside(root, root, posix.dirname(rel), (why) => refuse(`its folder ${why}`));
  const target = join(parent.real, posix.basename(rel));
  if (!inside(root, target) || target === root) throw refuse(LEAVES);
  if (lstatOrNull(target)?.isSymbolicLink()) throw refuse('would write through an existing symlink');
  mkdirSync(parent.real, { recursive: true });
  return target;
}

/** Refuses symlinks whose target, resolved from the link's real folder, lands outside the root. */
function checkSymlink(root: string, target: string, e: TarEntry, label: string): string {
  const refuse = refusal(label, e);
  if (ABSOLUTE.test(e.linkTarget)) throw refuse(`symlink to absolute path '${e.linkTarget}'`);
  const t = e.linkTarget;
  resolveInside(root, dirname(target), t, (why) => refuse(why === LEAVES ? `symlink points outside the target folder: '${t}'` : `symlink target '${t}': ${why}`));
  return e.linkTarget;
}

/** The real path of a hardlink's source (archive-relative), which must be an existing regular file inside the root. */
function hardlinkSource(root: string, e: TarEntry, label: string): string {
  const refuse = refusal(label, e);
  if (ABSOLUTE.test(e.linkTarget)) throw refuse(`hardlink to absolute path '${e.linkTarget}'`);
  const src = resolveInside(root, root, e.linkTarget, (why) => refuse(`hardlink target '${e.linkTarget}' ${why}`));
  // link() does not follow a symlink source; src.real has none, so the new name shares the real file's inode.
  if (src.missing || !lstatOrNull(src.real)?.isFile()) throw refuse(`hardlink target '${e.linkTarget}' is not a file extracted earlier`);
  return src.real;
}

/** Temporary folders `${dest}.partial-<pid>-<ms>` left by a killed unpack into `dest`; those of live processes are kept. */
export function stalePartials(dest: string): string[] {
  const dir = dirname(dest);
  const prefix = `${basename(dest)}.partial-`;
  let names: string[];
  try { names = readdirSync(dir); } catch { return []; }
  const out: string[] = [];
  for (const n of names) {
    const m = n.startsWith(prefix) ? /^(\d+)-(\d+)$/.exec(n.slice(prefix.length)) : null;
    if (m && !processAlive(Number(m[1]))) out.push(join(dir, n));
  }
  return out;
}

function processAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** The archive's bytes as a stream of chunks, gunzipped when it starts with the gzip magic; gzip errors name the file. */
export async function* archiveChunks(file: string): AsyncGenerator<Uint8Array> {
  const head = Buffer.alloc(2);
  let fd: number;
  try { fd = openSync(file, 'r'); } catch { throw new UserError(`${file}: cannot open archive (no such file or not readable)`); }
  readSync(fd, head, 0, 2, 0);
  closeSync(fd);
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  const gz = head[0] === 0x1f && head[1] === 0x8b;
  const stream = gz ? raw.pipe(createGunzip()) : raw;
  if (gz) raw.on('error', (err) => stream.destroy(err));
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${file}: ${gz ? 'corrupt or truncated gzip data' : 'read error'} (${(err as Error).message})`);
  } finally {
    stream.destroy();
    raw.destroy();
  }
}

/**
 * Extracts a (gzipped) tar into `dest`: everything goes into a temporary sibling folder that is renamed to
 * `dest` only after the last entry, so an interrupted or failed unpack never leaves a complete-looking `dest`.
 */
export async function extractTar(file: string, dest: string, onEntry?: (count: number) => void): Promise<{ files: number }> {
  for (const stale of stalePartials(dest)) rmSync(stale, { recursive: true, force: true });
  const tmp = `${dest}.partial-${process.pid}-${Date.now()}`;
  mkdirSync(tmp, { recursive: true });
  const root = realpathSync(tmp); // checks compare real paths, so a symlinked tmpdir is fine
  let files = 0, count = 0;
  try {
    for await (const e of readTarEntries(archiveChunks(file), file)) {
      const rel = safeEntryPath(e.path, file);
      if (e.type === 'other') {
        // devices, fifos: skipped
      } else if (e.type === 'directory') {
        const dir = resolveInside(root, root, rel, (why) => refusal(file, e)(`folder ${why}`));
        mkdirSync(dir.real, { recursive: true });
      } else {
        const target = destination(root, rel, e, file);
        if (e.type === 'file') {
          writeFileSync(target, e.data);
          files++;
        } else if (e.type === 'symlink') {
          symlinkSync(checkSymlink(root, target, e, file), target);
        } else {
          linkSync(hardlinkSource(root, e, file), target);
        }
      }
      onEntry?.(++count);
    }
    if (existsSync(dest)) rmSync(dest, { recursive: true, force: true });
    renameSync(tmp, dest);
    return { files };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

// Downloads with progress into a `.part` file that is renamed only when complete and verified, file
// digests for checksum checks, and a small progress line for long data jobs.
import { createReadStream, createWriteStream, mkdirSync, renameSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import https from 'node:https';
import http from 'node:http';
import { UserError } from '../errors.ts';

export interface Progress {
  update(done: number): void;
  finish(message?: string): void;
}

function fmt(n: number, unit: 'bytes' | 'items'): string {
  return unit === 'bytes' ? `${(n / 1048576).toFixed(1)} MiB` : String(n);
}

/** A progress line on stderr: redrawn in place on a terminal, every 10% otherwise (logs stay short). */
export function progress(label: string, total: number | undefined, unit: 'bytes' | 'items' = 'items', quiet = false): Progress {
  const tty = process.stderr.isTTY === true;
  const start = Date.now();
  let lastDraw = 0, lastDecile = -1;
  const line = (done: number): string => {
    const pct = total ? ` ${((100 * done) / total).toFixed(0)}%` : '';
    return `${label}: ${fmt(done, unit)}${total ? ` / ${fmt(total, unit)}` : ''}${pct} (${((Date.now() - start) / 1000).toFixed(1)} s)`;
  };
  return {
    update(done) {
      if (quiet) return;
      if (tty) {
        const now = Date.now();
        if (now - lastDraw < 200) return;
        lastDraw = now;
        process.stderr.write(`\r${line(done)}\x1b[K`);
      } else if (total) {
        const decile = Math.floor((10 * done) / total);
        if (decile > lastDecile) { lastDecile = decile; process.stderr.write(line(done) + '\n'); }
      }
    },
    finish(message) {
      if (quiet) return;
      process.stderr.write(`${tty ? '\r' : ''}${label}: ${message ?? 'done'} (${((Date.now() - start) / 1000).toFixed(1)} s)${tty ? '\x1b[K' : ''}\n`);
    },
  };
}

export interface Digests { md5: string; sha256: string; size: number }

export async function fileDigests(file: string): Promise<Digests> {
  const md5 = createHash('md5'), sha = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
      md5.update(chunk as Buffer); sha.update(chunk as Buffer); size += (chunk as Buffer).length;
    }
  } catch (err) {
    throw new UserError(`${file}: cannot read (${(err as Error).message})`);
  }
  return { md5: md5.digest('hex'), sha256: sha.digest('hex'), size };
}

/** Thrown when the network is unreachable or the server refuses; the caller turns it into "where to put the file". */
export class DownloadError extends Error {
  override name = 'DownloadError';
}

function get(url: string, redirects: number): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { timeout: 30000 }, (res) => {
      const loc = res.headers.location;
      if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && loc) {
        res.resume();
        if (redirects <= 0) return reject(new DownloadError(`${url}: too many redirects`));
        return resolve(get(new URL(loc, url).toString(), redirects - 1));
      }
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new DownloadError(`${url}: HTTP ${res.statusCode}`));
      }
      resolve(res);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => reject(new DownloadError(`${url}: ${err.message}`)));
  });
}

/**
 * Downloads `url` to `dest`: bytes go to `dest.part`, which is renamed to `dest` only after the full
 * length arrived and (when given) the checksum matched. Returns the digests of what was downloaded.
 */
export async function downloadFile(url: string, dest: string, expected: { md5?: string; sha256?: string } = {}, quiet = false): Promise<Digests> {
  mkdirSync(dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  const res = await get(url, 5);
  const total = Number(res.headers['content-length']) || undefined;
  const md5 = createHash('md5'), sha = createHash('sha256');
  const bar = progress(`download ${url}`, total, 'bytes', quiet);
  let size = 0;
  const out = createWriteStream(part);
  try {
    await new Promise<void>((resolve, reject) => {
      res.on('data', (chunk: Buffer) => { md5.update(chunk); sha.update(chunk); size += chunk.length; bar.update(size); });
      res.on('error', (err) => reject(new DownloadError(`${url}: ${err.message}`)));
      res.on('aborted', () => reject(new DownloadError(`${url}: connection closed after ${size} bytes`)));
      out.on('error', reject);
      out.on('finish', resolve);
      res.pipe(out);
    });
    if (total !== undefined && size !== total) throw new DownloadError(`${url}: got ${size} of ${total} bytes`);
    const got: Digests = { md5: md5.digest('hex'), sha256: sha.digest('hex'), size };
    if (expected.md5 && got.md5 !== expected.md5) throw new UserError(`${url}: checksum mismatch (md5 ${got.md5}, expected ${expected.md5}); the download was discarded`);
    if (expected.sha256 && got.sha256 !== expected.sha256) throw new UserError(`${url}: checksum mismatch (sha256 ${got.sha256}, expected ${expected.sha256}); the download was discarded`);
    renameSync(part, dest);
    bar.finish(`${(size / 1048576).toFixed(1)} MiB -> ${dest}`);
    return got;
  } catch (err) {
    out.destroy();
    res.destroy();
    rmSync(part, { force: true });
    throw err;
  }
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, readdirSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { readTarEntries, archiveChunks, extractTar, safeEntryPath } from '../lib/data/tar.ts';
import { tarBytes, type TarItem as Item } from './fixtures/tarWriter.ts';

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return `${len}${body}`;
}
const tmp = (): string => mkdtempSync(join(tmpdir(), 'cm-tar-'));
async function entries(file: string): Promise<{ path: string; type: string; data: string; link: string }[]> {
  const out = [];
  for await (const e of readTarEntries(archiveChunks(file), file)) out.push({ path: e.path, type: e.type, data: e.data.toString(), link: e.linkTarget });
  return out;
}

test('tar: reads an archive made by GNU tar (gzip, directory, 150-char GNU long name)', { skip: spawnSync('tar', ['--version']).status !== 0 }, async () => {
  const dir = tmp();
  const long = 'd/' + 'x'.repeat(150) + '.txt';
  mkdirSync(join(dir, 'src', 'd'), { recursive: true });
  writeFileSync(join(dir, 'src', 'a.txt'), 'alpha');
  writeFileSync(join(dir, 'src', long), 'long one');
  const r = spawnSync('tar', ['--format=gnu', '-czf', join(dir, 'x.tar.gz'), '-C', join(dir, 'src'), 'a.txt', 'd']);
  assert.equal(r.status, 0, String(r.stderr));
  const es = await entries(join(dir, 'x.tar.gz'));
  assert.deepEqual(es.map((e) => [e.path.replace(/\/$/, ''), e.type]).sort(), [['a.txt', 'file'], ['d', 'directory'], [long, 'file']]);
  assert.equal(es.find((e) => e.path === long)!.data, 'long one');
  assert.equal(es.find((e) => e.path === 'a.txt')!.data, 'alpha');
  rmSync(dir, { recursive: true });
});

test('tar: pax path overrides the header name; file data spanning blocks is exact', async () => {
  const dir = tmp();
  const big = 'q'.repeat(1300);
  const pax = paxRecord('path', 'p/' + 'y'.repeat(120));
  writeFileSync(join(dir, 'p.tar'), tarBytes([{ name: 'PaxHeader', type: 'x', data: pax }, { name: 'short', data: big }, { name: 'z', data: 'zz' }]));
  const es = await entries(join(dir, 'p.tar'));
  assert.deepEqual(es.map((e) => e.path), ['p/' + 'y'.repeat(120), 'z']);
  assert.equal(es[0]!.data, big);
  rmSync(dir, { recursive: true });
});

test('tar: extraction refuses ../x, /abs, symlinks and hardlinks pointing out, naming the entry; nothing is left behind', async () => {
  const cases: [Item[], RegExp][] = [
    [[{ name: 'ok.txt', data: 'fine' }, { name: '../x', data: 'evil' }], /'\.\.\/x'.*leaves the target folder/],
    [[{ name: '/abs/evil', data: 'evil' }], /'\/abs\/evil'.*absolute/],
    [[{ name: 'a/link', type: '2', link: '../../outside' }], /'a\/link'.*symlink points outside/],
    [[{ name: 'link', type: '2', link: '/etc/passwd' }], /'link'.*absolute/],
    [[{ name: 'hard', type: '1', link: '../x' }], /'\.\.\/x'/],
  ];
  for (const [items, re] of cases) {
    const dir = tmp();
    const file = join(dir, 'bad.tar.gz');
    writeFileSync(file, gzipSync(tarBytes(items)));
    const dest = join(dir, 'out', 'dest');
    await assert.rejects(extractTar(file, dest), (err: Error) => re.test(err.message) && err.message.includes(file));
    assert.equal(existsSync(dest), false);
    assert.deepEqual(readdirSync(join(dir, 'out')), []); // the partial folder was removed
    assert.equal(existsSync(join(dir, 'out', 'x')), false);
    assert.equal(existsSync(join(dir, 'x')), false);
    rmSync(dir, { recursive: true });
  }
  assert.equal(safeEntryPath('./a/./b/', 'f'), 'a/b');
});

test('tar: a safe archive extracts, including an inside symlink', async () => {
  const dir = tmp();
  const file = join(dir, 'ok.tar');
  writeFileSync(file, tarBytes([{ name: 'top/', type: '5' }, { name: 'top/a.txt', data: 'A' }, { name: 'top/l', type: '2', link: 'a.txt' }]));
  const { files } = await extractTar(file, join(dir, 'dest'));
  assert.equal(files, 1);
  assert.equal(readFileSync(join(dir, 'dest', 'top', 'l'), 'utf8'), 'A');
  rmSync(dir, { recursive: true });
});

test('tar: truncated gzip, garbage gzip and truncated tar give one-line errors naming the file; an interrupted unpack leaves no destination', async () => {
  const dir = tmp();
  const payload = tarBytes([{ name: 'a.bin', data: 'x'.repeat(5000) }, { name: 'b.bin', data: 'y'.repeat(5000) }]);
  const gz = gzipSync(payload);
  const cut = join(dir, 'cut.tar.gz');
  writeFileSync(cut, gz.subarray(0, gz.length - 30));
  await assert.rejects(extractTar(cut, join(dir, 'd1')), (e: Error) => e.message.startsWith(cut) && /gzip/.test(e.message) && !e.message.includes('\n'));
  const garbage = join(dir, 'garbage.tar.gz');
  writeFileSync(garbage, Buffer.concat([gz.subarray(0, 10), Buffer.alloc(200, 7)]));
  await assert.rejects(extractTar(garbage, join(dir, 'd2')), (e: Error) => e.message.startsWith(garbage) && /gzip/.test(e.message));
  const short = join(dir, 'short.tar');
  writeFileSync(short, payload.subarray(0, 512 + 3000));
  await assert.rejects(extractTar(short, join(dir, 'd3')), (e: Error) => e.message.startsWith(short) && /truncated tar/.test(e.message));
  const noEnd = join(dir, 'noend.tar');
  writeFileSync(noEnd, tarBytes([{ name: 'a', data: 'a' }], false));
  await assert.rejects(extractTar(noEnd, join(dir, 'd4')), /truncated tar/);
  const notTar = join(dir, 'not.tar');
  writeFileSync(notTar, Buffer.alloc(2048, 65));
  await assert.rejects(extractTar(notTar, join(dir, 'd5')), /not a tar archive/);
  assert.deepEqual(readdirSync(dir).sort(), ['cut.tar.gz', 'garbage.tar.gz', 'noend.tar', 'not.tar', 'short.tar']);
  rmSync(dir, { recursive: true });
});

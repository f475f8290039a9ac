import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, readdirSync, mkdirSync, rmSync, lstatSync, readlinkSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { readTarEntries, archiveChunks, extractTar, safeEntryPath, stalePartials } from '../lib/data/tar.ts';
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

// Link chains that a textual check passes: each archive, unpacked naively, writes ESCAPED.txt next to `dest`
// (in `out/`) or in its parent. The extractor must refuse it, name the archive and the entry, and write nothing.
test('tar: link chains that escape through earlier links are refused (auditor archive, hardlink and ".." variants)', async () => {
  const cases: [string, Item[], RegExp][] = [
    // a -> . makes a/b's real folder the root, so a/b -> .. is the root's parent (textually a/.. is inside)
    ['auditor', [{ name: 'a', type: '2', link: '.' }, { name: 'a/b', type: '2', link: '..' }, { name: 'a/b/ESCAPED.txt', data: 'pwned' }],
      /refusing tar entry 'a\/b' \(symlink points outside the target folder: '\.\.'\)/],
    // c -> a/.. : textually '.', really the root's parent
    ['dotdot through link', [{ name: 'a', type: '2', link: '.' }, { name: 'c', type: '2', link: 'a/..' }, { name: 'c/ESCAPED.txt', data: 'pwned' }],
      /refusing tar entry 'c' \(symlink points outside/],
    // d/s -> .. is the root (allowed); a hardlink h to d/s is a second name for that symlink, but at the top
    // level, where '..' is the root's parent; link() does not follow symlinks, so a naive unpack writes h/ESCAPED.txt outside
    ['hardlink to symlink', [{ name: 'd/', type: '5' }, { name: 'd/s', type: '2', link: '..' }, { name: 'h', type: '1', link: 'd/s' }, { name: 'h/ESCAPED.txt', data: 'pwned' }],
      /refusing tar entry 'h' \(hardlink target 'd\/s' is not a file/],
    // a hardlink whose target walks out through a symlink that is inside
    ['hardlink through link', [{ name: 'a', type: '2', link: '.' }, { name: 'h', type: '1', link: 'a/../ESCAPED.txt' }],
      /refusing tar entry 'h' \(hardlink target 'a\/\.\.\/ESCAPED\.txt' resolves outside/],
    // '..' after a folder that is not there yet: a later entry could turn 'm' into a link
    ['dotdot after missing', [{ name: 'l', type: '2', link: 'm/../x' }], /refusing tar entry 'l' \(symlink target 'm\/\.\.\/x': '\.\.' after a folder/],
  ];
  for (const [what, items, re] of cases) {
    const dir = tmp();
    const file = join(dir, 'evil.tar');
    writeFileSync(file, tarBytes(items));
    writeFileSync(join(dir, 'ESCAPED.txt'), 'original'); // a hardlink escape would link to this one
    const dest = join(dir, 'out', 'dest');
    await assert.rejects(extractTar(file, dest), (err: Error) => {
      assert.match(err.message, re, what);
      assert.ok(err.message.startsWith(`${file}: `) && !err.message.includes('\n'), what);
      return true;
    });
    assert.deepEqual(readdirSync(join(dir, 'out')), [], what); // no dest, no partial folder, no ESCAPED.txt
    assert.deepEqual(readdirSync(dir).sort(), ['ESCAPED.txt', 'evil.tar', 'out'], what);
    assert.equal(readFileSync(join(dir, 'ESCAPED.txt'), 'utf8'), 'original', what);
    rmSync(dir, { recursive: true });
  }
});

test('tar: a file entry is never written through a symlink, even one pointing inside', async () => {
  const dir = tmp();
  const file = join(dir, 'x.tar');
  writeFileSync(file, tarBytes([{ name: 'f', data: 'first' }, { name: 'l', type: '2', link: 'f' }, { name: 'l', data: 'through' }]));
  await assert.rejects(extractTar(file, join(dir, 'dest')), (err: Error) => err.message === `${file}: refusing tar entry 'l' (would write through an existing symlink)`);
  assert.deepEqual(readdirSync(dir), ['x.tar']);
  rmSync(dir, { recursive: true });
});

test('tar: legitimate links still extract: chains inside, "..", hardlinks, a link used as a folder', async () => {
  const dir = tmp();
  const file = join(dir, 'ok.tar');
  writeFileSync(file, tarBytes([
    { name: 'lib/', type: '5' },
    { name: 'lib/libz.so.1.3', data: 'ZLIB' },
    { name: 'lib/libz.so', type: '2', link: 'libz.so.1' }, // dangling until the next entry
    { name: 'lib/libz.so.1', type: '2', link: 'libz.so.1.3' },
    { name: 'bin/z', type: '2', link: '../lib/libz.so' },
    { name: 'here', type: '2', link: '.' },
    { name: 'here/lib/hard', type: '1', link: 'lib/libz.so.1.3' }, // written through an inside link: lands in lib/
    { name: 'l2', type: '1', link: 'bin/z' }, // hardlink via a symlink chain: names the real file
  ]));
  const dest = join(dir, 'dest');
  assert.deepEqual(await extractTar(file, dest), { files: 1 });
  assert.equal(readFileSync(join(dest, 'bin', 'z'), 'utf8'), 'ZLIB');
  assert.equal(readlinkSync(join(dest, 'lib', 'libz.so')), 'libz.so.1');
  const ino = statSync(join(dest, 'lib', 'libz.so.1.3')).ino;
  for (const p of ['lib/hard', 'l2']) {
    assert.equal(lstatSync(join(dest, p)).isFile(), true, p);
    assert.equal(lstatSync(join(dest, p)).ino, ino, p);
  }
  assert.equal(statSync(join(dest, 'lib', 'libz.so.1.3')).nlink, 3);
  assert.deepEqual(readdirSync(dir).sort(), ['dest', 'ok.tar']);
  rmSync(dir, { recursive: true });
});

test('tar: stale partial folders of dead processes for the same target are removed before unpacking', async () => {
  const dir = tmp();
  const file = join(dir, 'ok.tar');
  writeFileSync(file, tarBytes([{ name: 'a.txt', data: 'A' }]));
  const dead = spawnSync(process.execPath, ['-e', '']).pid!; // exited, so no process has this pid (barring reuse)
  const names = [
    `dest.partial-${dead}-1700000000000`, // stale: removed
    `dest.partial-${process.pid}-1700000000000`, // a live process (this one) may still be unpacking: kept
    `dest.partial-${dead}-17x`, // not the exact pattern: kept
    `dest2.partial-${dead}-1700000000000`, // another target: kept
    `dest.partial-${dead}`, // not the exact pattern: kept
  ];
  for (const n of names) { mkdirSync(join(dir, n)); writeFileSync(join(dir, n, 'junk'), 'j'); }
  assert.deepEqual(stalePartials(join(dir, 'dest')), [join(dir, names[0]!)]);
  await extractTar(file, join(dir, 'dest'));
  assert.deepEqual(readdirSync(dir).sort(), ['dest', ...names.slice(1), 'ok.tar'].sort());
  assert.equal(readFileSync(join(dir, 'dest', 'a.txt'), 'utf8'), 'A');
  rmSync(dir, { recursive: true });
});

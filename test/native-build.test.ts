// The native sources with AVX-512 code paths (bf16 GEMM and depthwise kernels, compiled per function with target
// attributes and chosen at run time) must still compile for a CPU without AVX-512: `-march=native` on an AVX2 machine
// is such a build, and a failure there would leave those machines on tfjs's JS kernels. Compiled here for x86-64-v3
// (AVX2 + FMA) and baseline x86-64, at -O0 (intrinsics are always_inline, so a target mismatch fails at any level).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const nodeHeaders = join(dirname(process.execPath), '..', 'include', 'node');
const napiInclude = (() => {
  try {
    return (createRequire(import.meta.url)('node-addon-api') as { include_dir: string }).include_dir.replace(/^"|"$/g, '');
  } catch {
    return null;
  }
})();
const gxx = spawnSync('g++', ['--version'], { encoding: 'utf8' });
const x86 = process.arch === 'x64';
const skip = !x86 ? 'not an x86-64 machine' : gxx.status !== 0 ? 'no g++' : !existsSync(join(nodeHeaders, 'node_api.h')) ? `no Node headers at ${nodeHeaders}`
  : !napiInclude ? 'node-addon-api not installed' : false;

for (const arch of ['x86-64-v3', 'x86-64']) {
  test(`native sources with AVX-512 paths compile for -march=${arch} (no AVX-512)`, { skip }, () => {
    const out = mkdtempSync(join(tmpdir(), 'cm-native-build-'));
    try {
      for (const file of ['native/gemm_bf16.cc', 'native/depthwise.cc']) {
        const r = spawnSync('g++', ['-std=c++17', '-O0', `-march=${arch}`, '-Wno-psabi', '-DNAPI_VERSION=8', '-DNAPI_DISABLE_CPP_EXCEPTIONS',
          `-I${nodeHeaders}`, `-I${join(root, napiInclude!)}`, `-I${napiInclude}`, '-c', join(root, file), '-o', join(out, 'x.o')], { encoding: 'utf8' });
        assert.equal(r.status, 0, `${file} for ${arch}:\n${r.stderr.split('\n').filter((l) => l.includes('error')).slice(0, 5).join('\n')}`);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
}

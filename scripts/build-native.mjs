// Builds the native CPU engine (native/*.cc) with node-gyp at `npm install`. A failed build does not fail the
// install: the suite then runs on tfjs's JS kernels and says so once at start-up (lib/backend).
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const statusFile = join(root, 'build', 'native-status.json');
if (process.env.CONVMIXER_SKIP_NATIVE === '1') {
  console.log('convmixer: CONVMIXER_SKIP_NATIVE=1, not building the native engine');
  process.exit(0);
}

// node-gyp: the one npm passes to lifecycle scripts, else npm's bundled copy, else one on PATH.
function findNodeGyp() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return [process.execPath, process.env.npm_config_node_gyp];
  try {
    const npmCli = process.env.npm_execpath;
    if (npmCli) {
      const p = join(dirname(npmCli), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
      if (existsSync(p)) return [process.execPath, p];
    }
    const req = createRequire(import.meta.url);
    return [process.execPath, req.resolve('node-gyp/bin/node-gyp.js')];
  } catch {
    return ['node-gyp'];
  }
}

const [cmd, ...pre] = findNodeGyp();
const started = Date.now();
const res = spawnSync(cmd, [...pre, 'rebuild', '--release'], { cwd: root, stdio: 'inherit', env: process.env });
const ok = res.status === 0 && existsSync(join(root, 'build', 'Release', 'convmixer_native.node'));
mkdirSync(join(root, 'build'), { recursive: true });
writeFileSync(statusFile, JSON.stringify({ ok, seconds: (Date.now() - started) / 1000, error: ok ? null : `node-gyp exited with ${res.status ?? res.error}` }) + '\n');
if (!ok) {
  rmSync(join(root, 'build', 'Release', 'convmixer_native.node'), { force: true });
  console.warn('convmixer: WARNING: the native CPU engine did not build; the suite will use tfjs\'s (much slower) JS kernels.');
}

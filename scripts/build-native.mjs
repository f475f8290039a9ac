// Builds the native CPU engine (native/*.cc) with node-gyp at `npm install`. A failed build does not fail the
// install: the suite then runs on tfjs's JS kernels and says so once at start-up (lib/backend).
// Extra arguments are passed on to node-gyp (e.g. `node scripts/build-native.mjs --nodedir=/opt/node`).
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const statusFile = join(root, 'build', 'native-status.json');
if (process.env.CONVMIXER_SKIP_NATIVE === '1') {
  console.log('convmixer: CONVMIXER_SKIP_NATIVE=1, not building the native engine');
  process.exit(0);
}

// The prefix Node was installed under (/usr for /usr/bin/node), where its headers and bundled npm live.
const nodePrefix = resolve(dirname(process.execPath), '..');

// node-gyp: the one npm passes to lifecycle scripts, else npm's bundled copy (of the npm running us, or the one
// installed next to this node), else a local dependency, else one on PATH.
function findNodeGyp() {
  const script = join('node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const candidates = [
    process.env.npm_config_node_gyp,
    process.env.npm_execpath && join(dirname(process.env.npm_execpath), '..', script),
    join(nodePrefix, 'lib', 'node_modules', 'npm', script), // Unix layout
    join(dirname(process.execPath), 'node_modules', 'npm', script), // Windows layout
  ];
  for (const p of candidates) if (p && existsSync(p)) return [process.execPath, p];
  try {
    return [process.execPath, createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js')];
  } catch {
    return ['node-gyp'];
  }
}

/** The nodedir the caller chose: a --nodedir argument or npm's nodedir setting (npm_config_nodedir, any case). */
function chosenNodedir(args) {
  const flag = args.find((a) => a === '--nodedir' || a.startsWith('--nodedir='));
  if (flag) return flag.includes('=') ? flag.slice('--nodedir='.length) : args[args.indexOf(flag) + 1] ?? '';
  const key = Object.keys(process.env).find((k) => k.toLowerCase() === 'npm_config_nodedir');
  return key ? process.env[key] : null;
}

/**
 * node-gyp arguments. Without a chosen nodedir node-gyp downloads Node's headers, which fails offline; Node's own
 * headers (shipped by most installs under <prefix>/include/node) are the right ones for this node, so use them.
 */
function nodeGypArgs(userArgs) {
  const headers = join(nodePrefix, 'include', 'node', 'node_api.h');
  const chosen = chosenNodedir(userArgs);
  const useLocal = chosen === null && existsSync(headers);
  const args = ['rebuild', '--release', ...(useLocal ? [`--nodedir=${nodePrefix}`] : []), ...userArgs];
  const headersNote = chosen !== null ? `nodedir ${chosen}`
    : useLocal ? `Node's headers from ${nodePrefix}`
    : `no nodedir set and Node's headers not found at ${headers}: node-gyp downloads them`;
  return { args, headersNote, downloaded: chosen === null && !useLocal };
}

function buildError(res, build, cmd) {
  if (res.error) return `could not run node-gyp (${cmd}): ${res.error.message}; install npm or node-gyp`;
  const exit = `node-gyp exited with ${res.status ?? res.signal}`;
  if (!build.downloaded) return `${exit} (${build.headersNote})`;
  return `${exit}; ${build.headersNote} (offline?): install Node's headers or set npm_config_nodedir / pass --nodedir=<dir with include/node>`;
}

const [cmd, ...pre] = findNodeGyp();
const build = nodeGypArgs(process.argv.slice(2));
console.log(`convmixer: building the native engine (${build.headersNote})`);
const started = Date.now();
const res = spawnSync(cmd, [...pre, ...build.args], { cwd: root, stdio: 'inherit', env: process.env });
const ok = res.status === 0 && existsSync(join(root, 'build', 'Release', 'convmixer_native.node'));
mkdirSync(join(root, 'build'), { recursive: true });
writeFileSync(statusFile, JSON.stringify({ ok, seconds: (Date.now() - started) / 1000, error: ok ? null : buildError(res, build, [cmd, ...pre].join(' ')) }) + '\n');
if (!ok) {
  rmSync(join(root, 'build', 'Release', 'convmixer_native.node'), { force: true });
  console.warn('convmixer: WARNING: the native CPU engine did not build; the suite will use tfjs\'s (much slower) JS kernels.');
}

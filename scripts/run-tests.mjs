// Runs every test/*.test.ts with node's test runner (through tsx) and prints its summary.
// Extra arguments are passed through, e.g. `npm test -- --test-name-pattern=adamw`.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../test/', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.test.ts')).sort().map((f) => join('test', f));
const args = ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', ...process.argv.slice(2), ...files];
const res = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: fileURLToPath(new URL('..', import.meta.url)) });
process.exit(res.status ?? 1);

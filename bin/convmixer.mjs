#!/usr/bin/env node
// Entry point of the `convmixer` CLI: registers tsx so the TypeScript sources run directly.
import { register } from 'tsx/esm/api';

// `convmixer ... | head` closes the pipe early: stop quietly instead of crashing with EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

register();
const { main } = await import('../lib/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

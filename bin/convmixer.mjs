#!/usr/bin/env node
// Entry point of the `convmixer` CLI: registers tsx so the TypeScript sources run directly.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../lib/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

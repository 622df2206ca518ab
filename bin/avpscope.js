#!/usr/bin/env node
// avpscope runs its TypeScript sources through tsx (a dependency), so `npm ci` alone leaves a
// working command: no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

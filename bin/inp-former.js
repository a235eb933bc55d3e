#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader, so `npx inp-former` works right after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../integrations/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

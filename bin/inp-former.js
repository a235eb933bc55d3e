#!/usr/bin/env node
// The CLI. In a source checkout (its TypeScript present, tsx installed) it runs the sources through tsx's loader,
// so edits take effect without a build; an installed package runs the built JavaScript in dist/.
import { existsSync } from 'node:fs';

const source = new URL('../integrations/cli/main.ts', import.meta.url);
let main;
if (existsSync(source) && (await import('tsx/esm/api').then((m) => { m.register(); return true; }, () => false))) {
  ({ main } = await import(source.href));
} else {
  ({ main } = await import(new URL('../dist/integrations/cli/main.js', import.meta.url).href));
}
process.exitCode = await main(process.argv.slice(2));

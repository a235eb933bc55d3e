import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');

/** The layer rules (.dependency-cruiser.cjs, from ../shared/docs/architecture.md) hold on the whole tree. */
describe('architecture', () => {
  it('has no cycle and no import against the layers', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs'),
      'src', 'components', 'integrations', 'demo', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toMatch(/no dependency violations found \((\d{3,}) modules/);
    expect(r.status).toBe(0);
  }, 60_000);
});

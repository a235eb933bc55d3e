import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { vi } from 'vitest';
import { main } from '../../integrations/cli/main.ts';
import { encodePng } from '../../src/image/encode-png.ts';
import type { Sample } from '../../src/samples/surfaces.ts';

/** Runs the CLI in-process; returns exit code, what it printed on stderr and on stdout. */
export async function cli(...args: string[]): Promise<{ code: number; err: string; out: string }> {
  const lines: string[] = [];
  const outLines: string[] = [];
  const spy = vi.spyOn(console, 'error').mockImplementation((...a) => { lines.push(a.join(' ')); });
  const log = vi.spyOn(console, 'log').mockImplementation((...a) => { outLines.push(a.join(' ')); });
  const w = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    return { code: await main(args), err: lines.join('\n'), out: outLines.join('\n') };
  } finally {
    spy.mockRestore();
    log.mockRestore();
    w.mockRestore();
  }
}

/** Writes samples in the MVTec layout: train/good, test/<good|defect>, ground_truth/<defect>/<stem>_mask.png. */
export function writeMvtecLayout(root: string, train: Sample[], test: Sample[]): void {
  const put = (dir: string, name: string, bytes: Uint8Array) => { mkdirSync(dir, { recursive: true }); writeFileSync(path.join(dir, name), bytes); };
  for (const s of train) put(path.join(root, 'train', 'good'), `${s.name}.png`, encodePng({ ...s.image, channels: 3 }));
  for (const s of test) {
    const type = s.defect ?? 'good';
    put(path.join(root, 'test', type), `${s.name}.png`, encodePng({ ...s.image, channels: 3 }));
    if (s.defect) put(path.join(root, 'ground_truth', type), `${s.name}_mask.png`, encodePng({ width: s.image.width, height: s.image.height, channels: 1, data: s.mask.map((v) => v * 255) }));
  }
}

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { vi } from 'vitest';
import { main } from '../../integrations/cli/main.ts';
import { encodePng } from '../../src/image/encode-png.ts';
import { normalizeLut, OFFICIAL_PREPROCESS } from '../../src/preprocess/preprocess.ts';
import { loadFixtureTensors } from './shared.ts';
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

/** The fixture batch back to 8-bit PNGs: the normalisation LUT is invertible on its 256 values per channel. */
export function fixtureInputsAsPngs(dir: string): string[] {
  const img = loadFixtureTensors('inp-tiny', 'input.safetensors').get('images')!;
  const d = img.data as Float32Array;
  const lut = normalizeLut(OFFICIAL_PREPROCESS.mean, OFFICIAL_PREPROCESS.std);
  const S = 112;
  return [0, 1].map((b) => {
    const rgb = new Uint8Array(S * S * 3);
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < S * S; i++) {
        const v = d[(b * 3 + c) * S * S + i];
        const u8 = lut.subarray(c * 256, c * 256 + 256).findIndex((x) => x === v);
        if (u8 < 0) throw new Error('fixture value not on the LUT');
        rgb[i * 3 + c] = u8;
      }
    }
    const f = path.join(dir, `bottle_${b}.png`);
    writeFileSync(f, encodePng({ width: S, height: S, data: rgb, channels: 3 }));
    return f;
  });
}

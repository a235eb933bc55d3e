import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPth } from '../../src/checkpoint/pth.ts';
import { readSafetensors } from '../../src/checkpoint/safetensors.ts';
import { cli, fixtureInputsAsPngs } from '../helpers/cli.ts';
import { fixture, HAS_FIXTURES, loadFixtureTensors, skipReason } from '../helpers/shared.ts';

const SKIP = HAS_FIXTURES ? '' : ` (${skipReason('fixtures')})`;

// Acceptance path of the training issue: one official step through the CLI, from PNG files, then the official export.
describe.skipIf(!HAS_FIXTURES)(`inp-former train --init M then export gives the official parameters after one step${SKIP}`, () => {
  it('matches params_after_step (trainable) and keeps the frozen encoder bit-identical', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'inp-train-export-'));
    const pngs = fixtureInputsAsPngs(dir);
    const M = fixture('inp-tiny', 'model.pth');
    const model = path.join(dir, 'stepped');
    const t = await cli('train', '-e', M, '--init', M, '-d', ...pngs, '-o', model, '--steps', '1', '--batch', '2', '--lr', '1e-3',
      '--warmup-steps', '0', '--no-shuffle', '--resize', '112', '--crop', '112');
    expect(t.err).not.toMatch(/inp-former train:/);
    expect(t.code).toBe(0);
    const out = path.join(dir, 'model.safetensors');
    expect((await cli('export', '-m', model, '-o', out)).code).toBe(0);
    const exported = readSafetensors(new Uint8Array(readFileSync(out)), out).tensors;
    const original = readPth(new Uint8Array(readFileSync(M)), M);
    expect([...exported.keys()].sort()).toEqual([...original.keys()].sort());
    const after = loadFixtureTensors('inp-tiny', 'params_after_step.safetensors');
    let worst = 0;
    for (const [key, ref] of after) {
      // Large weights are stored as NAME::every31 (flat[0::31]); the rest whole.
      const [k, every] = key.endsWith('::every31') ? [key.slice(0, -'::every31'.length), 31] : [key, 1];
      const got = exported.get(k)!.data as Float32Array;
      const want = ref.data as Float32Array;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i * every] - want[i]));
    }
    expect(after.size).toBe(139);
    // The first StableAdamW step moves each element by about ±lr; our own gradients (not the golden ones) agree
    // to ~4e-5 on wasm, far below a sign flip (2e-3). See test/parity/inp-tiny-train.test.ts for the exact-gradient check.
    expect(worst).toBeLessThan(1e-4);
    for (const [k, v] of original) {
      if (!k.startsWith('encoder.')) continue;
      const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
      expect(bytes(exported.get(k)!.data).equals(bytes(v.data)), k).toBe(true);
    }
  });
});

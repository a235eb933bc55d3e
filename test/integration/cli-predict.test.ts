import { mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../integrations/cli/main.ts';
import { encodePng } from '../../src/image/encode-png.ts';
import { cli, fixtureInputsAsPngs } from '../helpers/cli.ts';
import { readPth } from '../../src/checkpoint/pth.ts';
import { writeSafetensors } from '../../src/checkpoint/safetensors.ts';
import { decodeNpy } from '../../src/io/npy.ts';
import type { TensorMap } from '../../src/types.ts';
import { fixture, HAS_FIXTURES, loadFixtureTensors, relMaxDiff, skipReason } from '../helpers/shared.ts';

const SKIP = HAS_FIXTURES ? '' : ` (${skipReason('fixtures')})`;
const MODEL = fixture('inp-tiny', 'model.pth');

describe.skipIf(!HAS_FIXTURES)(`inp-former predict, end to end from PNG files${SKIP}`, () => {
  let dir: string;
  let pngs: string[];
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'inp-predict-'));
    pngs = fixtureInputsAsPngs(dir);
  });

  // onnx (onnxruntime-node, the Node default) and tfjs wasm: the same map end to end.
  for (const backend of ['onnx', 'wasm']) it(`reproduces the official map and score from the checkpoint and PNGs (--backend ${backend})`, async () => {
    const out = path.join(dir, `out-${backend}`);
    const r = await cli('predict', '-m', MODEL, ...pngs, '-o', out, '--protocol', 'official', '--resize', '112', '--crop', '112', '--save-maps', '--backend', backend);
    expect(r.err).not.toMatch(/inp-former predict:/);
    expect(r.code).toBe(0);
    const scores = JSON.parse(readFileSync(path.join(out, 'scores.json'), 'utf8'));
    const fwd = loadFixtureTensors('inp-tiny', 'forward.safetensors');
    const refScore = fwd.get('image_score')!.data as Float32Array;
    const refMap = fwd.get('anomaly_map')!.data as Float32Array;
    for (const b of [0, 1]) {
      expect(Math.abs(scores[pngs[b]] - refScore[b])).toBeLessThan(1e-5);
      const npy = decodeNpy(new Uint8Array(readFileSync(path.join(out, 'maps', `bottle_${b}.npy`))));
      expect(npy.shape).toEqual([256, 256]);
      expect(relMaxDiff(npy.data, refMap.subarray(b * 65536, (b + 1) * 65536))).toBeLessThan(1e-4);
    }
    expect(readdirSync(out).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('zero-shot replaces score and map with the INP-distance ones', async () => {
    const out = path.join(dir, 'zs');
    expect((await cli('predict', '-m', MODEL, ...pngs, '-o', out, '--resize', '112', '--crop', '112', '--zero-shot')).code).toBe(0);
    const scores = JSON.parse(readFileSync(path.join(out, 'scores.json'), 'utf8'));
    const ref = loadFixtureTensors('inp-tiny', 'forward.safetensors').get('zs_image_score')!.data as Float32Array;
    expect(Math.abs(scores[pngs[1]] - ref[1])).toBeLessThan(1e-5);
  });

  it('annotate protocol gives maps at each image’s own size, from a converted model folder', async () => {
    const modelDir = path.join(dir, 'model');
    expect((await cli('convert', MODEL, '-o', modelDir)).code).toBe(0);
    const odd = path.join(dir, 'odd.png');
    writeFileSync(odd, encodePng({ width: 50, height: 30, data: new Uint8Array(50 * 30 * 3).fill(90), channels: 3 }));
    const out = path.join(dir, 'ann');
    expect((await cli('predict', '-m', modelDir, odd, '-o', out, '--protocol', 'annotate', '--resize', '56', '--save-maps')).code).toBe(0);
    expect(decodeNpy(new Uint8Array(readFileSync(path.join(out, 'maps', 'odd.npy')))).shape).toEqual([30, 50]);
  });

  describe('bad input: exit code ≠ 0 and a one-line reason', () => {
    let weights: TensorMap;
    beforeAll(() => { weights = readPth(new Uint8Array(readFileSync(MODEL)), MODEL); });
    const writeModel = (name: string, t: TensorMap) => {
      const f = path.join(dir, name);
      writeFileSync(f, writeSafetensors(t));
      return f;
    };
    const expectFail = async (args: string[], re: RegExp) => {
      const r = await cli(...args);
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(re);
      expect(r.err.split('\n')[0]).toMatch(re);
    };

    it('truncated or non-zip .pth', async () => {
      const cut = path.join(dir, 'cut.pth');
      writeFileSync(cut, readFileSync(MODEL).subarray(0, 100_000));
      await expectFail(['predict', '-m', cut, pngs[0], '-o', path.join(dir, 'x')], /cut\.pth/);
      const txt = path.join(dir, 'notzip.pth');
      writeFileSync(txt, 'PK but not really a zip file at all');
      await expectFail(['predict', '-m', txt, pngs[0], '-o', path.join(dir, 'x')], /notzip\.pth/);
    });

    it('missing, unexpected or mis-shaped keys, NaN and Inf weights', async () => {
      const missing = new Map(weights); missing.delete('decoder.3.attn.q.bias');
      await expectFail(['predict', '-m', writeModel('missing.safetensors', missing), pngs[0], '-o', path.join(dir, 'x')], /missing tensor decoder\.3\.attn\.q\.bias/);
      const extra = new Map(weights); extra.set('decoder.3.attn.extra', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
      await expectFail(['predict', '-m', writeModel('extra.safetensors', extra), pngs[0], '-o', path.join(dir, 'x')], /unexpected tensor decoder\.3\.attn\.extra/);
      const shaped = new Map(weights); shaped.set('aggregation.0.attn.q.bias', { dtype: 'F32', shape: [5], data: new Float32Array(5) });
      await expectFail(['predict', '-m', writeModel('shape.safetensors', shaped), pngs[0], '-o', path.join(dir, 'x')], /aggregation\.0\.attn\.q\.bias: has shape \[5\], expected \[128\]/);
      for (const bad of [NaN, Infinity]) {
        const t = new Map(weights);
        const w = weights.get('bottleneck.0.fc2.bias')!;
        const d = Float32Array.from(w.data as Float32Array); d[7] = bad;
        t.set('bottleneck.0.fc2.bias', { ...w, data: d });
        await expectFail(['predict', '-m', writeModel(`nan${bad}.safetensors`, t), pngs[0], '-o', path.join(dir, 'x')], new RegExp(`bottleneck\\.0\\.fc2\\.bias: contains ${bad} at element 7`));
      }
    });

    it('unreadable, 0-byte and too-small images', async () => {
      const empty = path.join(dir, 'empty.png'); writeFileSync(empty, '');
      await expectFail(['predict', '-m', MODEL, empty, '-o', path.join(dir, 'x')], /empty\.png: file is empty/);
      const tiny = path.join(dir, 'tiny.png');
      writeFileSync(tiny, encodePng({ width: 10, height: 10, data: new Uint8Array(300), channels: 3 }));
      await expectFail(['predict', '-m', MODEL, tiny, '-o', path.join(dir, 'x')], /tiny\.png: image is 10×10, smaller than one 14-pixel patch/);
      await expectFail(['predict', '-m', MODEL, path.join(dir, 'nope.png'), '-o', path.join(dir, 'x')], /nope\.png: not found/);
    });

    it('a corrupt image among good ones is skipped and named: the others are scored, failures.json lists it, exit status 3', async () => {
      const bad = path.join(dir, 'corrupt.png');
      writeFileSync(bad, readFileSync(pngs[0]).subarray(0, 60));
      const out = path.join(dir, 'partial');
      const r = await cli('predict', '-m', MODEL, pngs[0], bad, '-o', out, '--backend', 'wasm');
      expect(r.code).toBe(3);
      expect(r.err).toMatch(/predict: skipped .*corrupt\.png/);
      expect(Object.keys(JSON.parse(readFileSync(path.join(out, 'scores.json'), 'utf8')))).toEqual([pngs[0]]);
      const failures = JSON.parse(readFileSync(path.join(out, 'failures.json'), 'utf8'));
      expect(failures).toHaveLength(1);
      expect(failures[0].file).toBe(bad);
    });

    it('an output folder that is a file, and bad flags', async () => {
      const file = path.join(dir, 'a-file'); writeFileSync(file, 'keep me');
      await expectFail(['predict', '-m', MODEL, pngs[0], '-o', file], /a-file: output path exists and is not a folder/);
      expect(readFileSync(file, 'utf8')).toBe('keep me');
      await expectFail(['predict', '-m', MODEL, pngs[0], '-o', path.join(dir, 'y'), '--crop', '100'], /crop: 100 is not a multiple of the model's 14-pixel patch/);
      await expectFail(['predict', '-m', MODEL, pngs[0], '-o', path.join(dir, 'y'), '--backend', 'tpu'], /--backend must be one of/);
      expect(existsSync(path.join(dir, 'y', 'scores.json'))).toBe(false);
    });
  });
});

describe('inp-former CLI', () => {
  afterEach(() => vi.restoreAllMocks());
  it('prints help and rejects unknown commands', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    expect(await main(['--help'])).toBe(0);
    expect(log.mock.calls.flat().join('\n')).toMatch(/predict/);
    expect((await cli('frobnicate')).code).toBe(2);
  });
});

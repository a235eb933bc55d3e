import { describe, expect, it } from 'vitest';
import { aupro, proCurve } from '../../src/metrics/aupro.ts';
import { labelComponents } from '../../src/regions/connected-components.ts';
import { auroc, averagePrecision, binaryCurve, f1Max, splitSorted } from '../../src/metrics/curves.ts';
import { evaluateDetection } from '../../src/metrics/evaluate.ts';
import { HAS_FIXTURES, loadFixtureJson, loadFixtureTensors, skipReason } from '../helpers/shared.ts';

const curve = (s: number[], l: number[]) => { const { pos, neg } = splitSorted(s, l); return binaryCurve(pos, neg); };

describe('ranking metrics', () => {
  it('handles ties, perfect and reversed rankings like scikit-learn', () => {
    expect(auroc(curve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).value).toBe(0.75);
    expect(averagePrecision(curve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).value).toBeCloseTo(0.8333333333, 10);
    expect(auroc(curve([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1])).value).toBe(0.5); // all tied
    expect(auroc(curve([1, 2, 3, 4], [0, 0, 1, 1])).value).toBe(1);
    expect(auroc(curve([4, 3, 2, 1], [0, 0, 1, 1])).value).toBe(0);
    expect(f1Max(curve([1, 2, 3, 4], [0, 0, 1, 1])).threshold).toBe(3);
  });
  it('says why a metric is undefined and rejects bad input by field', () => {
    const r = auroc(curve([1, 2], [0, 0]));
    expect(r.value).toBeNaN();
    expect(r.reason).toMatch(/no anomalous/);
    expect(() => splitSorted([], [], 'imageScores')).toThrow(/imageScores: no values/);
    expect(() => splitSorted([1, NaN], [0, 1], 'imageScores')).toThrow(/imageScores\[1\] is NaN/);
    expect(() => splitSorted([1], [0, 1], 's')).toThrow(/1 scores but 2 labels/);
    const m = evaluateDetection({ imageScores: [0.1, 0.2], imageLabels: [0, 0] });
    expect(m.image_auroc).toBeNaN();
    expect(m.notes.join(' ')).toMatch(/image_auroc: no anomalous samples/);
  });
  it('labels 8- and 4-connected regions', () => {
    const m = [1, 0, 0, 0, 1, 0, 0, 0, 1]; // a diagonal
    expect(labelComponents(m, 3, 3, 8).count).toBe(1);
    expect(labelComponents(m, 3, 3, 4).count).toBe(3);
  });
  it('scales to 300 maps of 256×256 without quadratic cost', () => {
    let seed = 1;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const maps: Float32Array[] = [];
    const masks: Uint8Array[] = [];
    for (let k = 0; k < 300; k++) {
      const map = new Float32Array(65536);
      const mask = new Uint8Array(65536);
      const cx = rand() * 256; const cy = rand() * 256; const r = k % 3 ? 4 + rand() * 20 : 0;
      for (let i = 0; i < 65536; i++) {
        const x = i % 256; const y = i >> 8;
        const on = (x - cx) ** 2 + (y - cy) ** 2 < r * r;
        mask[i] = on ? 1 : 0;
        map[i] = Math.round((rand() + (on ? 0.8 : 0)) * 1024) / 1024;
      }
      maps.push(map); masks.push(mask);
    }
    const t0 = performance.now();
    const m = evaluateDetection({ imageScores: maps.map((m) => Math.max(...m.subarray(0, 1000))), imageLabels: masks.map((m) => (m.some((v) => v) ? 1 : 0)), maps, masks, width: 256, height: 256 });
    const ms = performance.now() - t0;
    expect(m.pixel_auroc).toBeGreaterThan(0.9);
    expect(m.aupro).toBeGreaterThan(0.5);
    expect(ms).toBeLessThan(60_000); // ~9 s alone on 2 cores; a quadratic method would take hours
  });
});

describe.skipIf(!HAS_FIXTURES)(`metrics reproduce fixtures/metrics${HAS_FIXTURES ? '' : ` (${skipReason('fixtures')})`}`, () => {
  it('image, pixel and AUPRO values and the PRO curve', () => {
    const t = loadFixtureTensors('metrics', 'eval_set.safetensors');
    const ref = loadFixtureJson('metrics', 'reference.json');
    const maps = t.get('anomaly_maps')!.data as Float32Array;
    const masks = t.get('masks')!.data as Uint8Array;
    const n = 64 * 64;
    const mapList = Array.from({ length: 12 }, (_, i) => maps.subarray(i * n, (i + 1) * n));
    const maskList = Array.from({ length: 12 }, (_, i) => masks.subarray(i * n, (i + 1) * n));
    const labels = Array.from(t.get('labels')!.data as BigInt64Array, Number);
    const m = evaluateDetection({ imageScores: t.get('image_scores')!.data as Float32Array, imageLabels: labels, maps: mapList, masks: maskList, width: 64, height: 64 });
    expect(Math.abs(m.image_auroc - ref['I-AUROC'])).toBeLessThan(1e-12);
    expect(Math.abs(m.image_ap - ref['I-AP'])).toBeLessThan(1e-12);
    expect(Math.abs(m.image_f1max - ref['I-F1max'])).toBeLessThan(1e-9);
    expect(Math.abs(m.pixel_auroc - ref['P-AUROC'])).toBeLessThan(1e-9);
    expect(Math.abs(m.pixel_ap - ref['P-AP'])).toBeLessThan(1e-9);
    expect(Math.abs(m.pixel_f1max - ref['P-F1max'])).toBeLessThan(1e-9);
    expect(m.pixel_f1_threshold).toBe(ref['P-F1max_threshold(return_best_thr)']);
    expect(Math.abs(m.aupro - ref['AUPRO@0.3_exact'])).toBeLessThan(1e-9);
    const c = loadFixtureTensors('metrics', 'aupro_curve.safetensors');
    const mine = proCurve(mapList, maskList, 64, 64);
    const fpr = c.get('fpr')!.data as Float64Array;
    expect(mine.fpr.length).toBe(fpr.length);
    for (let i = 0; i < fpr.length; i++) {
      expect(Math.abs(mine.fpr[i] - fpr[i])).toBeLessThan(1e-12);
      expect(Math.abs(mine.pro[i] - (c.get('pro')!.data as Float64Array)[i])).toBeLessThan(1e-12);
    }
    expect(aupro(mine).value).toBeCloseTo(ref['AUPRO@0.3_exact'], 9);
    const per8 = maskList.map((mk) => labelComponents(mk, 64, 64, 8).count);
    const per4 = maskList.map((mk) => labelComponents(mk, 64, 64, 4).count);
    expect(per8).toEqual(ref.regions_per_image_8conn);
    expect(per4).toEqual(ref.regions_per_image_4conn);
  });
});

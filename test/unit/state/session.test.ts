import { describe, expect, it } from 'vitest';
import { adjustCalibration, allRejected, pendingProposals, settleStatus } from '../../../components/state/review.ts';
import { buildSessionFile, parseSessionFile } from '../../../components/state/session-file.ts';
import { addRegion, DEFAULT_SETTINGS, markImage, newEntry, readSettings } from '../../../components/state/session.ts';
import { actionFor, SHORTCUTS } from '../../../components/state/shortcuts.ts';
import type { Calibration } from '../../../src/types.ts';

/** The workspace's state, without a browser: plain data in, plain data out. */
const cal: Calibration = { method: 'manual', pixelThreshold: 5, min: 0, max: 10 };
const map = { width: 4, height: 1, data: Float32Array.from([1, 6, 8, 2]) };
const mask = (bits: number[]) => ({ width: 4, height: 1, data: Uint8Array.from(bits) });

describe('session settings', () => {
  it('the knob is a sensitivity; sessions saved with the older normalised threshold open with the same cut', () => {
    expect(DEFAULT_SETTINGS).toEqual({ sensitivity: 0.5 });
    expect(readSettings({ threshold: 0.7, current: 'a' })).toEqual({ sensitivity: 0.3, current: 'a' });
    expect(readSettings({ sensitivity: 0.8, threshold: 0.1 })).toEqual({ sensitivity: 0.8 });
    expect(readSettings(undefined)).toEqual({ sensitivity: 0.5 });
    expect(readSettings({ sensitivity: 7 })).toEqual({ sensitivity: 1 });
  });

  it('a higher sensitivity cuts lower, so more of the map is proposed', () => {
    const at = (s: number) => adjustCalibration(cal, 1 - s).pixelThreshold;
    expect(at(0.5)).toBeCloseTo(5, 12);
    expect(at(0.8)).toBeLessThan(at(0.5));
    expect(at(0.2)).toBeGreaterThan(at(0.5));
  });

  it('round-trips a session file, and reads a legacy one', () => {
    let e = newEntry('a', 'a.png', { kind: 'file', type: 'image/png' });
    e = addRegion(e, { state: 'accepted', origin: 'drawn', edited: false, mask: mask([0, 1, 1, 0]) });
    const file = buildSessionFile(['a'], new Map([['a', e]]), { sensitivity: 0.62, current: 'a' }, new Map([['a', Uint8Array.of(1, 2, 3)]]));
    const back = parseSessionFile(JSON.stringify(file), 'session.json');
    expect(back.settings).toEqual({ sensitivity: 0.62, current: 'a' });
    expect([...back.entries.get('a')!.regions[0].mask.data]).toEqual([0, 1, 1, 0]);
    const legacy = parseSessionFile(JSON.stringify({ ...file, settings: { threshold: 0.25 } }), 'old.json');
    expect(legacy.settings.sensitivity).toBe(0.75);
    // An image's own sensitivity travels with it, and a bad one is refused by name.
    const own = buildSessionFile(['a'], new Map([['a', { ...e, sensitivity: 0.7 }]]), { sensitivity: 0.5 }, new Map());
    expect(parseSessionFile(JSON.stringify(own), 's.json').entries.get('a')!.sensitivity).toBe(0.7);
    const bad = { ...own, images: own.images.map((i) => ({ ...i, sensitivity: 2 })) };
    expect(() => parseSessionFile(JSON.stringify(bad), 's.json')).toThrow(/images\[0\]\.sensitivity.*from 0 to 1/);
  });
});

describe('review', () => {
  it('pending proposals leave out what a decision covers; accepting makes an image defective, only G makes it normal', () => {
    const raw = { map, score: 8, model: 'v' };
    const e = newEntry('a', 'a.png', { kind: 'file', type: 'image/png' });
    // Regions under MIN_REGION_AREA (16 px) are dropped: this 2-pixel map proposes nothing.
    expect(pendingProposals(e, raw, cal).pending).toEqual([]);
    const rejected = addRegion(e, { state: 'rejected', origin: 'model', edited: false, mask: mask([0, 1, 1, 0]) });
    // Rejecting every proposal never makes an image normal by itself: it asks for G.
    expect(settleStatus(rejected).status).toBe('unreviewed');
    expect(allRejected(rejected, 0)).toBe(true);
    expect(allRejected(rejected, 1)).toBe(false);
    const accepted = addRegion(e, { state: 'accepted', origin: 'model', edited: false, mask: mask([0, 1, 0, 0]) });
    expect(settleStatus(accepted).status).toBe('defective');
    expect(allRejected(accepted, 0)).toBe(false);
    expect(pendingProposals(markImage(accepted, 'normal'), raw, cal).pending).toEqual([]);
  });
});

describe('shortcuts', () => {
  it('every action has one chord, and - / = move the sensitivity', () => {
    const chords = SHORTCUTS.flatMap((s) => s.keys);
    expect(new Set(chords).size).toBe(chords.length);
    expect(actionFor({ key: '=', ctrlKey: false, metaKey: false, shiftKey: false })).toBe('sensitivity-up');
    expect(actionFor({ key: '-', ctrlKey: false, metaKey: false, shiftKey: false })).toBe('sensitivity-down');
  });
});

import { describe, expect, it } from 'vitest';
import { maskTarget } from '../../../integrations/label-studio/label-config.ts';
import { decodeBitmaskDataUrl, encodeBitmaskDataUrl } from '../../../src/export/labelstudio-bitmask.ts';
import { buildLabelStudioTasks, LABEL_STUDIO_CONTROLS, labelStudioConfig, parseLabelStudioTasks } from '../../../src/export/labelstudio-tasks.ts';
import { encodePng } from '../../../src/image/encode-png.ts';

const mask = { width: 5, height: 3, data: Uint8Array.from([0, 1, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 1]) };
const source = { model: 'm-1', label: 'Defect', calibration: { method: 'manual' as const, pixelThreshold: 0.5, min: 0, max: 1 } };

describe('Label Studio bitmask data URLs', () => {
  it('round-trip a mask as black opaque pixels on transparent, as BitmaskRegion stores them', () => {
    const url = encodeBitmaskDataUrl(mask);
    expect(url).toMatch(/^data:image\/png;base64,/);
    expect(decodeBitmaskDataUrl(url, 5, 3, 'x')).toEqual(mask);
  });
  it('refuses what is not a PNG data URL, a PNG without alpha, and a size other than the result\'s, naming the field', () => {
    expect(() => decodeBitmaskDataUrl('data:image/jpeg;base64,AAAA', 5, 3, 'r.value.imageDataURL')).toThrow(/r\.value\.imageDataURL.*PNG data URL/);
    expect(() => decodeBitmaskDataUrl(42, 5, 3, 'r')).toThrow(/PNG data URL/);
    const gray = `data:image/png;base64,${Buffer.from(encodePng({ width: 5, height: 3, channels: 1, data: new Uint8Array(15) })).toString('base64')}`;
    expect(() => decodeBitmaskDataUrl(gray, 5, 3, 'r')).toThrow(/no alpha channel/);
    expect(() => decodeBitmaskDataUrl(encodeBitmaskDataUrl(mask), 4, 3, 'r')).toThrow(/5×3, but the result says 4×3/);
  });
});

describe('Label Studio mask controls', () => {
  for (const control of LABEL_STUDIO_CONTROLS) {
    it(`${control}: the generated config is read back as that control, and tasks round-trip masks and labels`, () => {
      const options = { control, fromName: 'm', labelsName: 'l' };
      const target = maskTarget(labelStudioConfig(['Scratch', 'Dent'], options), 'config');
      expect(target).toMatchObject({ control, fromName: 'm', toName: 'image', dataKey: 'image', label: 'Scratch', labels: ['Scratch', 'Dent'] });
      expect(target.labelsName).toBe(control === 'brush+labels' ? 'l' : undefined);
      const tasks = buildLabelStudioTasks([{ fileName: 'a.png', width: 5, height: 3, regions: [{ mask, score: 0.7, label: 'Dent' }] }], source, target);
      const [img] = parseLabelStudioTasks(JSON.stringify(tasks), 'tasks', target);
      expect(img.regions).toHaveLength(1);
      expect(img.regions[0]).toMatchObject({ mask, score: 0.7, label: 'Dent' });
    });
  }
  it('reads a Brush paired with Labels, and says what is missing otherwise', () => {
    expect(maskTarget('<View><Image name="i" value="$img"/><Brush name="b" toName="i"/><Labels name="l" toName="i"><Label value="X"/></Labels></View>', 'c'))
      .toMatchObject({ control: 'brush+labels', fromName: 'b', labelsName: 'l', dataKey: 'img', label: 'X' });
    expect(() => maskTarget('<View><Image name="i" value="$img"/><Brush name="b" toName="i"/></View>', 'c')).toThrow(/<Brush> points at an <Image> with labels/);
    expect(() => maskTarget('<View><Image name="i" value="$img"/></View>', 'c')).toThrow(/no mask control/);
    expect(() => maskTarget('<View><Image name="i" value="$img"/><BitmaskLabels name="b" toName="i"/></View>', 'c')).toThrow(/<BitmaskLabels name="b"> has no <Label/);
  });
});

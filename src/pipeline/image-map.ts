import type { Detector } from './detector.ts';
import { preprocess } from '../preprocess/preprocess.ts';
import type { AnomalyMap, PreprocessConfig, RgbImage } from '../types.ts';

/**
 * One decoded image → its anomaly map and image score, where masks will be cut: under `annotate` the map is
 * resized back onto the image (masks at the image's own size); under `official` it stays at the map size, so
 * masks line up with the official evaluation. Shared by the CLI and the servers.
 */
export async function imageMap(detector: Detector, img: RgbImage, pre: PreprocessConfig, where: string): Promise<{ map: AnomalyMap; score: number }> {
  const p = preprocess(img, pre, detector.inputMultiple > 1 ? detector.inputMultiple : undefined, where);
  const r = await detector.predict({ data: p.data, shape: [1, 3, p.size, p.size] }, {
    mapSize: pre.mapSize, ...(pre.protocol === 'annotate' ? { outputSize: [img.height, img.width] as [number, number] } : {}),
  });
  return { map: { width: r.width, height: r.height, data: r.maps[0] }, score: r.scores[0] };
}

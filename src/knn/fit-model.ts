import * as tf from '@tensorflow/tfjs';
import { createPatchEncoder } from '../encoder/patch-encoder.ts';
import { cnnPreprocess } from '../encoder/cnn-config.ts';
import type { ModelContent } from '../model-folder/manifest.ts';
import { decodeImage } from '../image/decode.ts';
import { preprocess } from '../preprocess/preprocess.ts';
import type { CnnEncoderConfig, PreprocessConfig, RgbImage, TensorMap } from '../types.ts';
import { fitMemoryBank, knnTensors } from './knn.ts';

export interface FitKnnOptions {
  /** Square input side (PatchCore: 224). */
  size?: number;
  coresetRatio?: number;
  seed?: number;
  /** Store the encoder's weights in the model (user-supplied ResNets) or not (nsfwjs, read from its package). */
  bundleEncoder: boolean;
  onProgress?: (done: number, total: number, name: string) => void;
  /** Stops between images. */
  signal?: AbortSignal;
}

/** The normals, loaded one at a time (a category of hundreds never sits decoded in memory at once). */
export interface NormalImages { count: number; load(index: number): Promise<{ image: RgbImage; name: string }> }

/** Image files (PNG / JPEG bytes read by `read`) as NormalImages, decoded one at a time; errors name the file. */
export function imageFiles(files: readonly string[], read: (file: string) => Promise<Uint8Array>): NormalImages {
  return { count: files.length, load: async (i) => ({ image: decodeImage(await read(files[i]), files[i]), name: files[i] }) };
}

/**
 * Normal images → a kNN model (memory bank + config) and its preprocessing. The token grid defaults to
 * the stride-8 resolution (28×28 at 224, PatchCore's layer2 grid): finer grids multiply the bank and the
 * coreset's cost by 4 for little gain.
 */
export async function fitKnnModel(
  encoderConfig: CnnEncoderConfig, weights: TensorMap, where: string, images: NormalImages, o: FitKnnOptions,
): Promise<{ content: Extract<ModelContent, { kind: 'knn' }>; preprocess: PreprocessConfig }> {
  const size = o.size ?? 224;
  const coresetRatio = o.coresetRatio ?? 0.01;
  const seed = o.seed ?? 0;
  const config: CnnEncoderConfig = { ...encoderConfig, grid: encoderConfig.grid ?? Math.ceil(size / 8) };
  const pre = cnnPreprocess(config.kind, size);
  const encoder = createPatchEncoder(config, weights, where);
  try {
    const bank = await fitMemoryBank(encoder, (async function* () {
      for (let i = 0; i < images.count; i++) {
        o.signal?.throwIfAborted();
        const { image, name } = await images.load(i);
        const p = preprocess(image, pre, undefined, name);
        const x = tf.tensor4d(p.data, [1, 3, p.size, p.size]);
        try { yield x; } finally { x.dispose(); }
        o.onProgress?.(i + 1, images.count, name);
      }
    })(), { coresetRatio, seed });
    return {
      content: {
        kind: 'knn',
        knn: { encoder: config, bankSize: bank.size, dim: bank.dim, coresetRatio, seed, images: images.count },
        tensors: knnTensors(bank, o.bundleEncoder ? weights : undefined),
      },
      preprocess: pre,
    };
  } finally {
    encoder.dispose();
  }
}

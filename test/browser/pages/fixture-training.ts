import * as tf from '@tensorflow/tfjs';
import { loadCheckpoint } from '../../../src/checkpoint/load.ts';
import { readSafetensors } from '../../../src/checkpoint/safetensors.ts';
import { createInpFormer } from '../../../src/inp-former/predict.ts';
import { train } from '../../../src/train/trainer.ts';

/** Steps run on each side: SwiftShader WebGPU is slow, and three steps already cover two updated forwards. */
export const FIXTURE_STEPS = 3;

/** One step's loss terms; `seconds` since training started (encoder pass included), to see where the time goes. */
export interface StepLoss { step: number; loss: number; softMining: number; coherence: number; gradNorm: number; seconds: number }

/**
 * A few full-head training steps of fixtures/inp-tiny on its two input images, on whichever tfjs backend is active.
 * The Node test and the Chromium page both call this, so the two runs differ only in the backend.
 */
export async function trainFixtureSteps(model: Uint8Array, input: Uint8Array, steps = FIXTURE_STEPS): Promise<StepLoss[]> {
  const ck = loadCheckpoint(model, 'model.pth');
  if (ck.kind !== 'inp-former') throw new Error('model.pth: expected an INP-Former checkpoint');
  const img = readSafetensors(input, 'input.safetensors').tensors.get('images');
  if (!img) throw new Error('input.safetensors: no "images" tensor');
  const inp = createInpFormer(ck.config, ck.tensors);
  const x = tf.tensor4d(img.data as Float32Array, img.shape as [number, number, number, number]);
  const losses: StepLoss[] = [];
  try {
    // The CLI's fixture recipe: batch 2, base lr from the first step, data in order.
    await train({
      encoder: inp, config: ck.config, init: ck.tensors, data: [x], steps, batchSize: 2, lr: 1e-3, warmupSteps: 0, shuffle: false,
      onProgress: (e) => { if (e.stage === 'train') losses.push({ step: e.step, loss: e.loss, softMining: e.softMining, coherence: e.coherence, gradNorm: e.gradNorm, seconds: e.elapsedSeconds }); },
    });
  } finally {
    x.dispose();
    inp.dispose();
  }
  return losses;
}

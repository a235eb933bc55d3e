import * as tf from '@tensorflow/tfjs';
import { matMulRun, timeRuns, type MatMulRun } from './measure.ts';

/** tf.matMul of two n×n float32 matrices on the current tfjs backend; each run reads the result back, so an async backend (WebGPU) finishes. */
export async function tfjsMatMul(n: number, reps: number): Promise<MatMulRun> {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  try {
    const { min } = await timeRuns(reps, async () => {
      const c = tf.matMul(a, b);
      await c.data();
      c.dispose();
    });
    return matMulRun(n, min);
  } finally {
    a.dispose();
    b.dispose();
  }
}

import * as tf from '@tensorflow/tfjs';
import { seededRandom } from '../inp-former/init.ts';
import type { RefineConfig, TensorMap } from '../types.ts';
import { expectedRefineShapes } from './config.ts';

/**
 * INP-Former++'s segmentation head (spec §8.3: "2 transposed convolutions + 1 convolution"; channels and kernels
 * undisclosed, ours are small because it trains on 2 CPU cores): a 1×1 projection of the residual features, two
 * 2×2 stride-2 transposed convolutions (the token grid ×4) and a 1×1 convolution to one logit. Every layer is a
 * matMul over reshapes: tfjs wasm has no Conv2DBackpropFilter kernel, and a stride-2 2×2 transposed convolution
 * has no overlap, so each input token writes its own 2×2 block. A 3×3 last layer (im2col) made the head's training
 * step 8.3× slower on wasm (`npm run bench:refine-head`), and the map is Gaussian-blurred afterwards anyway.
 */

/**
 * Fresh weights (He-normal, seeded) and the feature scale measured on the normals. The output bias starts at −3
 * (probability ≈ 0.05): defects are rare, so a head that starts near "normal everywhere" learns faster.
 */
export function initRefineTensors(c: Pick<RefineConfig, 'inputDim' | 'widths'>, inputScale: Float32Array, seed: number): TensorMap {
  const rand = seededRandom(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const t: TensorMap = new Map();
  for (const [k, shape] of expectedRefineShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    if (k === 'input_scale') data = Float32Array.from(inputScale);
    else if (k === 'out.bias') data = Float32Array.of(-3);
    else if (k.endsWith('.bias')) data = new Float32Array(n);
    else data = Float32Array.from({ length: n }, () => gauss() * Math.sqrt(2 / shape[0]));
    t.set(k, { dtype: 'F32', shape, data });
  }
  return t;
}

/** Uploaded head weights by name (trainable ones become variables in the refiner). */
export type RefineParams = Record<string, tf.Tensor>;

export function uploadRefine(t: TensorMap): RefineParams {
  return Object.fromEntries([...t].map(([k, v]) => [k, tf.tensor(v.data as Float32Array, v.shape, 'float32')]));
}

export function disposeRefine(p: RefineParams): void {
  for (const v of Object.values(p)) v.dispose();
}

/** Transposed 2×2 stride-2 convolution: [B, H, W, Cin] → [B, 2H, 2W, Cout] (weight [Cin, 4·Cout], order dy, dx, c). */
function upsample2(x: tf.Tensor4D, w: tf.Tensor, b: tf.Tensor): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  const cout = w.shape[1]! / 4;
  const y = tf.matMul(x.reshape([-1, C]), w as tf.Tensor2D).reshape([B, H, W, 2, 2, cout]);
  return tf.add(y.transpose([0, 1, 3, 2, 4, 5]).reshape([B, 2 * H, 2 * W, cout]), b) as tf.Tensor4D;
}

/** Residual features [B, gh, gw, inputDim] → the map the last layer reads [B, 4gh, 4gw, widths[2]]. */
export function refineFeatures(features: tf.Tensor4D, p: RefineParams): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, H, W, C] = features.shape;
    const x = tf.div(features, p.input_scale).reshape([-1, C]);
    const h0 = tf.relu(tf.add(tf.matMul(x, p['proj.weight'] as tf.Tensor2D), p['proj.bias'])).reshape([B, H, W, -1]) as tf.Tensor4D;
    return tf.relu(upsample2(tf.relu(upsample2(h0, p['up1.weight'], p['up1.bias'])), p['up2.weight'], p['up2.bias']));
  });
}

/** Residual features [B, gh, gw, inputDim] → logits [B, 4gh, 4gw, 1]. */
export function refineLogits(features: tf.Tensor4D, p: RefineParams): tf.Tensor4D {
  return tf.tidy(() => {
    const h = refineFeatures(features, p);
    const [B, H, W, C] = h.shape;
    return tf.add(tf.matMul(h.reshape([-1, C]), p['out.weight'] as tf.Tensor2D), p['out.bias']).reshape([B, H, W, 1]) as tf.Tensor4D;
  });
}

/**
 * The refined coarse map: the average of the raw map (upsampled to the head's grid, divided by its level on the
 * normals) and the head's probability, as INP-Former++'s final map averages the reconstruction map and the head.
 */
export function refinedCoarse(coarse: tf.Tensor4D, logits: tf.Tensor4D, rawScale: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = logits.shape;
    const raw = tf.div(tf.image.resizeBilinear(coarse, [h, w], true), rawScale);
    return tf.mul(tf.add(raw, tf.sigmoid(logits)), 0.5) as tf.Tensor4D;
  });
}

/**
 * Binary cross-entropy on the logits plus soft Dice on the probabilities (targets: the masks' area share per head
 * pixel, [B, 4gh, 4gw, 1]). Dice keeps small defects from drowning in the background pixels' cross-entropy.
 */
export function refineLoss(logits: tf.Tensor4D, targets: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => {
    const bce = tf.mean(tf.sub(tf.softplus(logits), tf.mul(targets, logits)));
    const prob = tf.sigmoid(logits);
    const inter = tf.sum(tf.mul(prob, targets));
    const dice = tf.sub(1, tf.div(tf.add(tf.mul(inter, 2), 1), tf.add(tf.add(tf.sum(prob), tf.sum(targets)), 1)));
    return tf.add(bce, dice) as tf.Scalar;
  });
}

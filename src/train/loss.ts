import * as tf from '@tensorflow/tfjs';
import { cosineSimilarity } from '../runtime/ops.ts';

/** Weight of the INP coherence loss in L = L_sm + λ·L_c (the same in every official script). */
export const COHERENCE_WEIGHT = 0.2;
/** Exponent γ of the soft-mining weights (`global_cosine_hm_adaptive(..., y=3)`). */
export const SOFT_MINING_GAMMA = 3;

/** L_c (`gather_loss`): mean over images and tokens of the distance to the nearest INP, `distance` [B, N]. */
export function coherenceLoss(distance: tf.Tensor2D): tf.Scalar {
  return tf.mean(distance);
}

/** δ = 1 − cos over channels per position, [B, N], for one encoder/decoder group pair ([B, N, C] each). */
export function pointDistance(en: tf.Tensor3D, de: tf.Tensor3D): tf.Tensor2D {
  return tf.tidy(() => tf.sub(1, cosineSimilarity(en, de, 2)) as tf.Tensor2D);
}

/**
 * Identity on `de` whose gradient is multiplied by w = (δ/μ)^γ, broadcast over channels: the official hook
 * (`modify_grad_v2`) in the stop-gradient form of spec §2.2. w is computed inside the forward function, which
 * tfjs does not record on the tape, so no gradient flows through the weights (they are a "no_grad" quantity).
 */
function softMined(en: tf.Tensor3D, de: tf.Tensor3D, mu: tf.Scalar | undefined, gamma: number): tf.Tensor3D {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [a, b, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
    const w = tf.tidy(() => {
      const delta = pointDistance(a, b);
      return tf.pow(tf.div(delta, mu ?? tf.mean(delta)), gamma).expandDims(2);
    });
    save([w]);
    return {
      value: tf.clone(b),
      gradFunc: (dy: tf.Tensor, [sw]: tf.Tensor[]) => [tf.zerosLike(a), tf.mul(dy, sw)],
    };
  }) as (a: tf.Tensor3D, b: tf.Tensor3D) => tf.Tensor3D;
  return f(en, de);
}

/**
 * L_sm (`global_cosine_hm_adaptive`, y = γ): per group, mean over images of 1 − cos between the whole flattened
 * encoder and decoder features, with the decoder's gradient re-weighted by (δ/μ)^γ; averaged over groups.
 * `mu[g]` is the batch mean of δ for group g; pass it when this call sees only part of the batch (gradient
 * accumulation), so every micro-batch uses the full batch's μ. Without it, μ is this batch's mean.
 */
export function softMiningLoss(en: tf.Tensor3D[], de: tf.Tensor3D[], opts: { mu?: tf.Scalar[]; gamma?: number } = {}): tf.Scalar {
  return tf.tidy(() => {
    const terms = en.map((e, g) => {
      const d = softMined(e, de[g], opts.mu?.[g], opts.gamma ?? SOFT_MINING_GAMMA);
      const B = e.shape[0];
      // The order of the flattened elements does not change a cosine, so the token layout [B, N, C] is fine.
      return tf.mean(tf.sub(1, cosineSimilarity(e.reshape([B, -1]), d.reshape([B, -1]), 1)));
    });
    return tf.div(tf.addN(terms), terms.length) as tf.Scalar;
  });
}

/** Per-group sums of δ over a (micro-)batch: summed over micro-batches and divided by B·N they give μ. */
export function pointDistanceSums(en: tf.Tensor3D[], de: tf.Tensor3D[]): tf.Tensor1D {
  return tf.tidy(() => tf.stack(en.map((e, g) => tf.sum(pointDistance(e, de[g])))) as tf.Tensor1D);
}

export interface LossTerms<T> { loss: T; softMining: T; coherence: T }

/** L = L_sm + λ·L_c on one head output; every returned scalar is new (caller disposes). */
export function inpFormerLoss(
  out: { en: tf.Tensor3D[]; de: tf.Tensor3D[]; distance: tf.Tensor2D }, opts: { mu?: tf.Scalar[] } = {},
): LossTerms<tf.Scalar> {
  return tf.tidy(() => {
    const softMining = softMiningLoss(out.en, out.de, opts);
    const coherence = coherenceLoss(out.distance);
    return { loss: tf.add(softMining, tf.mul(coherence, COHERENCE_WEIGHT)) as tf.Scalar, softMining, coherence };
  });
}

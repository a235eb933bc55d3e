import * as tf from '@tensorflow/tfjs';

/** The official optimiser settings (`StableAdamW(lr=1e-3, betas=(0.9,0.999), weight_decay=1e-4, amsgrad=True, eps=1e-10)`). */
export interface StableAdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Update-RMS threshold above which the step is scaled down. */
  clipThreshold: number;
}

export const STABLE_ADAMW_DEFAULTS: StableAdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-10, weightDecay: 1e-4, clipThreshold: 1 };

/** Per-parameter moments: exp_avg, exp_avg_sq and AMSGrad's max_exp_avg_sq, each shaped like the parameter. */
export interface MomentState { m: tf.Tensor; v: tf.Tensor; vMax: tf.Tensor }

export function zeroMoments(p: tf.Tensor): MomentState {
  return { m: tf.zerosLike(p), v: tf.zerosLike(p), vMax: tf.zerosLike(p) };
}

/**
 * One StableAdamW update of one parameter tensor, in the reference's order of operations
 * (`optimizers/StableAdamW.py`): decoupled decay, moments, AMSGrad max, bias-corrected denominator, then the
 * step scaled down by ρ = max(1, RMS(g/denom)/threshold). `t` is the 1-based step count after this update.
 * Pure: returns new tensors (caller disposes the old ones) and ρ as a scalar tensor.
 */
export function stableAdamWUpdate(
  p: tf.Tensor, g: tf.Tensor, s: MomentState, t: number, lr: number, c: StableAdamWConfig = STABLE_ADAMW_DEFAULTS,
): { param: tf.Tensor; state: MomentState; rho: tf.Scalar } {
  return tf.tidy(() => {
    const decayed = tf.mul(p, 1 - lr * c.weightDecay);
    const m = tf.add(tf.mul(s.m, c.beta1), tf.mul(g, 1 - c.beta1));
    const v = tf.add(tf.mul(s.v, c.beta2), tf.mul(tf.square(g), 1 - c.beta2));
    const vMax = tf.maximum(s.vMax, v);
    const denom = tf.add(tf.div(tf.sqrt(vMax), Math.sqrt(1 - c.beta2 ** t)), c.eps);
    // RMS as the reference's _rms: ‖g/denom‖₂ / √numel.
    const rms = tf.div(tf.norm(tf.div(g, denom)), Math.sqrt(g.size));
    const rho = tf.maximum(tf.div(rms, c.clipThreshold), 1) as tf.Scalar;
    const stepSize = tf.div(lr / (1 - c.beta1 ** t), rho);
    const param = tf.sub(decayed, tf.mul(tf.div(m, denom), stepSize));
    return { param, state: { m, v, vMax }, rho };
  });
}

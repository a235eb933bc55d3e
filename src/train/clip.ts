import * as tf from '@tensorflow/tfjs';

/**
 * torch.nn.utils.clip_grad_norm_ (L2): total = ‖(‖g_i‖)_i‖, every gradient scaled by min(1, max/(total + 1e-6)).
 * Returns new tensors (caller disposes) and the norm before clipping.
 */
export function clipByGlobalNorm(grads: tf.Tensor[], maxNorm: number): { clipped: tf.Tensor[]; norm: tf.Scalar } {
  return tf.tidy(() => {
    const norm = tf.norm(tf.stack(grads.map((g) => tf.norm(g)))) as tf.Scalar;
    const coef = tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1);
    return { clipped: grads.map((g) => tf.mul(g, coef)), norm };
  });
}

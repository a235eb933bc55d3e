/** Tensor names of every exported graph: a module of its own so the browser adapter imports no exporter (node:fs). */
export const ONNX_IO = {
  input: 'image',
  /** Reconstruction map at the scoring size, [N, 1, mapH, mapW] (σ=4 Gaussian applied). */
  map: 'anomaly_map',
  /** Mean of the top ⌊mapH·mapW·topRatio⌋ map values (the maximum when that is 0), [N]. */
  score: 'image_score',
  /** The same chain on the INP coherence distance (zero-shot), [N, 1, mapH, mapW] and [N]. */
  zeroShotMap: 'zs_anomaly_map',
  zeroShotScore: 'zs_image_score',
} as const;

import { dinov2InpFormerConfig } from '../src/inp-former/init.ts';

/**
 * Forward GFLOP of the ViT INP-Former at input S (the encoder blocks that run + decoder + bottleneck; 2 FLOPs per
 * MAC): the one count every speed row (bench/speed.ts, bench/onnx-rows.ts) reports GFLOP/s with.
 */
export function inpFormerGflop(size: 'small' | 'base' | 'large', S: number): number {
  const c = dinov2InpFormerConfig(size);
  const C = c.embedDim;
  const N = (S / 14) ** 2;
  const L = N + 5;
  const blocks = Math.max(...c.targetLayers) + 1;
  const enc = blocks * (12 * L * C * C + 2 * L * L * C) + N * 3 * 196 * C;
  const dec = c.decoderDepth * (N * (2 * C * C + 8 * C * C) + 6 * 3 * C * C);
  const bott = N * 8 * C * C;
  return (2 * (enc + dec + bott)) / 1e9;
}

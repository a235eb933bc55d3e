import { defaultGroups, defaultTargetLayers } from '../checkpoint/infer-config.ts';
import { cnnTokenDim } from '../encoder/patch-encoder.ts';
import type { EncoderConfig, InpFormerConfig } from '../types.ts';

/**
 * The official head for a bare encoder: 6 INPs, 8 decoder blocks, the encoder's width and heads, default taps. A CNN
 * is one token layer (its stages concatenated), so one encoder group; 4 decoder blocks, heads of at least 32
 * channels, since CNN tokens are wide (ResNet-18 layer1-3: 448) and training runs on CPUs here.
 */
export function headConfigFor(encoder: EncoderConfig): InpFormerConfig {
  if (encoder.kind !== 'dinov2') {
    const C = cnnTokenDim(encoder);
    const numHeads = [8, 7, 6, 5, 4, 3, 2, 1].find((h) => C % h === 0 && C / h >= 32) ?? 1;
    return {
      architecture: 'inp-former', encoder, embedDim: C, numHeads, inpCount: 6, decoderDepth: 4,
      targetLayers: [0], fuseEncoder: [[0]], fuseDecoder: [[0, 1, 2, 3]], mlpRatio: 4, lnEps: 1e-8,
    };
  }
  const targetLayers = defaultTargetLayers(encoder.depth);
  return {
    architecture: 'inp-former', encoder, embedDim: encoder.embedDim, numHeads: encoder.numHeads, inpCount: 6, decoderDepth: 8,
    targetLayers, fuseEncoder: defaultGroups(targetLayers.length), fuseDecoder: defaultGroups(8), mlpRatio: 4, lnEps: 1e-8,
  };
}

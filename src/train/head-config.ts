import { defaultGroups, defaultTargetLayers } from '../checkpoint/infer-config.ts';
import { cnnTokenDim } from '../encoder/cnn-config.ts';
import type { EncoderConfig, InpFormerConfig } from '../types.ts';
import { CNN_RECIPE } from './recipe.ts';

/**
 * The head for a bare encoder. DINOv2: the official one (6 INPs, 8 decoder blocks, the encoder's width, heads and
 * taps). A CNN is one token layer (its stages concatenated), so one encoder group, and our CNN recipe's head
 * (CNN_RECIPE: 8-channel heads, 12 INPs, 4 decoder blocks).
 */
export function headConfigFor(encoder: EncoderConfig): InpFormerConfig {
  if (encoder.kind !== 'dinov2') {
    const C = cnnTokenDim(encoder);
    const numHeads = C % CNN_RECIPE.headDim === 0 ? C / CNN_RECIPE.headDim : [8, 7, 6, 5, 4, 3, 2, 1].find((h) => C % h === 0)!;
    const depth = CNN_RECIPE.decoderDepth;
    return {
      architecture: 'inp-former', encoder, embedDim: C, numHeads, inpCount: CNN_RECIPE.inpCount, decoderDepth: depth,
      targetLayers: [0], fuseEncoder: [[0]], fuseDecoder: [Array.from({ length: depth }, (_, i) => i)], mlpRatio: 4, lnEps: 1e-8,
    };
  }
  const targetLayers = defaultTargetLayers(encoder.depth);
  return {
    architecture: 'inp-former', encoder, embedDim: encoder.embedDim, numHeads: encoder.numHeads, inpCount: 6, decoderDepth: 8,
    targetLayers, fuseEncoder: defaultGroups(targetLayers.length), fuseDecoder: defaultGroups(8), mlpRatio: 4, lnEps: 1e-8,
  };
}

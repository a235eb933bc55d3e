import type { InpFormerConfig } from '../../src/types.ts';

/** fixtures/inp-tiny/README.md: a ViT with 128 channels, 2 heads, 12 blocks, 4 registers, and the official head layout. */
export const INP_TINY_CONFIG: InpFormerConfig = {
  architecture: 'inp-former',
  encoder: { kind: 'dinov2', embedDim: 128, depth: 12, numHeads: 2, patchSize: 14, registerTokens: 4, posGridSize: 37, mlpRatio: 4, lnEps: 1e-6, interpolateOffset: 0.1 },
  embedDim: 128, numHeads: 2, inpCount: 6, decoderDepth: 8, targetLayers: [2, 3, 4, 5, 6, 7, 8, 9],
  fuseEncoder: [[0, 1, 2, 3], [4, 5, 6, 7]], fuseDecoder: [[0, 1, 2, 3], [4, 5, 6, 7]], mlpRatio: 4, lnEps: 1e-8,
};

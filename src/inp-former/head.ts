import * as tf from '@tensorflow/tfjs';
import { cosineSimilarity, meanOf, mlp } from '../runtime/ops.ts';
import type { InpFormerConfig } from '../types.ts';
import { decoderBlock } from './decoder.ts';
import { extractInps } from './extractor.ts';
import type { HeadParams } from './params.ts';

export interface HeadOutput {
  /** Encoder groups E_g and decoder groups D_g, each [B, N, C] (tokens row-major over the grid). */
  en: tf.Tensor3D[];
  de: tf.Tensor3D[];
  /** Min cosine distance of each F_Q token to the INPs [B, N]: the coherence loss terms and the zero-shot map. */
  distance: tf.Tensor2D;
}

export interface HeadTrace {
  fusedQuery?: tf.Tensor3D; inp?: tf.Tensor3D; bottleneck?: tf.Tensor3D; decoder?: tf.Tensor3D[];
}

/**
 * Everything after the frozen encoder, as a pure function of (params, tapped layers), so a trainer can run it
 * under tf.variableGrads. With `trace`, intermediates are kept (caller disposes them).
 */
export function headForward(layers: tf.Tensor3D[], p: HeadParams, cfg: InpFormerConfig, trace?: HeadTrace): HeadOutput {
  return tf.tidy(() => {
    const B = layers[0].shape[0];
    const fq = meanOf(layers) as tf.Tensor3D;
    const tokens = tf.tile(p.prototypes.expandDims(0), [B, 1, 1]) as tf.Tensor3D;
    const inps = extractInps(tokens, fq, p.extractor, cfg.numHeads, cfg.lnEps);
    // cos over channels between every token [B,N,1,C] and every INP [B,1,M,C] -> [B,N,M]; min over M.
    const distance = tf.min(tf.sub(1, cosineSimilarity(fq.expandDims(2), inps.expandDims(1), 3)), 2) as tf.Tensor2D;
    let x = mlp(fq, p.bottleneck) as tf.Tensor3D;
    const z0 = x;
    const outs: tf.Tensor3D[] = [];
    for (const blk of p.decoder) {
      x = decoderBlock(x, inps, blk, cfg.numHeads, cfg.lnEps);
      outs.push(x);
    }
    const reversed = [...outs].reverse();
    const en = cfg.fuseEncoder.map((g) => meanOf(g.map((i) => layers[i])) as tf.Tensor3D);
    const de = cfg.fuseDecoder.map((g) => meanOf(g.map((i) => reversed[i])) as tf.Tensor3D);
    if (trace) {
      trace.fusedQuery = tf.keep(fq); trace.inp = tf.keep(inps); trace.bottleneck = tf.keep(z0);
      trace.decoder = outs.map((t) => tf.keep(t));
    }
    return { en, de, distance };
  });
}

import * as tf from '@tensorflow/tfjs';
import { cosineSimilarity, meanOf, mlp } from '../runtime/ops.ts';
import type { InpFormerConfig } from '../types.ts';
import { decoderBlock } from './decoder.ts';
import { extractInps } from './extractor.ts';
import type { FrozenEncoder } from './frozen-encoder.ts';
import type { HeadParams } from './weights.ts';

export interface HeadOutput {
  /** Encoder groups E_g and decoder groups D_g, each [B, N, C] (tokens row-major over the patch grid). */
  en: tf.Tensor3D[];
  de: tf.Tensor3D[];
  /** Min cosine distance of each F_Q token to the image's INPs, [B, N]: the coherence loss terms and the zero-shot map. */
  distance: tf.Tensor2D;
}

export interface HeadIntermediates {
  /** F_Q = mean of the tapped layers [B, N, C]. */
  fusedQuery: tf.Tensor3D;
  /** P, the INPs extracted from this image [B, M, C]. */
  inp: tf.Tensor3D;
  /** Z_0 = bottleneck(F_Q) [B, N, C]. */
  bottleneck: tf.Tensor3D;
  /** Z_1..Z_L in forward order, each [B, N, C]. */
  decoder: tf.Tensor3D[];
}

export interface ForwardIntermediates extends HeadIntermediates {
  /** Encoder input tokens [B, 1 + R + N, C]: cls, registers, patches (ViT encoders only). */
  tokens?: tf.Tensor3D;
  /** Tapped encoder layers e_k [B, N, C]. */
  layers: tf.Tensor3D[];
}

export interface ForwardOutput extends HeadOutput {
  grid: [number, number];
  intermediates?: ForwardIntermediates;
}

/**
 * Everything after the frozen encoder — a pure function of (head params, tapped layers), so a trainer can run it
 * under tf.variableGrads with the params as variables and the layers as constants. Caller disposes the outputs
 * (and the intermediates, which are returned only when asked for; the computation is the same either way).
 */
export function headForward(
  p: HeadParams, layers: tf.Tensor3D[], cfg: InpFormerConfig, opts: { intermediates?: boolean } = {},
): HeadOutput & { intermediates?: HeadIntermediates } {
  return tf.tidy(() => {
    const B = layers[0].shape[0];
    // The official code averages the taps (the paper writes a sum); F_Q feeds the bottleneck un-normalised.
    const fusedQuery = meanOf(layers) as tf.Tensor3D;
    const tokens = tf.tile(p.prototypes.expandDims(0), [B, 1, 1]) as tf.Tensor3D;
    const inp = extractInps(tokens, fusedQuery, p.extractor, cfg.numHeads, cfg.lnEps);
    // 1 − cos between every token [B,N,1,C] and every INP [B,1,M,C] → [B,N,M]; the nearest INP counts.
    const distance = tf.min(tf.sub(1, cosineSimilarity(fusedQuery.expandDims(2), inp.expandDims(1), 3)), 2) as tf.Tensor2D;
    const bottleneck = mlp(fusedQuery, p.bottleneck) as tf.Tensor3D;
    const decoder: tf.Tensor3D[] = [];
    let z = bottleneck;
    for (const blk of p.decoder) {
      z = decoderBlock(z, inp, blk, cfg.numHeads, cfg.lnEps);
      decoder.push(z);
    }
    // Decoder groups index the reversed outputs (de_list[::-1]): the last blocks pair with the shallow encoder group.
    const reversed = [...decoder].reverse();
    const en = cfg.fuseEncoder.map((g) => meanOf(g.map((i) => layers[i])) as tf.Tensor3D);
    const de = cfg.fuseDecoder.map((g) => meanOf(g.map((i) => reversed[i])) as tf.Tensor3D);
    return { en, de, distance, ...(opts.intermediates ? { intermediates: { fusedQuery, inp, bottleneck, decoder } } : {}) };
  });
}

/** Encoder + head on a normalised NCHW batch. Caller disposes every returned tensor. */
export function inpFormerForward(
  x: tf.Tensor4D, encoder: FrozenEncoder, head: HeadParams, cfg: InpFormerConfig, opts: { intermediates?: boolean } = {},
): ForwardOutput {
  const enc = encoder.encode(x, { keepTokens: opts.intermediates });
  const out = headForward(head, enc.layers, cfg, opts);
  if (!opts.intermediates) {
    tf.dispose(enc.layers);
    return { en: out.en, de: out.de, distance: out.distance, grid: enc.grid };
  }
  return { ...out, grid: enc.grid, intermediates: { ...out.intermediates!, ...(enc.tokens ? { tokens: enc.tokens } : {}), layers: enc.layers } };
}


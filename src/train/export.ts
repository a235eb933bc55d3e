import { expectedShapes, validateStateDict } from '../checkpoint/load.ts';
import { writeSafetensors } from '../checkpoint/safetensors.ts';
import type { InpFormerConfig, TensorMap } from '../types.ts';

/**
 * Every key of an official `model.pth` for `config`, in state-dict order, as F32 — the encoder included
 * (unused `mask_token`, `norm.*` and untapped blocks too), so `load_state_dict(strict=True)` accepts it.
 * `tensors` holds encoder + head under official names (a model folder's weights, or encoder ∪ trained head).
 */
export function officialStateDict(tensors: TensorMap, config: InpFormerConfig, where: string): TensorMap {
  validateStateDict(tensors, config, where);
  const out: TensorMap = new Map();
  for (const k of expectedShapes(config).keys()) {
    const t = tensors.get(k)!;
    // Float data is decoded to Float32Array on read, so F32 tensors pass through bit-identical.
    out.set(k, t.data instanceof Float32Array ? t : { dtype: 'F32', shape: t.shape, data: Float32Array.from(t.data as ArrayLike<number>, Number) });
  }
  return out;
}

/** officialStateDict as `.safetensors` bytes (`safetensors.torch.load_file` + `load_state_dict` reads it). */
export function exportOfficialSafetensors(tensors: TensorMap, config: InpFormerConfig, where: string): Uint8Array {
  return writeSafetensors(officialStateDict(tensors, config, where), { dtype: 'F32', metadata: { format: 'pt' } });
}

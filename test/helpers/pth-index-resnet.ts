import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { HostTensor, TensorMap } from '../../src/types.ts';

interface IndexEntry {
  dtype: 'F32' | 'I64';
  shape: number[];
  /** Absolute byte range of the tensor's raw little-endian data inside the .pth (zip entries are stored). */
  data_offsets: [number, number];
  sha256: string;
}

/**
 * A torchvision state dict from a fixture .pth through its `.index.json` side-car, with no zip or pickle parser,
 * so the encoder tests do not depend on the checkpoint reader. Each tensor's bytes are checked against the index's
 * sha256, which catches a stale index or wrong offsets before they look like a model bug.
 */
export function readResNetByIndex(pthFile: string, indexFile = `${pthFile}.index.json`): TensorMap {
  const bytes = readFileSync(pthFile);
  const index = JSON.parse(readFileSync(indexFile, 'utf8')) as { tensors: Record<string, IndexEntry> };
  const out: TensorMap = new Map();
  for (const [name, e] of Object.entries(index.tensors)) {
    const raw = bytes.subarray(e.data_offsets[0], e.data_offsets[1]);
    if (createHash('sha256').update(raw).digest('hex') !== e.sha256) throw new Error(`${indexFile}: ${name}: sha256 mismatch`);
    const n = e.shape.reduce((a, b) => a * b, 1);
    if (raw.length !== n * (e.dtype === 'F32' ? 4 : 8)) throw new Error(`${indexFile}: ${name}: ${raw.length} bytes for ${e.dtype} [${e.shape}]`);
    // Copy into a fresh buffer: the offsets are not aligned within Node's pooled Buffer.
    const copy = new Uint8Array(raw).buffer;
    const t: HostTensor = e.dtype === 'F32'
      ? { dtype: 'F32', shape: e.shape, data: new Float32Array(copy) }
      : { dtype: 'I64', shape: e.shape, data: new BigInt64Array(copy) };
    out.set(name, t);
  }
  return out;
}

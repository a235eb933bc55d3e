import { readFileSync } from 'node:fs';
import type { TensorMap } from '../../src/types.ts';

interface IndexEntry {
  dtype: string;
  shape: number[];
  /** Absolute byte range of the tensor's raw little-endian data inside the .pth zip. */
  data_offsets: [number, number];
}

/**
 * Reads every float32 tensor of a torch .pth through its `<file>.index.json` (fixture side-car), without a zip or
 * pickle parser, so model tests do not depend on the checkpoint reader under test elsewhere.
 */
export function readPthByIndex(pthFile: string, indexFile = `${pthFile}.index.json`): TensorMap {
  const bytes = readFileSync(pthFile);
  const index = JSON.parse(readFileSync(indexFile, 'utf8')) as { tensors: Record<string, IndexEntry> };
  const out: TensorMap = new Map();
  for (const [name, e] of Object.entries(index.tensors)) {
    if (e.dtype !== 'F32') throw new Error(`${name}: dtype ${e.dtype} is not supported by the index reader`);
    const [start, end] = e.data_offsets;
    const n = e.shape.reduce((a, b) => a * b, 1);
    if (end - start !== 4 * n) throw new Error(`${name}: ${end - start} bytes for shape [${e.shape}]`);
    // Copy: the offsets are only 64-byte aligned within the file, not within Node's pooled Buffer.
    const data = new Float32Array(n);
    new Uint8Array(data.buffer).set(bytes.subarray(start, end));
    out.set(name, { dtype: 'F32', shape: e.shape, data });
  }
  return out;
}

import { inflateSync } from 'fflate';
import { CheckpointError } from '../errors.ts';

/**
 * Minimal zip reader over the central directory. torch.save writes STORED entries at 64-byte-aligned offsets,
 * so entries are returned as views into the original buffer (no copy of a 600 MB checkpoint). DEFLATE entries
 * (a re-zipped checkpoint) are inflated. ZIP64 records are honoured because large checkpoints use them.
 */
/** A zip entry: its bytes when asked for (inflated then), and the uncompressed size its header declares. */
export type ZipEntry = (() => Uint8Array) & { readonly size: number };

/** DEFLATE expands at most 1032:1; an entry claiming more is corrupt or built to exhaust memory. */
const MAX_DEFLATE_RATIO = 1032;

export function readZipEntries(bytes: Uint8Array, where: string): Map<string, ZipEntry> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 22 || dv.getUint32(0, true) !== 0x04034b50) {
    throw new CheckpointError(where, bytes.byteLength === 0 ? 'file is empty' : 'not a zip archive (a PyTorch .pth written by torch.save is a zip file)');
  }
  let eocd = -1;
  for (let i = bytes.byteLength - 22; i >= Math.max(0, bytes.byteLength - 22 - 65535); i--) {
    if (dv.getUint32(i, true) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new CheckpointError(where, 'zip end-of-central-directory record not found (file truncated?)');
  let count = dv.getUint16(eocd + 10, true);
  let cdOffset = dv.getUint32(eocd + 16, true);
  if (cdOffset === 0xffffffff || count === 0xffff) {
    const loc = eocd - 20;
    if (loc < 0 || dv.getUint32(loc, true) !== 0x07064b50) throw new CheckpointError(where, 'ZIP64 locator missing');
    const z64 = Number(dv.getBigUint64(loc + 8, true));
    if (z64 + 56 > bytes.byteLength || dv.getUint32(z64, true) !== 0x06064b50) throw new CheckpointError(where, 'ZIP64 record missing');
    count = Number(dv.getBigUint64(z64 + 32, true));
    cdOffset = Number(dv.getBigUint64(z64 + 48, true));
  }
  if (cdOffset >= bytes.byteLength) throw new CheckpointError(where, 'zip central directory lies past the end of the file (truncated?)');
  const entries = new Map<string, ZipEntry>();
  let p = cdOffset;
  const dec = new TextDecoder();
  for (let n = 0; n < count; n++) {
    if (p + 46 > bytes.byteLength || dv.getUint32(p, true) !== 0x02014b50) throw new CheckpointError(where, 'corrupt zip central directory');
    const method = dv.getUint16(p + 10, true);
    let csize = dv.getUint32(p + 20, true);
    let usize = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let local = dv.getUint32(p + 42, true);
    const name = dec.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // ZIP64 extended information: only the fields whose 32-bit value is saturated are present, in this order.
    let e = p + 46 + nameLen;
    const eEnd = e + extraLen;
    while (e + 4 <= eEnd) {
      const id = dv.getUint16(e, true);
      const size = dv.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        if (usize === 0xffffffff) { usize = Number(dv.getBigUint64(q, true)); q += 8; }
        if (csize === 0xffffffff) { csize = Number(dv.getBigUint64(q, true)); q += 8; }
        if (local === 0xffffffff) { local = Number(dv.getBigUint64(q, true)); }
      }
      e += 4 + size;
    }
    p = eEnd + commentLen;
    const entryLocal = local;
    const c = csize;
    const u = usize;
    if (method === 8 && u > c * MAX_DEFLATE_RATIO + 64) {
      throw new CheckpointError(where, `zip entry ${name} claims ${u} bytes from ${c} compressed, more than DEFLATE can produce (corrupt, or a zip bomb)`);
    }
    entries.set(name, Object.assign(() => {
      if (entryLocal + 30 > bytes.byteLength) throw new CheckpointError(where, `zip entry ${name} lies past the end of the file (truncated?)`);
      if (dv.getUint32(entryLocal, true) !== 0x04034b50) throw new CheckpointError(where, `zip entry ${name} has no local header (corrupt zip)`);
      const start = entryLocal + 30 + dv.getUint16(entryLocal + 26, true) + dv.getUint16(entryLocal + 28, true);
      if (start + c > bytes.byteLength) throw new CheckpointError(where, `zip entry ${name} is cut off (file truncated?)`);
      const raw = bytes.subarray(start, start + c);
      if (method === 0) return raw;
      if (method === 8) return inflateSync(raw, { out: new Uint8Array(u) });
      throw new CheckpointError(where, `zip entry ${name} uses unsupported compression method ${method}`);
    }, { size: u }));
  }
  return entries;
}

/** Byte builders for synthetic PNG/JPEG test files (chunks with real CRCs, EXIF blocks, APP1 segments). */
import { zlibSync } from 'fflate';

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const v of b) c = CRC_TABLE[(c ^ v) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function concat(...parts: ArrayLike<number>[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export function pngChunk(type: string, data: ArrayLike<number>): Uint8Array {
  const body = concat(Array.from(type, (c) => c.charCodeAt(0)), data);
  const out = new Uint8Array(body.length + 8);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  out.set(body, 4);
  dv.setUint32(body.length + 4, crc32(body));
  return out;
}

export const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** A PNG from raw (unfiltered) rows: filter byte 0 is prepended to each. `before`/`after` go around IDAT. */
export function rawPng(o: {
  width: number; height: number; depth: number; colorType: number; rows: number[][]; interlace?: number;
  before?: Uint8Array[]; after?: Uint8Array[];
}): Uint8Array {
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, o.width);
  dv.setUint32(4, o.height);
  ihdr.set([o.depth, o.colorType, 0, 0, o.interlace ?? 0], 8);
  const idat = zlibSync(concat(...o.rows.map((r) => [0, ...r])));
  return concat(PNG_SIGNATURE, pngChunk('IHDR', ihdr), ...(o.before ?? []), pngChunk('IDAT', idat), ...(o.after ?? []), pngChunk('IEND', []));
}

/** Big-endian 16-bit samples as bytes. */
export const be16 = (...v: number[]) => v.flatMap((x) => [x >> 8, x & 0xff]);

/** A minimal TIFF block with one IFD0 entry: Orientation (type SHORT, or LONG when asked). */
export function exifTiff(orientation: number, order: 'II' | 'MM', type: 3 | 4 = 3): Uint8Array {
  const b = new Uint8Array(26);
  const dv = new DataView(b.buffer);
  const le = order === 'II';
  b.set(order === 'II' ? [0x49, 0x49] : [0x4d, 0x4d]);
  dv.setUint16(2, 42, le);
  dv.setUint32(4, 8, le);
  dv.setUint16(8, 1, le);
  dv.setUint16(10, 0x0112, le);
  dv.setUint16(12, type, le);
  dv.setUint32(14, 1, le);
  if (type === 3) dv.setUint16(18, orientation, le); else dv.setUint32(18, orientation, le);
  dv.setUint32(22, 0, le); // no next IFD
  return b;
}

/** Inserts an APP1 "Exif\0\0" segment right after a JPEG's SOI marker. */
export function withJpegExif(jpg: Uint8Array, tiff: Uint8Array): Uint8Array {
  const len = 2 + 6 + tiff.length;
  return concat([0xff, 0xd8, 0xff, 0xe1, len >> 8, len & 0xff], [0x45, 0x78, 0x69, 0x66, 0, 0], tiff, jpg.subarray(2));
}

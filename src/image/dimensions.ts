/**
 * Width and height from a PNG or JPEG header, without decoding: servers refuse an oversize image before spending
 * its decoded size in memory (a small compressed file can hold hundreds of megapixels).
 */
export function imageDimensions(b: Uint8Array): { width: number; height: number } | undefined {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  // PNG: signature, then IHDR (width, height as big-endian uint32 at 16 and 20).
  if (b.length >= 24 && b[0] === 0x89 && b[1] === 0x50 && b[12] === 0x49 && b[13] === 0x48 && b[14] === 0x44 && b[15] === 0x52) {
    return { width: dv.getUint32(16), height: dv.getUint32(20) };
  }
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  // JPEG: walk the marker segments to the first start-of-frame (SOF0–SOF15 except DHT C4, JPG C8, DAC CC).
  for (let p = 2; p + 9 < b.length;) {
    if (b[p] !== 0xff) return undefined;
    const m = b[p + 1];
    if (m === 0xff) { p++; continue; } // fill byte
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) { p += 2; continue; } // markers without a length
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) return { height: dv.getUint16(p + 5), width: dv.getUint16(p + 7) };
    if (m === 0xda || m === 0xd9) return undefined; // scan data or end before any frame header
    p += 2 + dv.getUint16(p + 2);
  }
  return undefined;
}

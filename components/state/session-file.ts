import { decodeCocoRle, encodeCocoRle, InputError } from '../../src/web.ts';
import { readSettings, type ImageEntry, type ReviewRegion, type SessionSettings } from './session.ts';

/**
 * Session export / import as one JSON file: every image's decisions (masks as COCO RLE), the settings, and the
 * user's image bytes (base64) so the file restores the session on another machine. Raw maps are left out: the
 * model recomputes them.
 */
export const SESSION_FORMAT = 'inp-workspace-session';

export interface SessionFile {
  format: typeof SESSION_FORMAT;
  version: 1;
  settings: SessionSettings;
  images: Array<Omit<ImageEntry, 'regions'> & { regions: Array<Omit<ReviewRegion, 'mask'> & { mask: { size: [number, number]; counts: number[] } }> }>;
  files: Record<string, string>;
}

function toBase64(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(s: string, where: string): Uint8Array {
  let bin: string;
  try { bin = atob(s); } catch { throw new InputError(where, 'is not valid base64'); }
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

export function buildSessionFile(order: readonly string[], entries: ReadonlyMap<string, ImageEntry>, settings: SessionSettings, files: ReadonlyMap<string, Uint8Array>): SessionFile {
  return {
    format: SESSION_FORMAT, version: 1, settings,
    images: order.map((id) => {
      const e = entries.get(id)!;
      return { ...e, regions: e.regions.map((r) => ({ ...r, mask: encodeCocoRle(r.mask) })) };
    }),
    files: Object.fromEntries([...files].map(([id, b]) => [id, toBase64(b)])),
  };
}

export function parseSessionFile(text: string, where: string): { order: string[]; entries: Map<string, ImageEntry>; settings: SessionSettings; files: Map<string, Uint8Array> } {
  let doc: SessionFile;
  try { doc = JSON.parse(text); } catch (e) { throw new InputError(where, `is not JSON (${(e as Error).message})`); }
  if (!doc || doc.format !== SESSION_FORMAT || doc.version !== 1 || !Array.isArray(doc.images)) {
    throw new InputError(where, `is not a workspace session file (expected "format": "${SESSION_FORMAT}", "version": 1)`);
  }
  const entries = new Map<string, ImageEntry>();
  doc.images.forEach((img, i) => {
    if (typeof img.id !== 'string' || !img.source || !Array.isArray(img.regions)) throw new InputError(`${where}: images[${i}]`, 'needs id, source and regions');
    if (img.sensitivity !== undefined && !(typeof img.sensitivity === 'number' && img.sensitivity >= 0 && img.sensitivity <= 1)) {
      throw new InputError(`${where}: images[${i}].sensitivity`, `must be a number from 0 to 1, got ${JSON.stringify(img.sensitivity)}`);
    }
    entries.set(img.id, {
      ...img,
      regions: img.regions.map((r, k) => {
        const m = decodeCocoRle(r.mask, `${where}: images[${i}].regions[${k}].mask`);
        return { ...r, mask: { width: m.width, height: m.height, data: m.data } };
      }),
    });
  });
  const files = new Map(Object.entries(doc.files ?? {}).map(([id, b]) => [id, fromBase64(b, `${where}: files.${id}`)] as const));
  return { order: doc.images.map((i) => i.id), entries, settings: readSettings(doc.settings), files };
}

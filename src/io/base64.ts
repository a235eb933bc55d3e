import { InputError } from '../errors.ts';

/**
 * Strict base64 and `data:` URIs for images sent inline (CVAT's `image` field, Label Studio tasks with data URIs).
 * Buffer/atob skip characters they do not know, so a mangled payload would decode to other bytes and fail later as
 * "not an image"; checking the alphabet and padding first names the real fault.
 */

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Standard base64 (whitespace and line breaks allowed, as MIME encoders write them) → bytes. */
export function decodeBase64(text: unknown, where: string): Uint8Array {
  if (typeof text !== 'string') throw new InputError(where, `must be a base64 string, got ${text === null ? 'null' : typeof text}`);
  const s = text.replace(/\s+/g, '');
  if (s === '') throw new InputError(where, 'is empty: expected base64-encoded image bytes');
  const bad = s.search(/[^A-Za-z0-9+/=]/);
  if (bad >= 0) throw new InputError(where, `is not base64: character ${JSON.stringify(s[bad])} at position ${bad}`);
  if (!BASE64.test(s) || s.length % 4 === 1) throw new InputError(where, `is not valid base64 (length ${s.length} or "=" padding is wrong)`);
  return new Uint8Array(Buffer.from(s, 'base64'));
}

/** `data:[<type>][;base64],<payload>` → bytes; percent-encoded payloads are decoded too. */
export function decodeDataUri(uri: string, where: string): Uint8Array {
  const comma = uri.indexOf(',');
  if (!uri.startsWith('data:') || comma < 0) throw new InputError(where, 'is not a data: URI (data:<type>;base64,<payload>)');
  const meta = uri.slice(5, comma);
  const payload = uri.slice(comma + 1);
  if (/;base64$/i.test(meta)) return decodeBase64(payload, where);
  try {
    return new Uint8Array(Buffer.from(decodeURIComponent(payload), 'latin1'));
  } catch {
    throw new InputError(where, 'data: URI payload has a malformed %-escape');
  }
}

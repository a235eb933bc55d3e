import { InputError } from '../errors.ts';

/**
 * A small non-validating XML reader for annotation files (CVAT for images 1.1): elements, attributes, text, CDATA,
 * comments and processing instructions, the five predefined entities and character references. Document type
 * declarations with an internal subset are refused (no entity expansion). Pure JS, so it runs in the browser too,
 * where there is no dependency to add for it.
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** Concatenated character data directly inside the element. */
  text: string;
  /** 1-based line of the start tag, for error messages. */
  line: number;
}

const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;
const MAX_DEPTH = 64;
const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

export function parseXml(text: string, where: string): XmlElement {
  let i = 0;
  const lineAt = (p: number) => text.slice(0, p).split('\n').length;
  const fail = (msg: string, p = i): never => { throw new InputError(`${where}:${lineAt(p)}`, `malformed XML: ${msg}`); };
  const decode = (s: string, at: number) => s.replace(/&([^;&\s]*);?/g, (m, ref: string) => {
    if (!m.endsWith(';')) fail(`"&" must start an entity like &amp;`, at);
    if (ref in ENTITIES) return ENTITIES[ref];
    const code = /^#x[0-9a-fA-F]+$/.test(ref) ? parseInt(ref.slice(2), 16) : /^#[0-9]+$/.test(ref) ? parseInt(ref.slice(1), 10) : NaN;
    if (!(code >= 0 && code <= 0x10ffff)) fail(`unknown entity &${ref};`, at);
    return String.fromCodePoint(code);
  });
  const name = (): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(text);
    if (!m) fail(`expected a name, found ${JSON.stringify(text.slice(i, i + 10))}`);
    i += m![0].length;
    return m![0];
  };
  const skipSpace = () => { while (i < text.length && /\s/.test(text[i])) i++; };
  const skipPast = (end: string, what: string) => {
    const j = text.indexOf(end, i);
    if (j < 0) fail(`unterminated ${what}`);
    const body = text.slice(i, j);
    i = j + end.length;
    return body;
  };
  /** Comments, processing instructions and a DOCTYPE; returns false at anything else. */
  const misc = (): boolean => {
    if (text.startsWith('<!--', i)) { i += 4; skipPast('-->', 'comment'); return true; }
    if (text.startsWith('<?', i)) { i += 2; skipPast('?>', 'processing instruction'); return true; }
    if (text.startsWith('<!DOCTYPE', i)) {
      const body = skipPast('>', 'DOCTYPE');
      if (body.includes('[')) fail('document type declarations with an internal subset are not supported');
      return true;
    }
    return false;
  };

  if (text.charCodeAt(0) === 0xfeff) i = 1;
  for (skipSpace(); misc(); skipSpace());
  if (text[i] !== '<') fail('expected the root element');
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  while (i < text.length) {
    if (stack.length === 0 && root) {
      skipSpace();
      if (i >= text.length) break;
      if (!misc()) fail('content after the root element');
      continue;
    }
    const top = stack[stack.length - 1];
    if (text.startsWith('<![CDATA[', i)) {
      if (!top) fail('CDATA outside the root element');
      i += 9;
      top.text += skipPast(']]>', 'CDATA section');
    } else if (text.startsWith('</', i)) {
      const at = i;
      i += 2;
      const n = name();
      skipSpace();
      if (text[i] !== '>') fail(`expected ">" to close </${n}`);
      i++;
      if (!top || top.name !== n) fail(top ? `</${n}> closes <${top.name}> (line ${top.line})` : `</${n}> without a start tag`, at);
      stack.pop();
    } else if (misc()) {
      // a comment or processing instruction inside the root: nothing to keep
    } else if (text[i] === '<') {
      const at = i;
      i++;
      const el: XmlElement = { name: name(), attrs: {}, children: [], text: '', line: lineAt(at) };
      for (;;) {
        const before = i;
        skipSpace();
        if (text.startsWith('/>', i)) { i += 2; break; }
        if (text[i] === '>') {
          i++;
          // CVAT's XML nests four levels; thousands would only overflow whatever walks the tree next.
          if (stack.length >= MAX_DEPTH) fail(`elements nested deeper than ${MAX_DEPTH}`);
          stack.push(el);
          break;
        }
        if (i === before) fail(`expected whitespace, ">" or "/>" in <${el.name}>`);
        const an = name();
        skipSpace();
        if (text[i] !== '=') fail(`attribute ${an} of <${el.name}> needs a value`);
        i++;
        skipSpace();
        const q = text[i];
        if (q !== '"' && q !== "'") fail(`the value of attribute ${an} must be quoted`);
        i++;
        const vAt = i;
        const raw = skipPast(q, `value of attribute ${an}`);
        if (raw.includes('<')) fail(`"<" in the value of attribute ${an}`, vAt);
        if (an in el.attrs) fail(`attribute ${an} appears twice in <${el.name}>`, at);
        el.attrs[an] = decode(raw, vAt);
      }
      if (top) top.children.push(el);
      else root = el;
    } else {
      const j = text.indexOf('<', i);
      const end = j < 0 ? text.length : j;
      const raw = text.slice(i, end);
      if (top) top.text += decode(raw, i);
      else if (raw.trim()) fail('text outside the root element');
      i = end;
    }
  }
  if (stack.length) fail(`<${stack[stack.length - 1].name}> (line ${stack[stack.length - 1].line}) is never closed`);
  return root!;
}

/** Escapes text or an attribute value (double-quoted). */
export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

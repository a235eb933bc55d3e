import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

const FILE = 'BENCHMARKS.md';

/** Replaces (or appends) the block between <!-- name --> markers in BENCHMARKS.md, atomically. */
export function replaceSection(name: string, body: string): void {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const text = existsSync(FILE) ? readFileSync(FILE, 'utf8') : '# Benchmarks\n';
  const block = `${start}\n${body}\n${end}`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  const next = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(`${FILE}.tmp`, next);
  renameSync(`${FILE}.tmp`, FILE);
}

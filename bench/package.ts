/**
 * npm run bench:package — what a user downloads and installs: the tarball `npm pack` makes (files, packed and
 * unpacked size) and a fresh project's node_modules after `npm install <tarball>`, with and without the optional
 * dependencies (onnxruntime-node), largest packages listed. Into BENCHMARKS.md (section package).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { replaceSection } from './report.ts';

const work = mkdtempSync(path.join(os.tmpdir(), 'inp-package-'));
const mb = (n: number) => (n / 1e6).toFixed(1);
const du = (dir: string) => Number(execFileSync('du', ['-sk', dir], { encoding: 'utf8' }).split('\t')[0]) * 1024;

try {
  execFileSync('npm', ['run', 'build'], { stdio: ['ignore', 'pipe', 'pipe'] }); // .npmrc's ignore-scripts: pack runs no prepare
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', work], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
  const tarball = path.join(work, packed.filename);
  const installs: Array<{ label: string; size: number; top: string[] }> = [];
  for (const [label, extra] of [['default (optional dependencies included)', []], ['--omit=optional', ['--omit=optional']]] as const) {
    const app = path.join(work, label.startsWith('default') ? 'full' : 'lean');
    mkdirSync(app);
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', ...extra, tarball], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
    const nm = path.join(app, 'node_modules');
    const pkgs = readdirSync(nm).flatMap((d) => (d.startsWith('@') ? readdirSync(path.join(nm, d)).map((e) => `${d}/${e}`) : d.startsWith('.') ? [] : [d]));
    const sized = pkgs.map((p) => ({ p, s: du(path.join(nm, p)) })).sort((a, b) => b.s - a.s).slice(0, 5);
    installs.push({ label, size: du(nm), top: sized.map((x) => `${x.p} ${mb(x.s)}`) });
  }
  replaceSection('package', [
    '## Package size (issue J)',
    '',
    `\`npm run bench:package\` · ${new Date().toISOString().slice(0, 10)} · Node ${process.version} · load ${os.loadavg()[0].toFixed(2)}`,
    '',
    '| what | size |',
    '|---|---|',
    `| tarball (\`npm pack\`) | ${packed.entryCount} files, ${mb(statSync(tarball).size)} MB packed, ${mb(packed.unpackedSize)} MB unpacked |`,
    ...installs.map((i) => `| installed, ${i.label} | ${mb(i.size)} MB; largest: ${i.top.join(', ')} (MB) |`),
  ].join('\n'));
  console.log('wrote BENCHMARKS.md section package');
} finally {
  rmSync(work, { recursive: true, force: true });
}

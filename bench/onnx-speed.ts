/**
 * ms per image of our ONNX export on onnxruntime-node (bench/onnx-rows.ts), written into BENCHMARKS.md between
 * <!-- speed-onnx --> markers unless --no-write.
 * Run: npx tsx bench/onnx-speed.ts [--sizes small,base] [--inputs 224,392] [--batches 1,8] [--reps 5] [--no-write]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { OFFICIAL_ONNX_MS, ONNX_TABLE_HEADER, onnxSpeedRows } from './onnx-rows.ts';
import { replaceSection } from './report.ts';

const { values } = parseArgs({ options: {
  sizes: { type: 'string', default: 'small,base' }, inputs: { type: 'string', default: '224,392' },
  batches: { type: 'string', default: '1,8' }, reps: { type: 'string', default: '5' }, 'no-write': { type: 'boolean' },
} });
const reps = Number(values.reps);
const rows = await onnxSpeedRows({
  sizes: values.sizes!.split(',') as Array<'small' | 'base' | 'large'>, inputs: values.inputs!.split(',').map(Number),
  batches: values.batches!.split(',').map(Number), reps,
});

if (!values['no-write']) {
  const official = Object.entries(OFFICIAL_ONNX_MS).map(([k, ms]) => `ViT-${k[0].toUpperCase()} ${k.split(':')[1]} ${ms} ms`).join(', ');
  replaceSection('speed-onnx', [
    `Command: \`npx tsx bench/onnx-speed.ts\` · ${new Date().toISOString().slice(0, 10)} · ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}) · random weights, median and min of ${reps} after a warm-up, ms per image, whole model incl. the 256×256 map chain and the zero-shot branch. Target: no slower than 1.1× the official model's ONNX on the same runtime (batch 1: ${official}).`,
    '',
    ...ONNX_TABLE_HEADER,
    ...rows,
  ].join('\n'));
}

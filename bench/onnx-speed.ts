/**
 * ms per image of our ONNX export on onnxruntime-node (bench/onnx-rows.ts), written into BENCHMARKS.md between
 * <!-- speed-onnx --> markers unless --no-write.
 * Run: npx tsx bench/onnx-speed.ts [--sizes small,base] [--inputs 224,392] [--batches 1,8] [--reps 5] [--no-write]
 */
import { parseArgs } from 'node:util';
import { onnxSection, onnxSpeedRows } from './onnx-rows.ts';
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

if (!values['no-write']) replaceSection('speed-onnx', onnxSection(rows, reps, 'npx tsx bench/onnx-speed.ts'));

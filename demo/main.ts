/**
 * The page `npm start` opens: the annotator's workspace on a built-in sample set (procedural industrial surfaces
 * with synthetic defects, generated in the worker, fully offline). Users can add their own images or folders.
 * URL parameters (tests and benchmarks use them): backends=wasm,cpu forces the backend order; surface=fabric picks
 * the sample surface; size=N the sample side; input=N the model input side; db=NAME the IndexedDB session;
 * engine=onnx predicts with onnxruntime-web (engine=tfjs: tfjs), trying providers=webgpu,wasm in that order.
 */
import '../components/workspace.ts';
import type { SampleImage } from '../components/workspace.ts';
import type { WebOnnxProvider } from '../src/platform/web/onnx.ts';
import type { BackendName } from '../src/runtime/backend.ts';
import type { EngineName } from '../src/pipeline/model-protocol.ts';
import { SURFACE_KINDS, type SurfaceKind } from '../src/samples/surfaces.ts';

const q = new URLSearchParams(location.search);
const surface = (SURFACE_KINDS.includes(q.get('surface') as SurfaceKind) ? q.get('surface') : 'fabric') as SurfaceKind;
const size = Number(q.get('size') ?? 256);
const defects = ['scratch', 'hole', 'stain', 'crack'] as const;

const sample = (defect: (typeof defects)[number] | null, seed: number): SampleImage => {
  const label = defect ? `${defect}-${seed}` : `good-${String(seed).padStart(2, '0')}`;
  return { id: `${surface}-${label}`, name: `${surface}-${label}.png`, source: { kind: 'sample', surface, defect, seed, size } };
};

/** 12 normal and 8 defective samples, interleaved (two normals, one defect) so a reviewer meets both early. */
function sampleSet(): SampleImage[] {
  const normals = Array.from({ length: 12 }, (_, i) => sample(null, i));
  const bad = defects.flatMap((k, j) => [sample(k, 1000 + 2 * j), sample(k, 1001 + 2 * j)]);
  const out: SampleImage[] = [];
  while (normals.length || bad.length) out.push(...normals.splice(0, 2), ...bad.splice(0, 1));
  return out;
}

const ws = document.createElement('inp-workspace');
ws.samples = sampleSet();
ws.backends = q.get('backends')?.split(',') as BackendName[] | undefined;
ws.inputSize = Number(q.get('input') ?? 224);
ws.dbName = `inp-workspace-${q.get('db') ?? surface}`;
ws.engine = (q.get('engine') ?? undefined) as EngineName | undefined;
ws.providers = q.get('providers')?.split(',') as WebOnnxProvider[] | undefined;
document.body.append(ws);

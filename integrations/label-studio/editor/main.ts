import { encodePng } from '../../../src/image/encode-png.ts';
import type { BackendName } from '../../../src/runtime/backend.ts';
import { makeSample, SURFACE_KINDS, type SurfaceKind } from '../../../src/samples/surfaces.ts';
import { mountEditor } from './editor.ts';
import { ModelSession } from '../../../components/state/model-session.ts';

/**
 * The demo host: a few procedural normal samples build the kNN memory bank, and one defective sample is the Label
 * Studio task. Query: ?surface=<kind>&normals=<n>&backend=<webgpu|webgl|wasm|cpu>. A real host passes its own task
 * (image URL) and normals to mountEditor the same way (README: "Embedding the Label Studio editor").
 */
const q = new URLSearchParams(location.search);
const surface = (q.get('surface') ?? 'brushed-metal') as SurfaceKind;
const normals = Number(q.get('normals') ?? 4);
const backend = q.get('backend') as BackendName | null;
const progress = document.getElementById('progress')!;

function fail(message: string): void {
  progress.textContent = message;
  progress.classList.add('error');
}

async function run(): Promise<void> {
  if (!SURFACE_KINDS.includes(surface)) throw new Error(`?surface must be one of ${SURFACE_KINDS.join(', ')}`);
  if (!Number.isInteger(normals) || normals < 2) throw new Error('?normals must be an integer ≥ 2 (half of them calibrate the other half)');
  const session = await ModelSession.start(backend ? [backend] : undefined);
  progress.textContent = `Building the memory bank from ${normals} normal samples (${session.backend})…`;
  const ids: string[] = [];
  for (let seed = 1; seed <= normals; seed++) {
    const id = `normal-${seed}`;
    await session.register({ id, name: `${surface}-normal-${seed}.png`, source: { kind: 'sample', surface, defect: null, seed, size: 256 } });
    ids.push(id);
  }
  await session.fitNormals(ids);
  const sample = makeSample(surface, 'scratch', 1000, 256);
  const png = encodePng({ ...sample.image, channels: 3 });
  const image = URL.createObjectURL(new Blob([png.buffer as ArrayBuffer], { type: 'image/png' }));
  progress.textContent = 'Proposing regions and starting Label Studio…';
  await mountEditor(document.getElementById('label-studio')!, document.getElementById('panel')!, {
    session,
    task: { id: 1, image, name: sample.name },
    onPrediction: (p) => { document.getElementById('prediction')!.textContent = JSON.stringify(p); },
    onSubmit: (s) => { document.getElementById('submitted')!.textContent = JSON.stringify({ taskId: s.taskId, status: s.status, result: s.result }); },
  });
  progress.textContent = `Ready · ${session.info?.description ?? ''}`;
  document.body.dataset.ready = 'true';
}

run().catch((e: Error) => fail(`Error: ${e.message}`));

import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../../src/errors.ts';
import { parseCocoDocument } from '../../src/export/coco-document.ts';
import { decodeImage, decodeMask } from '../../src/image/decode.ts';
import { buildModelFolder } from '../../src/model-folder/manifest.ts';
import { runRefineJob } from '../../src/pipeline/refine-job.ts';
import { packageEncoderWeights } from '../../src/node.ts';
import { loadModelFromPath, writeModelFolder } from '../../src/platform/node/model-folder.ts';
import { useNodeBackend } from '../../src/platform/node/webgpu.ts';
import type { DefectSample } from '../../src/refine/pseudo-anomaly.ts';
import { REFINE_DEFAULTS, REFINE_UPDATE_STEPS } from '../../src/refine/train-head.ts';
import type { RgbImage } from '../../src/types.ts';
import { choice, intFlag, parse, required } from './args.ts';
import { collectImages, readInput } from './images.ts';

/** Exit status when the refined map lost to the raw one on held-out data and nothing was written. */
export const EXIT_NOT_BETTER = 4;

/** Images of a masks folder: `<stem>_mask.png` beside `<stem>.png|jpg` (there or in `imagesDir`). */
async function masksFromFolder(dir: string, imagesDir: string): Promise<DefectSample[]> {
  const names = (await readdir(dir)).filter((n) => /_mask\.png$/i.test(n)).sort();
  if (!names.length) throw new InputError(dir, 'holds no <name>_mask.png files');
  const out: DefectSample[] = [];
  for (const n of names) {
    const stem = n.replace(/_mask\.png$/i, '');
    const candidates = ['.png', '.jpg', '.jpeg'].map((e) => path.join(imagesDir, stem + e));
    const found = (await Promise.all(candidates.map((c) => stat(c).then(() => c, () => undefined)))).find(Boolean);
    if (!found) throw new InputError(path.join(dir, n), `has no image ${stem}.png/.jpg in ${imagesDir}`);
    const maskFile = path.join(dir, n);
    const mask = decodeMask(await readInput(maskFile), maskFile);
    out.push({ image: decodeImage(await readInput(found), found), mask: { ...mask, data: mask.data.map((v) => (v > 127 ? 1 : 0)) } });
  }
  return out;
}

/** The images of a COCO file with their regions' union as the defect mask; pending (undecided) proposals are left out. */
async function masksFromCoco(file: string, imagesDir: string): Promise<DefectSample[]> {
  const images = parseCocoDocument(await readFile(file, 'utf8').catch(() => { throw new InputError(file, 'cannot read'); }), file);
  const out: DefectSample[] = [];
  for (const im of images) {
    const regions = im.regions.filter((r) => r.review !== 'pending');
    if (!regions.length) continue;
    const at = path.join(imagesDir, im.fileName);
    const image = decodeImage(await readInput(at), at);
    if (image.width !== im.width || image.height !== im.height) throw new InputError(at, `is ${image.width}×${image.height}, ${file} says ${im.width}×${im.height}`);
    const data = new Uint8Array(im.width * im.height);
    for (const r of regions) r.mask.data.forEach((v, i) => { if (v) data[i] = 1; });
    out.push({ image, mask: { width: im.width, height: im.height, data } });
  }
  if (!out.length) throw new InputError(file, 'has no image with an accepted, edited or drawn region');
  return out;
}

export const command = {
  summary: 'Refine a model\'s map with a segmentation head (INP-Former++ residual learning) trained on pseudo-anomalies of normal images and, if given, accepted defect masks; keeps it only if it is better on held-out images.',
  usage: `-m <model-dir> -d <normal images or folders…> -o <model-dir> [--masks <folder of <name>_mask.png | COCO .json>] [--images <folder of the masks' images>] [--steps N (${REFINE_DEFAULTS.steps}; ${REFINE_UPDATE_STEPS} to update a model's own head)] [--from-scratch] [--seed 0] [--keep-worse] [--name NAME] [--backend wasm|cpu]`,
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, {
      model: { type: 'string', short: 'm' }, data: { type: 'string', short: 'd', multiple: true }, output: { type: 'string', short: 'o' },
      masks: { type: 'string' }, images: { type: 'string' }, steps: { type: 'string' }, seed: { type: 'string' },
      'keep-worse': { type: 'boolean' }, 'from-scratch': { type: 'boolean' }, name: { type: 'string' }, backend: { type: 'string' },
    });
    const modelPath = required(values.model, 'model (-m)');
    const out = required(values.output, 'output (-o)');
    const steps = values.steps === undefined ? undefined : intFlag(values.steps, 'steps', REFINE_DEFAULTS.steps, 1);
    const seed = intFlag(values.seed, 'seed', 0, 0);
    const backend = choice(values.backend, 'backend', ['wasm', 'cpu'] as const, 'wasm');
    const files = await collectImages([...(values.data ?? []), ...positionals]);
    const normals: RgbImage[] = [];
    for (const f of files) normals.push(decodeImage(await readInput(f), f));
    let defects: DefectSample[] = [];
    if (values.masks) {
      const s = await stat(values.masks).catch(() => undefined);
      if (!s) throw new InputError(values.masks, 'not found');
      defects = s.isDirectory()
        ? await masksFromFolder(values.masks, values.images ?? values.masks)
        : await masksFromCoco(values.masks, values.images ?? path.dirname(values.masks));
    }

    await useNodeBackend(backend);
    const opened = await loadModelFromPath(modelPath);
    const content = opened.content;
    if (content.kind === 'encoder') throw new InputError(modelPath, 'is an encoder only: refine a kNN detector (fit-knn) or a trained INP-Former');
    const encoderWeights = await packageEncoderWeights(content);
    const pre = opened.preprocess ?? (() => { throw new InputError(modelPath, 'is a checkpoint: refine a model folder (it records the preprocessing)'); })();
    let last = 0;
    const job = await runRefineJob({
      content, preprocess: pre, where: modelPath, normals, defects, ...(encoderWeights ? { encoderWeights } : {}), fromScratch: !!values['from-scratch'],
      train: {
        ...(steps ? { steps } : {}), seed,
        onProgress: (step, n, loss) => {
          if (step === n || performance.now() - last > 2000) { last = performance.now(); process.stderr.write(`refine: step ${step}/${n} loss ${loss.toFixed(4)}\n`); }
        },
      },
    });
    const s = job.selection;
    console.error(`refine: ${job.summary}`);
    if (s.keep === 'current' && !values['keep-worse']) {
      console.error(`refine: the refined map is not better on held-out images (it needs a higher pixel AP and an image AUROC at most 1 point lower); nothing written. Keep using ${modelPath}, or write it anyway with --keep-worse.`);
      process.exitCode = EXIT_NOT_BETTER;
      return;
    }
    const built = await buildModelFolder(job.content, {
      name: values.name ?? `${opened.name}-refined`, preprocess: pre,
      ...(opened.manifest?.source ? { source: opened.manifest.source } : {}),
    });
    await writeModelFolder(out, built);
    const dropped = opened.manifest?.calibration ? '; the base model\'s saved calibration was for its raw map and is not carried over (annotate with --threshold-from <normals>)' : '';
    const t = job.content.refine!.config.training;
    console.error(`refine: ${normals.length} normals, ${defects.length} accepted masks, ${content.refine && !values['from-scratch'] ? `updated the model's head (${t.steps} steps in all)` : `${t.steps} steps`} in ${job.seconds.train.toFixed(0)} s (+${job.seconds.validate.toFixed(0)} s validation)${s.keep === 'current' ? ', written with --keep-worse' : ''} -> ${out}${dropped}`);
  },
};

import { stat } from 'node:fs/promises';
import path from 'node:path';
import { imageMap } from '../../src/pipeline/image-map.ts';
import { proposeRegions, toAnnotatedImage } from '../../src/annotate/proposals.ts';
import { InputError } from '../../src/errors.ts';
import type { AnnotatedImage, ExportSource } from '../../src/export/annotations.ts';
import { EXPORT_FILES } from '../../src/platform/node/export-files.ts';
import { buildCocoDocument } from '../../src/export/coco-document.ts';
import { buildCvatXml } from '../../src/export/cvat-xml.ts';
import { buildLabelStudioTasks } from '../../src/export/labelstudio-tasks.ts';
import { buildMaskPngs } from '../../src/export/png-masks.ts';
import { decodeImage } from '../../src/image/decode.ts';
import { ensureOutputDir, removeStaleTemporaries, writeFilesTogether } from '../../src/platform/node/files.ts';
import { validatePreprocess } from '../../src/preprocess/preprocess.ts';
import { manualCalibration } from '../../src/threshold/strategies.ts';
import type { AnomalyMap, Calibration } from '../../src/types.ts';
import { choice, parse, required } from './args.ts';
import { loadDetector, startBackend } from './detector-io.ts';
import { collectImages, inputFailures, readInput, stemsOf } from './images.ts';
import { configOverrides, CONFIG_FLAGS, REFINE_FLAGS, REFINE_USAGE } from './model-flags.ts';
import { preprocessFromFlags, PREPROCESS_FLAGS } from './predict.ts';
import { JOURNAL_DIR, openJournal } from './journal.ts';
import { progressReporter } from './progress.ts';
import { calibrateFromFiles, thresholdFromFlags, THRESHOLD_FLAGS } from './threshold-flags.ts';

const FORMATS = ['coco', 'png', 'labelstudio', 'cvat'] as const;
type Format = (typeof FORMATS)[number];

export const command = {
  summary: 'Batch pre-annotation: anomaly maps → defect masks, exported as COCO JSON, PNG masks, Label Studio tasks and CVAT XML.',
  usage: `-m <model> <images or folders…> -o <out-dir> [--threshold-from <normals dir> [--quantile Q] | --threshold X] [--format coco,png,labelstudio,cvat] [--min-area N] [--region-level L|off] [--fill-holes] [--smooth R] [--polygons] [--label NAME] [--protocol official|annotate] [--resize N --crop N] [--map-size N] [--backend onnx|wasm|cpu|webgpu] ${REFINE_USAGE}`,
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, {
      model: { type: 'string', short: 'm' }, output: { type: 'string', short: 'o' }, ...THRESHOLD_FLAGS, format: { type: 'string' },
      polygons: { type: 'boolean' }, label: { type: 'string' }, backend: { type: 'string' }, ...PREPROCESS_FLAGS, ...CONFIG_FLAGS, ...REFINE_FLAGS,
    });
    const modelPath = required(values.model, 'model (-m)');
    const outDir = required(values.output, 'output (-o)');
    const { manual, quantile: q, normals = [], options } = await thresholdFromFlags(values);
    const formats = (values.format ?? FORMATS.join(',')).split(',').map((f) => choice(f.trim(), 'format', FORMATS, 'coco')) as Format[];
    const files = await collectImages(positionals);
    stemsOf(files);

    const backend = await startBackend(values.backend, 'annotate');
    const { detector, name, calibration: saved } = await loadDetector(modelPath, configOverrides(values), { onnx: backend.onnx, raw: !!values['no-refine'] });
    try {
      const pre = preprocessFromFlags(values, detector.preprocess);
      validatePreprocess(pre, detector.inputMultiple > 1 ? detector.inputMultiple : undefined);
      const mapOf = async (f: string) => imageMap(detector, decodeImage(await readInput(f), f), pre, f);

      let calibration: Calibration | undefined;
      if (normals.length) {
        calibration = await calibrateFromFiles(detector, normals, pre, q, 'annotate');
      } else if (manual === undefined) {
        calibration = saved;
        if (!calibration) throw new InputError(modelPath, 'has no saved calibration: give --threshold X (raw map units, as predict --save-maps writes) or --threshold-from <normal images>');
      }

      // With --threshold the range is the maps' own (known once all are computed), so the maps are kept until then.
      const pending: Array<{ file: string; map: AnomalyMap; score: number }> = [];
      const images: AnnotatedImage[] = [];
      const progress = progressReporter('annotate', files.length);
      const failures = inputFailures('annotate');
      // With the threshold known up front each image's proposals are final at once: journal them, so a rerun after a
      // crash does only the rest (journal.ts). A raw --threshold needs every map first, so it has no journal.
      const journal = calibration
        ? await openJournal(outDir, { model: path.resolve(modelPath), modelTime: (await stat(modelPath)).mtimeMs, name, calibration, options, pre })
        : undefined;
      let resumed = 0;
      for (const [i, f] of files.entries()) {
        const done = await journal?.get(f);
        if (done) {
          images.push(done);
          resumed++;
          progress.tick(i + 1, path.basename(f));
          continue;
        }
        const r = await failures.attempt(f, () => mapOf(f));
        progress.tick(i + 1, path.basename(f));
        if (!r) continue;
        if (calibration) {
          const image = toAnnotatedImage(path.basename(f), proposeRegions(r.map, r.score, calibration, options));
          images.push(image);
          await journal!.put(f, image);
        } else pending.push({ file: f, ...r });
      }
      progress.end();
      if (resumed) console.error(`annotate: resumed ${resumed} image(s) from an interrupted run's journal (${path.join(outDir, JOURNAL_DIR)})`);
      if (failures.failed.length === files.length) await failures.settle(files.length, outDir);
      if (!calibration) {
        let min = Infinity;
        let max = -Infinity;
        for (const p of pending) for (const v of p.map.data) { if (v < min) min = v; if (v > max) max = v; }
        if (!(manual! >= min && manual! < max)) {
          throw new InputError('--threshold', `${manual} is outside the maps' score range [${min}, ${max}): it would mark every pixel or none`);
        }
        calibration = manualCalibration(manual!, { min, max });
        for (const p of pending) images.push(toAnnotatedImage(path.basename(p.file), proposeRegions(p.map, p.score, calibration, { imageGate: false, ...options })));
      }

      const maskSize = pre.protocol === 'annotate' ? 'image' : `map ${pre.mapSize}×${pre.mapSize}`;
      const source: ExportSource = { model: name, calibration, maskSize, ...(values.label ? { label: values.label } : {}) };
      // Every document is built in memory, then all are written together (temporaries renamed into place at the
      // end): a run killed on the way leaves the previous outputs, not a new coco.json beside an old cvat.xml.
      const docs: Array<[string, Uint8Array | string]> = [];
      if (formats.includes('coco')) docs.push([EXPORT_FILES.coco, `${JSON.stringify(buildCocoDocument(images, source, { polygons: !!values.polygons }))}\n`]);
      if (formats.includes('png')) docs.push(...buildMaskPngs(images));
      if (formats.includes('labelstudio')) docs.push([EXPORT_FILES.labelstudio, `${JSON.stringify(buildLabelStudioTasks(images, source))}\n`]);
      if (formats.includes('cvat')) docs.push([EXPORT_FILES.cvat, buildCvatXml(images, source)]);
      await ensureOutputDir(outDir);
      if (formats.includes('png')) await ensureOutputDir(path.join(outDir, 'masks'));
      await writeFilesTogether(docs.map(([name, data]) => [path.join(outDir, name), data] as const));
      const written = docs.map(([name]) => name);
      const status = await failures.settle(files.length, outDir);
      await journal?.remove();
      for (const dir of [outDir, path.join(outDir, 'masks')]) await removeStaleTemporaries(dir);
      const withMasks = images.filter((im) => im.regions.length).length;
      console.error(`annotate: ${images.length} images, ${withMasks} with proposals (${images.reduce((n, im) => n + im.regions.length, 0)} regions), threshold ${calibration.pixelThreshold.toPrecision(6)} (${calibration.method}), masks at ${maskSize} size -> ${outDir}: ${written.length} files`);
      return status;
    } finally {
      detector.dispose();
    }
  },
};

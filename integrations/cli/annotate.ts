import path from 'node:path';
import { imageMap } from '../../src/annotate/image-map.ts';
import { proposeRegions, toAnnotatedImage, type ProposalOptions } from '../../src/annotate/proposals.ts';
import { InputError } from '../../src/errors.ts';
import type { AnnotatedImage, ExportSource } from '../../src/export/annotations.ts';
import { EXPORT_FILES, writeCocoFile, writeCvatFile, writeLabelStudioFile, writeMaskPngs } from '../../src/export/files.ts';
import { decodeImage } from '../../src/image/decode.ts';
import { ensureOutputDir } from '../../src/platform/node-files.ts';
import { validatePreprocess } from '../../src/preprocess/preprocess.ts';
import { useBackend } from '../../src/runtime/backend.ts';
import { calibrateFromNormals, manualCalibration } from '../../src/threshold/strategies.ts';
import type { AnomalyMap, Calibration } from '../../src/types.ts';
import { choice, intFlag, numFlag, parse, required, UsageError } from './args.ts';
import { loadDetector } from './detector-io.ts';
import { collectImages, readInput, stemsOf } from './images.ts';
import { configOverrides, CONFIG_FLAGS } from './model-flags.ts';
import { preprocessFromFlags, PREPROCESS_FLAGS } from './predict.ts';
import { progressReporter } from './progress.ts';

const FORMATS = ['coco', 'png', 'labelstudio', 'cvat'] as const;
type Format = (typeof FORMATS)[number];

export const command = {
  summary: 'Batch pre-annotation: anomaly maps → defect masks, exported as COCO JSON, PNG masks, Label Studio tasks and CVAT XML.',
  usage: '-m <model> <images or folders…> -o <out-dir> [--threshold-from <normals dir> [--quantile Q] | --threshold X] [--format coco,png,labelstudio,cvat] [--min-area N] [--fill-holes] [--smooth R] [--polygons] [--label NAME] [--protocol official|annotate] [--resize N --crop N] [--map-size N] [--backend wasm|cpu|webgpu]',
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, {
      model: { type: 'string', short: 'm' }, output: { type: 'string', short: 'o' }, 'threshold-from': { type: 'string' }, quantile: { type: 'string' },
      threshold: { type: 'string' }, format: { type: 'string' }, 'min-area': { type: 'string' }, 'fill-holes': { type: 'boolean' }, smooth: { type: 'string' },
      polygons: { type: 'boolean' }, label: { type: 'string' }, backend: { type: 'string' }, ...PREPROCESS_FLAGS, ...CONFIG_FLAGS,
    });
    const modelPath = required(values.model, 'model (-m)');
    const outDir = required(values.output, 'output (-o)');
    if (values.threshold !== undefined && values['threshold-from'] !== undefined) throw new UsageError('give --threshold or --threshold-from, not both');
    const manual = numFlag(values.threshold, 'threshold');
    const q = numFlag(values.quantile, 'quantile');
    const formats = (values.format ?? FORMATS.join(',')).split(',').map((f) => choice(f.trim(), 'format', FORMATS, 'coco')) as Format[];
    const options: ProposalOptions = {
      ...(values['min-area'] ? { minArea: intFlag(values['min-area'], 'min-area', 1) } : {}),
      ...(values.smooth ? { smoothRadius: intFlag(values.smooth, 'smooth', 1) } : {}),
      ...(values['fill-holes'] ? { fillHoles: true } : {}),
    };
    const backend = choice(values.backend, 'backend', ['wasm', 'cpu', 'webgpu'] as const, 'wasm');
    const files = await collectImages(positionals);
    stemsOf(files);
    const normals = values['threshold-from'] ? await collectImages([values['threshold-from']]) : [];

    await useBackend(backend);
    const { detector, name, calibration: saved } = await loadDetector(modelPath, configOverrides(values));
    try {
      const pre = preprocessFromFlags(values, detector.preprocess);
      validatePreprocess(pre, detector.inputMultiple > 1 ? detector.inputMultiple : undefined);
      const mapOf = async (f: string) => imageMap(detector, decodeImage(await readInput(f), f), pre, f);

      let calibration: Calibration | undefined;
      if (normals.length) {
        const progress = progressReporter('annotate: normals', normals.length);
        const maps: AnomalyMap[] = [];
        const scores: number[] = [];
        for (const [i, f] of normals.entries()) {
          const r = await mapOf(f);
          maps.push(r.map);
          scores.push(r.score);
          progress.tick(i + 1, path.basename(f));
        }
        progress.end();
        calibration = calibrateFromNormals(maps, scores, q === undefined ? {} : { quantile: q });
      } else if (manual === undefined) {
        calibration = saved;
        if (!calibration) throw new InputError(modelPath, 'has no saved calibration: give --threshold X (raw map units, as predict --save-maps writes) or --threshold-from <normal images>');
      }

      // With --threshold the range is the maps' own (known once all are computed), so the maps are kept until then.
      const pending: Array<{ file: string; map: AnomalyMap; score: number }> = [];
      const images: AnnotatedImage[] = [];
      const progress = progressReporter('annotate', files.length);
      for (const [i, f] of files.entries()) {
        const r = await mapOf(f);
        if (calibration) images.push(toAnnotatedImage(path.basename(f), proposeRegions(r.map, r.score, calibration, options)));
        else pending.push({ file: f, ...r });
        progress.tick(i + 1, path.basename(f));
      }
      progress.end();
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
      await ensureOutputDir(outDir);
      const written: string[] = [];
      if (formats.includes('coco')) { await writeCocoFile(path.join(outDir, EXPORT_FILES.coco), images, source, { polygons: !!values.polygons }); written.push(EXPORT_FILES.coco); }
      if (formats.includes('png')) written.push(...(await writeMaskPngs(outDir, images)).map((f) => path.relative(outDir, f)));
      if (formats.includes('labelstudio')) { await writeLabelStudioFile(path.join(outDir, EXPORT_FILES.labelstudio), images, source); written.push(EXPORT_FILES.labelstudio); }
      if (formats.includes('cvat')) { await writeCvatFile(path.join(outDir, EXPORT_FILES.cvat), images, source); written.push(EXPORT_FILES.cvat); }
      const withMasks = images.filter((im) => im.regions.length).length;
      console.error(`annotate: ${images.length} images, ${withMasks} with proposals (${images.reduce((n, im) => n + im.regions.length, 0)} regions), threshold ${calibration.pixelThreshold.toPrecision(6)} (${calibration.method}), masks at ${maskSize} size -> ${outDir}: ${written.length} files`);
    } finally {
      detector.dispose();
    }
  },
};

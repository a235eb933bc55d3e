import { InputError } from '../../src/errors.ts';
import { cnnPreprocess } from '../../src/encoder/cnn-config.ts';
import { exportInpFormerOnnx } from '../../src/onnx/export-inp-former.ts';
import { exportKnnOnnx } from '../../src/onnx/export-knn.ts';
import { OPSET } from '../../src/onnx/graph.ts';
import { loadModelFromPath } from '../../src/platform/node/model-folder.ts';
import { writeFileAtomic } from '../../src/platform/node/files.ts';
import { inputSize, OFFICIAL_PREPROCESS } from '../../src/preprocess/preprocess.ts';
import { intFlag, parse, required, UsageError } from './args.ts';
import { packageEncoderWeights } from './detector-io.ts';
import { configOverrides, CONFIG_FLAGS } from './model-flags.ts';

export const command = {
  summary: 'Export an INP-Former or a kNN model to ONNX (opset 17) for onnxruntime: normalised image batch in, anomaly maps and scores out.',
  usage: '-m <model-dir|checkpoint> -o <model.onnx> [--size N] [--map-size N] [config overrides: --heads N --encoder-heads N --target-layers 2,3,...]',
  async run(argv: string[]) {
    const { values, positionals } = parse(argv, {
      model: { type: 'string', short: 'm' }, output: { type: 'string', short: 'o' }, size: { type: 'string' }, 'map-size': { type: 'string' },
      ...CONFIG_FLAGS,
    });
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const modelPath = required(values.model, 'model (-m)');
    const out = required(values.output, 'output (-o)');
    const resolved = await loadModelFromPath(modelPath, configOverrides(values));
    const c = resolved.content;
    if (c.kind === 'encoder') throw new InputError(modelPath, 'is an encoder only (no INP-Former head or kNN bank): nothing to export');
    // The model's own input size (crop, or the squash size under annotate) unless --size asks for another.
    const pre = resolved.preprocess ?? (c.kind === 'knn' ? cnnPreprocess(c.knn.encoder.kind) : OFFICIAL_PREPROCESS);
    const size = intFlag(values.size, 'size', inputSize(pre));
    const mapSize = intFlag(values['map-size'], 'map-size', pre.mapSize);
    const encoderWeights = await packageEncoderWeights(c);
    const opts = {
      inputSize: [size, size] as [number, number], mapSize: [mapSize, mapSize] as [number, number], name: resolved.name,
      // The stored preprocessing describes this input only at the model's own size.
      ...(size === inputSize(pre) ? { preprocess: pre } : {}),
      ...(encoderWeights ? { encoderWeights } : {}),
    };
    const bytes = c.kind === 'knn' ? exportKnnOnnx(c.knn, c.tensors, opts, modelPath, c.refine) : exportInpFormerOnnx(c.config, c.tensors, opts, modelPath, c.refine);
    await writeFileAtomic(out, bytes);
    const outputs = c.kind === 'knn' ? `${c.refine ? 'refined ' : ''}anomaly_map [N,1,${mapSize},${mapSize}], image_score [N]` : `anomaly_map/zs_anomaly_map [N,1,${mapSize},${mapSize}], image_score/zs_image_score [N]`;
    console.error(`exported ${modelPath} -> ${out} (${(bytes.byteLength / 2 ** 20).toFixed(1)} MiB, opset ${OPSET}): input image [N,3,${size},${size}] normalised; outputs ${outputs}`);
  },
};

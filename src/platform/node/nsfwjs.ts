import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { InputError } from '../../errors.ts';
import { loadNsfwjsBundle, type NsfwjsBundle } from '../../encoder/nsfwjs-weights.ts';

/**
 * The installed nsfwjs package's model folder (`dist/models/<model>`). Resolved through Node's module resolution
 * from this file, so it finds whichever copy the project depends on; the package's `exports` map hides
 * package.json, hence the step from its CommonJS entry (`dist/cjs/index.js`).
 */
export function nsfwjsModelDir(model = 'mobilenet_v2'): string {
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve('nsfwjs');
  } catch {
    throw new InputError('nsfwjs', 'the npm package is not installed (npm install nsfwjs@4.4.0)');
  }
  const dir = path.resolve(path.dirname(entry), '..', 'models', model);
  if (!existsSync(path.join(dir, 'model.min.js'))) throw new InputError(dir, `no model.min.js: this nsfwjs version does not ship "${model}"`);
  return dir;
}

/** Reads nsfwjs's MobileNetV2 (or another of its bundled models) from the installed package. */
export function readNsfwjsBundle(model = 'mobilenet_v2'): Promise<NsfwjsBundle> {
  const dir = nsfwjsModelDir(model);
  const read = (f: string) => {
    const file = path.join(dir, f);
    if (!existsSync(file)) throw new InputError(file, 'weight shard named by the model manifest is missing');
    return readFileSync(file, 'utf8');
  };
  return loadNsfwjsBundle(read('model.min.js'), read, path.join(dir, 'model.min.js'));
}

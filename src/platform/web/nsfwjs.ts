// Browser only: nsfwjs's MobileNetV2 bundle served from the installed package (never copied into the repo), read
// with fetch and parsed as data by loadNsfwjsBundle, so the page works offline and runs no code from it.
import modelUrl from '../../../node_modules/nsfwjs/dist/models/mobilenet_v2/model.min.js?url';
import shardUrl from '../../../node_modules/nsfwjs/dist/models/mobilenet_v2/group1-shard1of1.min.js?url';
import { loadNsfwjsBundle, nsfwjsTensors } from '../../encoder/nsfwjs-weights.ts';
import { InputError } from '../../errors.ts';
import type { TensorMap } from '../../types.ts';

const SHARDS: Record<string, string> = { 'group1-shard1of1.min.js': shardUrl };

async function text(url: string): Promise<string> {
  const r = await fetch(url);
  if (!r.ok) throw new InputError(url, `could not be fetched (HTTP ${r.status})`);
  return r.text();
}

export async function fetchNsfwjsWeights(): Promise<TensorMap> {
  const where = 'nsfwjs/mobilenet_v2/model.min.js';
  const bundle = await loadNsfwjsBundle(await text(modelUrl), (f) => {
    if (!SHARDS[f]) throw new InputError(where, `names shard ${f}, which this nsfwjs version does not ship`);
    return text(SHARDS[f]);
  }, where);
  return nsfwjsTensors(bundle, where);
}

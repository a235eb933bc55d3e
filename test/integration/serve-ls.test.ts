import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServedModel } from '../../src/pipeline/served-model.ts';
import { encodeLabelStudioRle } from '../../src/export/labelstudio-rle.ts';
import { parseLabelStudioTasks } from '../../src/export/labelstudio-tasks.ts';
import { encodePng } from '../../src/image/encode-png.ts';
import { closeServer, listen } from '../../src/platform/node/http.ts';
import { makeSampleSet, type Sample } from '../../src/samples/surfaces.ts';
import { loadServedModel } from '../../integrations/cli/serve-common.ts';
import { createLabelStudioBackend } from '../../integrations/label-studio/server.ts';
import { createTrainer } from '../../integrations/label-studio/train.ts';
import { cli } from '../helpers/cli.ts';

/** integrations.md §1.2's labelling config. */
const CONFIG = `<View>
  <Image name="image" value="$image"/>
  <BrushLabels name="defect" toName="image">
    <Label value="Defect" background="#ff0000"/>
  </BrushLabels>
</View>`;
const KEY = 'test-api-key';
/** A JWT-shaped token (the stand-in does not check signatures; Label Studio does). */
const jwt = (payload: object) => ['{"alg":"HS256","typ":"JWT"}', JSON.stringify(payload)].map((s) => Buffer.from(s).toString('base64url')).join('.') + '.c2ln';
/** A Personal Access Token: a JWT refresh token. */
const PAT = jwt({ token_type: 'refresh', exp: 4102444800, user_id: 1 });
let refreshes = 0;
const issued = new Set<string>();
let revokeNext = false;

/** A §1.1 /predict body, as Label Studio's MLApi.make_predictions sends it. */
const predictBody = (tasks: { id: number; image: string }[]) => ({
  tasks: tasks.map((t) => ({ id: t.id, data: { image: t.image }, annotations: [], predictions: [] })),
  model_version: 'inp-former-0.1.0', project: '3.1718000000', label_config: CONFIG,
  params: { login: null, password: null, context: null },
});

const union = (regions: { mask: { data: Uint8Array } }[], n: number) => {
  const u = new Uint8Array(n);
  for (const r of regions) r.mask.data.forEach((v, i) => { if (v) u[i] = 1; });
  return u;
};

describe('serve-ls: Label Studio ML backend over HTTP', () => {
  let root: string;
  let served: ServedModel;
  let backend: http.Server;
  let url: string;
  let ls: http.Server;
  let lsUrl: string;
  let other: http.Server;
  let otherUrl: string;
  let otherHits = 0;
  /** A stand-in cloud storage host (another origin) serving presigned URLs, and the Authorization headers it got. */
  let storage: http.Server;
  let storageUrl: string;
  const storageAuth: string[] = [];
  const files = new Map<string, Uint8Array>();
  const samples: Sample[] = [];
  /** annotate's masks (union per image), the reference /predict must reproduce. */
  const expected = new Map<string, Uint8Array>();

  const post = async (p: string, body: unknown, headers: Record<string, string> = {}, base = url) => {
    const r = await fetch(`${base}${p}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: r.status, json: await r.json() as any };
  };
  const decodeResult = (prediction: any, name: string) => {
    const [img] = parseLabelStudioTasks(JSON.stringify({ data: { image: name }, predictions: [prediction] }), name, { fromName: 'defect' });
    const s = samples.find((x) => `${x.name}.png` === name)!;
    return union(img.regions, s.image.width * s.image.height);
  };

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'inp-serve-ls-'));
    const all = makeSampleSet('fabric', { normals: 16, perDefect: 2, size: 96, defects: ['hole', 'stain'] });
    const dirs = { train: path.join(root, 'train'), normals: path.join(root, 'normals'), images: path.join(root, 'images') };
    Object.values(dirs).forEach((d) => mkdirSync(d));
    const normals = all.filter((s) => !s.defect);
    normals.forEach((s, i) => writeFileSync(path.join(i < 8 ? dirs.train : i < 12 ? dirs.normals : dirs.images, `${s.name}.png`), encodePng({ ...s.image, channels: 3 })));
    for (const s of [...normals.slice(12), ...all.filter((x) => x.defect)]) {
      const png = encodePng({ ...s.image, channels: 3 });
      writeFileSync(path.join(dirs.images, `${s.name}.png`), png);
      files.set(`${s.name}.png`, png);
      samples.push(s);
    }
    // Training images (normals 0–11) are served too, for the webhook.
    normals.slice(0, 12).forEach((s) => { files.set(`${s.name}.png`, encodePng({ ...s.image, channels: 3 })); samples.push(s); });
    const model = path.join(root, 'model');
    expect((await cli('fit-knn', '-e', 'nsfwjs-mobilenetv2', '-d', dirs.train, '-o', model, '--size', '96', '--coreset', '1')).code).toBe(0);
    const out = path.join(root, 'annotate');
    expect((await cli('annotate', '-m', model, dirs.images, '-o', out, '--threshold-from', dirs.normals, '--protocol', 'annotate', '--format', 'labelstudio')).code).toBe(0);
    for (const t of parseLabelStudioTasks(readFileSync(path.join(out, 'labelstudio.json'), 'utf8'), 'labelstudio.json')) {
      const s = samples.find((x) => `${x.name}.png` === path.basename(t.fileName))!;
      expected.set(path.basename(t.fileName), union(t.regions, s.image.width * s.image.height));
    }

    // A stand-in Label Studio (written from its SDK and docs, not Label Studio itself): uploads at /data/upload/3/<file>
    // and /storage-data/uploaded/?filepath=upload/3/<file>, for a legacy `Token` key or a `Bearer` access token that
    // POST /api/token/refresh/ gives for the Personal Access Token; a token it has revoked gets 401.
    ls = http.createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'POST' && u.pathname === '/api/token/refresh/') {
        let body = '';
        req.on('data', (c) => { body += c; });
        req.on('end', () => {
          refreshes++;
          if (JSON.parse(body).refresh !== PAT) { res.writeHead(401).end('{"detail":"Token is invalid"}'); return; }
          const access = jwt({ token_type: 'access', exp: Math.floor(Date.now() / 1000) + 3600, n: refreshes });
          issued.add(access);
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access }));
        });
        return;
      }
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (bearer && revokeNext) { revokeNext = false; issued.delete(bearer); }
      if (req.headers.authorization !== `Token ${KEY}` && !(bearer && issued.has(bearer))) { res.writeHead(401).end('{"detail":"Authentication credentials were not provided."}'); return; }
      // Cloud storage: s3:// is presigned (303 to the stand-in storage host), gs:// proxied through Label Studio (200).
      const presign = /^\/tasks\/(\d+)\/presign\/$/.exec(u.pathname);
      if (presign) {
        const uri = Buffer.from(u.searchParams.get('fileuri') ?? '', 'base64url').toString('utf8');
        const cloud = /^(s3|gs):\/\/bucket\/(.+)$/.exec(uri);
        if (!cloud || !files.has(cloud[2])) { res.writeHead(404).end(); return; }
        if (cloud[1] === 'gs') { res.writeHead(200, { 'content-type': 'image/png' }).end(files.get(cloud[2])); return; }
        res.writeHead(303, { location: `${storageUrl}/bucket/${encodeURIComponent(cloud[2])}?X-Amz-Signature=abc` }).end();
        return;
      }
      const name = decodeURIComponent(u.pathname === '/storage-data/uploaded/' ? (u.searchParams.get('filepath') ?? '').replace(/^upload\/3\//, '') : u.pathname.replace(/^\/data\/upload\/3\//, ''));
      const bytes = files.get(name);
      if (!bytes) { res.writeHead(404).end('not found'); return; }
      res.writeHead(200, { 'content-type': 'image/png' }).end(bytes);
    });
    lsUrl = (await listen(ls, 0, '127.0.0.1')).url;
    other = http.createServer((_, res) => { otherHits++; res.writeHead(200).end(files.values().next().value); });
    otherUrl = (await listen(other, 0, '127.0.0.1')).url;
    storage = http.createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      storageAuth.push(req.headers.authorization ?? '');
      const bytes = u.searchParams.get('X-Amz-Signature') === 'abc' ? files.get(decodeURIComponent(u.pathname.replace(/^\/bucket\//, ''))) : undefined;
      if (!bytes) { res.writeHead(403).end(); return; }
      res.writeHead(200, { 'content-type': 'image/png' }).end(bytes);
    });
    storageUrl = (await listen(storage, 0, '127.0.0.1')).url;

    const loaded = await loadServedModel({ model, 'threshold-from': dirs.normals });
    served = loaded.model;
    ({ server: backend } = createLabelStudioBackend({
      model: served, images: { labelStudioUrl: lsUrl, apiKey: KEY, timeoutMs: 10_000, maxBytes: 2 ** 20 },
      maxBodyBytes: 256 * 1024, requestTimeoutMs: 30_000, maxPixels: 1_000_000, maxTasks: 64, maxQueue: 32, log: () => {},
      train: createTrainer({ modelPath: model, overrides: {}, outDir: path.join(root, 'versions'), serve: served, normalsFiles: loaded.normalsFiles!, refineSteps: 20 }),
    }));
    url = (await listen(backend, 0, '127.0.0.1')).url;
  });

  afterAll(async () => {
    await Promise.all([backend, ls, other, storage].filter(Boolean).map(closeServer));
    served?.detector.dispose();
  });

  it('answers /health and /setup with the model version', async () => {
    const h = await (await fetch(`${url}/health`)).json() as any;
    expect(h).toMatchObject({ status: 'UP', model_class: 'InpFormerAnomaly', model_version: 'knn-nsfwjs-mobilenetv2' });
    const s = await post('/setup', { project: '3.1718000000', schema: CONFIG, hostname: lsUrl, access_token: KEY, model_version: '', extra_params: null });
    expect(s).toEqual({ status: 200, json: { model_version: 'knn-nsfwjs-mobilenetv2' } });
  });

  it('/predict returns, per task and in order, brush results that decode to annotate\'s masks', async () => {
    const names = [...expected.keys()];
    const r = await post('/predict', predictBody(names.map((n, i) => ({ id: 12 + i, image: `/data/upload/3/${n}` }))));
    expect(r.status).toBe(200);
    expect(r.json.results).toHaveLength(names.length);
    let withRegions = 0;
    r.json.results.forEach((p: any, i: number) => {
      expect(p.model_version).toBe('knn-nsfwjs-mobilenetv2');
      expect(typeof p.score).toBe('number');
      for (const res of p.result) {
        expect(res).toMatchObject({ type: 'brushlabels', from_name: 'defect', to_name: 'image', original_width: 96, original_height: 96, value: { format: 'rle', brushlabels: ['Defect'] } });
        expect(res.score).toBeGreaterThan(0.5);
      }
      withRegions += p.result.length > 0 ? 1 : 0;
      expect(decodeResult(p, names[i])).toEqual(expected.get(names[i]));
    });
    expect(withRegions).toBeGreaterThan(0);
  });

  it('answers in the project\'s mask control (BitmaskLabels; Brush with Labels), decoding to the same masks; params.sensitivity moves the cut', async () => {
    const names = [...expected.keys()];
    const tasks = names.map((n, i) => ({ id: 40 + i, image: `/data/upload/3/${n}` }));
    const BITMASK = '<View><Image name="img" value="$picture" smoothing="false"/><BitmaskLabels name="mask" toName="img"><Label value="Scratch"/></BitmaskLabels></View>';
    const PAIRED = '<View><Image name="img" value="$image"/><Labels name="kind" toName="img"><Label value="Crack"/></Labels><Brush name="paint" toName="img"/></View>';
    const bitmask = await post('/predict', { ...predictBody([]), project: '7.1', label_config: BITMASK, tasks: tasks.map((t) => ({ id: t.id, data: { picture: t.image } })) });
    expect(bitmask.status).toBe(200);
    const paired = await post('/predict', { ...predictBody(tasks), project: '8.1', label_config: PAIRED });
    expect(paired.status).toBe(200);
    names.forEach((name, i) => {
      const b = bitmask.json.results[i];
      for (const res of b.result) {
        expect(res).toMatchObject({ type: 'bitmasklabels', from_name: 'mask', to_name: 'img', value: { bitmasklabels: ['Scratch'] } });
        expect(res.value.imageDataURL).toMatch(/^data:image\/png;base64,/);
      }
      const s = samples.find((x) => `${x.name}.png` === name)!;
      const [bi] = parseLabelStudioTasks(JSON.stringify({ data: { picture: name }, predictions: [b] }), name, { fromName: 'mask', dataKey: 'picture' });
      expect(union(bi.regions, s.image.width * s.image.height)).toEqual(expected.get(name));
      // Brush + Labels: per region one brush and one labels result with its id; read back as one region with its label.
      const p = paired.json.results[i];
      expect(p.result.map((r: any) => r.type)).toEqual(p.result.map((_: unknown, k: number) => (k % 2 ? 'labels' : 'brush')));
      for (let k = 0; k < p.result.length; k += 2) {
        expect(p.result[k]).toMatchObject({ from_name: 'paint', to_name: 'img' });
        expect(p.result[k + 1]).toMatchObject({ id: p.result[k].id, from_name: 'kind', value: { labels: ['Crack'] } });
      }
      const [pi] = parseLabelStudioTasks(JSON.stringify({ data: { image: name }, predictions: [p] }), name, { fromName: 'paint', labelsName: 'kind' });
      expect(pi.regions).toHaveLength(p.result.length / 2);
      for (const r of pi.regions) expect(r.label).toBe('Crack');
      expect(union(pi.regions, s.image.width * s.image.height)).toEqual(expected.get(name));
    });
    // A per-request sensitivity: 0.5 is the model's own cut, a lower one marks fewer pixels, a bad one is refused by name.
    const at = async (sensitivity: unknown) => post('/predict', { ...predictBody(tasks), params: { context: null, sensitivity } });
    const same = await at(0.5);
    names.forEach((name, i) => expect(decodeResult(same.json.results[i], name)).toEqual(expected.get(name)));
    const marked = (r: any) => names.reduce((n, name, i) => n + decodeResult(r.json.results[i], name).reduce((a: number, v: number) => a + v, 0), 0);
    expect(marked(await at(0.2))).toBeLessThan(marked(same));
    const bad = await at('high');
    expect(bad.status).toBe(400);
    expect(bad.json.error ?? JSON.stringify(bad.json)).toMatch(/params\.sensitivity/);
  });

  it('accepts inline data: URIs, and 20 concurrent /predict calls all answer correctly', async () => {
    const names = [...expected.keys()];
    const calls = Array.from({ length: 20 }, (_, i) => {
      const n = names[i % names.length];
      const image = i % 2 ? `data:image/png;base64,${Buffer.from(files.get(n)!).toString('base64')}` : `/data/upload/3/${n}`;
      return post('/predict', predictBody([{ id: i, image }])).then((r) => ({ r, n }));
    });
    for (const { r, n } of await Promise.all(calls)) {
      expect(r.status).toBe(200);
      expect(decodeResult(r.json.results[0], n)).toEqual(expected.get(n));
    }
  });

  it('refuses bad requests with clear 4xx errors and keeps serving', async () => {
    let r = await post('/predict', '{"tasks": [');
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/not valid JSON/);
    // Events the backend has no use for, known to Label Studio today or not, are acknowledged as the SDK does.
    for (const action of ['SOMETHING_ELSE', 'TASKS_CREATED', 'LABEL_LINK_CREATED']) {
      r = await post('/webhook', { action, project: { id: 3 } });
      expect(r).toEqual({ status: 200, json: { status: 'Unknown event' } });
    }
    r = await post('/predict', predictBody([{ id: 5, image: `${otherUrl}/img.png` }]));
    expect(r.status).toBe(403);
    expect(r.json.error).toMatch(/tasks\[0\] \(task 5\)\.data\.image: refusing to fetch http:\/\/127\.0\.0\.1:\d+: only images on LABEL_STUDIO_URL/);
    expect(otherHits).toBe(0);
    r = await post('/predict', predictBody([{ id: 6, image: '/data/upload/3/missing.png' }]));
    expect(r.status).toBe(422);
    expect(r.json.error).toMatch(/task 6.*Label Studio answered 404/);
    r = await post('/predict', predictBody([{ id: 7, image: 's3://bucket/missing.png' }]));
    expect(r.status).toBe(422);
    expect(r.json.error).toMatch(/task 7.*Label Studio answered 404 .*\/tasks\/7\/presign\//);
    r = await post('/predict', { ...predictBody([]), tasks: [{ data: { image: 's3://bucket/a.png' } }] });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/cloud storage URI: Label Studio presigns it per task, and this task has no id/);
    r = await post('/predict', predictBody([{ id: 7, image: 'ftp://host/a.png' }]));
    expect(r.status).toBe(400);
    r = await post('/predict', predictBody([{ id: 8, image: 'data:image/png;base64,aGVsbG8gd29ybGQ=' }]));
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/task 8.*a text file, not an image/);
    r = await post('/predict', `{"tasks": ${'['.repeat(50_000)}${']'.repeat(50_000)}}`);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/nests deeper than 64 levels/);
    r = await post('/predict', 'x'.repeat(300 * 1024));
    expect(r.status).toBe(413);
    expect(r.json.error).toMatch(/limit is 262144 bytes/);
    r = await post('/predict', { tasks: [], project: '99.1' });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/no labelling config/);
    const g = await fetch(`${url}/predict`);
    expect(g.status).toBe(405);
    // What a web page could send: a text/plain simple request (no CORS preflight), any request with its Origin, and
    // a loopback server reached under another name (DNS rebinding).
    r = await post('/webhook', { action: 'START_TRAINING', project: { id: 3 } }, { 'content-type': 'text/plain' });
    expect(r.status).toBe(415);
    expect(r.json.error).toMatch(/application\/json/);
    r = await post('/predict', predictBody([]), { origin: 'https://evil.example' });
    expect(r.status).toBe(403);
    expect(r.json.error).toMatch(/Origin https:\/\/evil\.example.*--allow-origin/);
    const rebound = await new Promise<number>((resolve, reject) => {
      const q = http.request(`${url}/health`, { headers: { host: 'evil.example:9090' } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      q.on('error', reject);
      q.end();
    });
    expect(rebound).toBe(421);
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });

  it('swaps a Personal Access Token for a Bearer access token, again when Label Studio refuses it; reads both upload URL forms', async () => {
    const { server } = createLabelStudioBackend({
      model: served, images: { labelStudioUrl: lsUrl, apiKey: PAT, timeoutMs: 5000, maxBytes: 2 ** 20 },
      maxBodyBytes: 2 ** 20, requestTimeoutMs: 30_000, maxPixels: 1_000_000, maxTasks: 4, log: () => {},
    });
    const base = (await listen(server, 0, '127.0.0.1')).url;
    try {
      const [a, b] = [...expected.keys()];
      const before = refreshes;
      let r = await post('/predict', predictBody([{ id: 1, image: `upload/3/${a}` }, { id: 2, image: `/storage-data/uploaded/?filepath=upload/3/${b}` }]), {}, base);
      expect(r.status).toBe(200);
      expect(decodeResult(r.json.results[0], a)).toEqual(expected.get(a));
      expect(decodeResult(r.json.results[1], b)).toEqual(expected.get(b));
      expect(refreshes - before).toBe(1);  // one swap, reused for the second image
      revokeNext = true;
      r = await post('/predict', predictBody([{ id: 3, image: `/data/upload/3/${a}` }]), {}, base);
      expect(r.status).toBe(200);
      expect(refreshes - before).toBe(2);  // refused once, swapped again, fetched
    } finally {
      await closeServer(server);
    }
  });

  it('reads cloud storage URIs through Label Studio\'s presign endpoint: a presigned redirect (no token sent to the storage) or proxied bytes', async () => {
    const [a, b] = [...expected.keys()];
    const before = storageAuth.length;
    const r = await post('/predict', predictBody([{ id: 11, image: `s3://bucket/${a}` }, { id: 12, image: `gs://bucket/${b}` }]));
    expect(r.status).toBe(200);
    expect(decodeResult(r.json.results[0], a)).toEqual(expected.get(a));
    expect(decodeResult(r.json.results[1], b)).toEqual(expected.get(b));
    expect(storageAuth.slice(before)).toEqual(['']);
  });

  it('uses the API key, and a wrong one is reported as such', async () => {
    const { server } = createLabelStudioBackend({
      model: served, images: { labelStudioUrl: lsUrl, apiKey: 'wrong', timeoutMs: 5000, maxBytes: 2 ** 20 },
      maxBodyBytes: 2 ** 20, requestTimeoutMs: 10_000, maxPixels: 1_000_000, maxTasks: 4, basicAuth: { user: 'ls', pass: 'pw' }, log: () => {},
    });
    const base = (await listen(server, 0, '127.0.0.1')).url;
    try {
      const auth = { authorization: `Basic ${Buffer.from('ls:pw').toString('base64')}` };
      let r = await post('/predict', predictBody([{ id: 1, image: `/data/upload/3/${[...expected.keys()][0]}` }]), {}, base);
      expect(r.status).toBe(401);
      r = await post('/predict', predictBody([{ id: 1, image: `/data/upload/3/${[...expected.keys()][0]}` }]), { authorization: `Basic ${Buffer.from('ls:nope').toString('base64')}` }, base);
      expect(r.status).toBe(401);
      expect(r.json.error).toMatch(/wrong basic auth/);
      r = await post('/predict', predictBody([{ id: 1, image: `/data/upload/3/${[...expected.keys()][0]}` }]), auth, base);
      expect(r.status).toBe(422);
      expect(r.json.error).toMatch(/answered 401.*check LABEL_STUDIO_API_KEY/);
      r = await post('/webhook', { action: 'START_TRAINING', project: { id: 3 } }, auth, base);
      expect(r.status).toBe(501);
    } finally {
      await closeServer(server);
    }
  });

  it('webhook annotations train a new model version in the background, which /predict uses if it validates better', async () => {
    const project = { id: 3, title: 'parts', label_config: CONFIG };
    const normals = samples.filter((s) => !s.defect).slice(0, 12);
    const defect = samples.find((s) => s.defect)!;
    let annotationId = 100;
    const annotate = (s: Sample, result: unknown[]) => post('/webhook', {
      action: 'ANNOTATION_CREATED', project,
      task: { id: annotationId, data: { image: `/data/upload/3/${s.name}.png` } },
      annotation: { id: annotationId++, result, was_cancelled: false, ground_truth: false },
    });
    for (const s of normals.slice(0, 3)) expect((await annotate(s, [])).status).toBe(201);
    // Every 4th normal is held out to judge the new version: 3 are not enough.
    const few = await post('/webhook', { action: 'START_TRAINING', project });
    expect(few.status).toBe(400);
    expect(few.json.error).toMatch(/has 3 normal image\(s\) .*training needs at least 4/);
    for (const s of normals.slice(3)) expect((await annotate(s, [])).status).toBe(201);
    const rle = encodeLabelStudioRle({ width: 96, height: 96, data: defect.mask });
    const r = await annotate(defect, [{
      id: 'a1', type: 'brushlabels', from_name: 'defect', to_name: 'image', original_width: 96, original_height: 96, image_rotation: 0,
      value: { format: 'rle', rle, brushlabels: ['Defect'] }, origin: 'manual',
    }]);
    expect(r).toEqual({ status: 201, json: { status: 'ok', result: { project: '3', normals: 12, defective: 1 } } });
    const t = await post('/webhook', { action: 'START_TRAINING', project });
    expect(t.status).toBe(201);
    expect(t.json.result).toMatchObject({ training: 'started', model_version: 'knn-nsfwjs-mobilenetv2.p3-v1', normals: 12, defective: 1 });
    expect((await post('/webhook', { action: 'START_TRAINING', project })).status).toBe(409);
    let state: any;
    for (let i = 0; i < 600; i++) {
      state = ((await (await fetch(`${url}/health`)).json()) as any).projects['3'];
      if (state.training !== 'running') break;
      await new Promise((res) => setTimeout(res, 250));
    }
    // Judged on the 3 held-out normals (every 4th) and the accepted defect: the better version stays in use.
    expect(state.training).toBe('idle');
    const last = state.last_training;
    expect(last).toMatchObject({ version: 'knn-nsfwjs-mobilenetv2.p3-v1', trained: { normals: 3, defects: 1, synthetic_defects: false }, previous: { normals: 3, defects: 1 } });
    const kept = last.trained.score > last.previous.score ? 'knn-nsfwjs-mobilenetv2.p3-v1' : 'knn-nsfwjs-mobilenetv2';
    expect(last.kept).toBe(kept);
    expect(state.model_version).toBe(kept);
    // The accepted mask also trained a refinement head on the new version; its folder holds it if it validated better.
    const folder = JSON.parse(readFileSync(path.join(root, 'versions', 'knn-nsfwjs-mobilenetv2.p3-v1', 'manifest.json'), 'utf8'));
    expect(last.refinement).toMatchObject({ kept: expect.any(Boolean), raw_pixel_ap: expect.any(Number), refined_pixel_ap: expect.any(Number) });
    if (last.refinement.kept) expect(last.refinement.refined_pixel_ap).toBeGreaterThan(last.refinement.raw_pixel_ap);
    if (last.refinement.kept) expect(folder.refine).toMatchObject({ training: { masks: 1, steps: 20 }, validation: { what: 'pixel AP on 3 held-out normals + 3 synthetic defects' } });
    else expect(folder.refine).toBeUndefined();
    expect(readFileSync(path.join(root, 'versions', 'knn-nsfwjs-mobilenetv2.p3-v1', 'weights.safetensors')).length).toBeGreaterThan(0);
    expect((await post('/setup', { project: '3.1718000000', schema: CONFIG })).json.model_version).toBe(kept);
    const p = await post('/predict', predictBody([{ id: 1, image: `/data/upload/3/${defect.name}.png` }]));
    expect(p.json.results[0].model_version).toBe(kept);
    expect(p.json.results[0].result.length).toBeGreaterThan(0);
    // Another project still gets the base model.
    const q = await post('/predict', { ...predictBody([{ id: 1, image: `/data/upload/3/${defect.name}.png` }]), project: '4.1' });
    expect(q.json.results[0].model_version).toBe('knn-nsfwjs-mobilenetv2');
  });
});

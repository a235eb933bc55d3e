import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cocoPolygonsToMask } from '../../src/export/coco-polygon.ts';
import { decodeCvatMask } from '../../src/export/cvat-rle.ts';
import { parseLabelStudioTasks } from '../../src/export/labelstudio-tasks.ts';
import { encodePng } from '../../src/image/encode-png.ts';
import { closeServer, listen } from '../../src/platform/node/http.ts';
import { makeSampleSet } from '../../src/samples/surfaces.ts';
import { cvatDetectorFromArgs } from '../../integrations/cli/serve-cvat.ts';
import { createCvatServer } from '../../integrations/cvat/server.ts';
import { cli } from '../helpers/cli.ts';

const SIZE = 96;

/**
 * What CVAT's server does with a detector's `mask` (lambda_manager/views.py _call_detector): run-length encode the
 * raw crop (datumaro mask_to_rle on the flat list: runs of equal values, the first run counting 0s) and append the
 * box again; the result is a CVAT mask shape's points, decoded here with our CVAT RLE reader.
 */
function cvatShapeMask(mask: number[], width: number, height: number) {
  const box = mask.slice(-4);
  const crop = mask.slice(0, -4);
  const runs: number[] = [];
  let cur = 0;
  let run = 0;
  for (const v of crop) {
    const on = v ? 1 : 0;
    if (on !== cur) { runs.push(run); run = 0; cur = on; }
    run++;
  }
  runs.push(run);
  return decodeCvatMask([...runs, ...box], width, height, 'shape');
}

const union = (masks: { data: Uint8Array }[]) => {
  const u = new Uint8Array(SIZE * SIZE);
  for (const m of masks) m.data.forEach((v, i) => { if (v) u[i] = 1; });
  return u;
};

describe('serve-cvat: CVAT detector function over HTTP', () => {
  let root: string;
  let model: string;
  let normals: string;
  let server: http.Server;
  let url: string;
  let dispose: () => void;
  const images = new Map<string, Uint8Array>();
  const expected = new Map<string, { union: Uint8Array; regions: number }>();

  const post = async (body: unknown) => {
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: r.status, json: await r.json() as any };
  };
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'inp-serve-cvat-'));
    const all = makeSampleSet('fabric', { normals: 14, perDefect: 2, size: SIZE, defects: ['hole', 'stain'] });
    const dirs = { train: path.join(root, 'train'), normals: path.join(root, 'normals'), images: path.join(root, 'images') };
    Object.values(dirs).forEach((d) => mkdirSync(d));
    all.filter((s) => !s.defect).forEach((s, i) => writeFileSync(path.join(i < 8 ? dirs.train : i < 12 ? dirs.normals : dirs.images, `${s.name}.png`), encodePng({ ...s.image, channels: 3 })));
    all.filter((s) => s.defect).forEach((s) => writeFileSync(path.join(dirs.images, `${s.name}.png`), encodePng({ ...s.image, channels: 3 })));
    normals = dirs.normals;
    model = path.join(root, 'model');
    expect((await cli('fit-knn', '-e', 'nsfwjs-mobilenetv2', '-d', dirs.train, '-o', model, '--size', '96', '--coreset', '1')).code).toBe(0);
    const out = path.join(root, 'annotate');
    expect((await cli('annotate', '-m', model, dirs.images, '-o', out, '--threshold-from', normals, '--protocol', 'annotate', '--format', 'labelstudio')).code).toBe(0);
    for (const t of parseLabelStudioTasks(readFileSync(path.join(out, 'labelstudio.json'), 'utf8'), 'labelstudio.json')) {
      const name = path.basename(t.fileName);
      images.set(name, new Uint8Array(readFileSync(path.join(dirs.images, name))));
      expected.set(name, { union: union(t.regions.map((r) => r.mask)), regions: t.regions.length });
    }
    const d = await cvatDetectorFromArgs(['-m', model, '--threshold-from', normals]);
    dispose = () => d.model.detector.dispose();
    server = createCvatServer({ detect: d.detect, info: { name: 'inp-former-anomaly', labels: [d.label], model_version: d.model.version }, maxBodyBytes: 64 * 1024, requestTimeoutMs: 30_000, log: () => {} });
    url = `${(await listen(server, 0, '127.0.0.1')).url}/`;
  });

  afterAll(async () => {
    if (server) await closeServer(server);
    dispose?.();
  });

  it('answers CVAT-shaped requests with mask shapes that CVAT\'s RLE decodes to annotate\'s masks', async () => {
    let shapes = 0;
    for (const [name, want] of expected) {
      const r = await post({ image: b64(images.get(name)!), threshold: 0.5 });
      expect(r.status).toBe(200);
      expect(r.json).toHaveLength(want.regions);
      for (const s of r.json) {
        expect(s).toMatchObject({ label: 'defect', type: 'mask', attributes: [] });
        expect(Number(s.confidence)).toBeGreaterThan(0.5);
        expect(s.mask.slice(0, -4).every((v: number) => v === 0 || v === 255)).toBe(true);
        // `points`, the outer polygon, rasterises (COCO's rule, as CVAT's converter does) to the region with its holes filled.
        const region = cvatShapeMask(s.mask, SIZE, SIZE);
        const filled = cocoPolygonsToMask([s.points], SIZE, SIZE);
        expect(s.points.length).toBeGreaterThanOrEqual(8);
        expect(region.data.every((v, i) => !v || filled.data[i])).toBe(true);
        expect(filled.data.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(region.data.reduce((a, b) => a + b, 0) * 1.2 + 4);
      }
      expect(union(r.json.map((s: any) => cvatShapeMask(s.mask, SIZE, SIZE)))).toEqual(want.union);
      shapes += r.json.length;
    }
    expect(shapes).toBeGreaterThan(0);
    const info = await (await fetch(url)).json() as any;
    expect(info).toMatchObject({ type: 'detector', labels: ['defect'] });
    expect(info.threshold).toMatch(/0\.5 = the model's calibrated threshold/);
  });

  it('maps the 0–1 threshold onto the normalised score: absent = 0.5, higher proposes a subset with higher confidence', async () => {
    const name = [...expected].find(([, e]) => e.regions > 0)![0];
    const image = b64(images.get(name)!);
    const at = async (threshold?: number) => {
      const r = await post(threshold === undefined ? { image } : { image, threshold });
      expect(r.status).toBe(200);
      return r.json as any[];
    };
    const base = await at(0.5);
    expect(await at()).toEqual(base);
    const high = await at(0.6);
    const low = await at(0.3);
    const u = (xs: any[]) => union(xs.map((s) => cvatShapeMask(s.mask, SIZE, SIZE)));
    const [ub, uh, ul] = [u(base), u(high), u(low)];
    expect(uh.every((v, i) => !v || ub[i])).toBe(true);
    expect(ub.every((v, i) => !v || ul[i])).toBe(true);
    expect(uh.reduce((a, v) => a + v, 0)).toBeLessThan(ub.reduce((a, v) => a + v, 0));
    for (const s of high) expect(Number(s.confidence)).toBeGreaterThan(0.6);
  });

  it('asks for basic auth when it is configured (BASIC_AUTH_USER / BASIC_AUTH_PASS), and refuses text/plain bodies', async () => {
    const guarded = createCvatServer({ detect: async () => [], info: { name: 'x', labels: ['defect'], model_version: 'v' }, maxBodyBytes: 1024, requestTimeoutMs: 5000, basicAuth: { user: 'cvat', pass: 'pw' }, log: () => {} });
    const at = (await listen(guarded, 0, '127.0.0.1')).url;
    try {
      const send = (headers: Record<string, string>) => fetch(at, { method: 'POST', headers, body: '{"image": ""}' });
      expect((await send({ 'content-type': 'application/json' })).status).toBe(401);
      const ok = { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('cvat:pw').toString('base64')}` };
      expect((await send(ok)).status).toBe(200);
      expect((await send({ ...ok, 'content-type': 'text/plain' })).status).toBe(415);
    } finally {
      await closeServer(guarded);
    }
  });

  it('a flood past --max-queue is refused with 503 at once, while the queued requests are answered', async () => {
    const d = await cvatDetectorFromArgs(['-m', model, '--threshold-from', normals, '--protocol', 'annotate', '--backend', 'onnx', '--max-queue', '1']);
    const busy = createCvatServer({ detect: d.detect, info: { name: 'x', labels: ['defect'], model_version: 'v' }, maxBodyBytes: 4 * 2 ** 20, requestTimeoutMs: 30_000, log: () => {} });
    const at = `${(await listen(busy, 0, '127.0.0.1')).url}/`;
    try {
      // onnxruntime-node (the default backend) runs off the event loop, so the others arrive while the model works.
      const image = b64(encodePng({ ...makeSampleSet('fabric', { normals: 1, perDefect: 0, size: 320 })[0].image, channels: 3 }));
      const replies = await Promise.all(Array.from({ length: 6 }, () => fetch(at, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image }) })));
      const codes = replies.map((r) => r.status).sort();
      expect(codes.filter((c) => c === 200).length).toBeGreaterThanOrEqual(2);
      expect(codes.filter((c) => c === 503).length).toBeGreaterThanOrEqual(1);
      expect(codes.every((c) => c === 200 || c === 503)).toBe(true);
      const refused = replies.find((r) => r.status === 503)!;
      expect((await refused.json() as { error: string }).error).toMatch(/busy: 1 requests are waiting/);
    } finally {
      await closeServer(busy);
      d.model.detector.dispose();
    }
  });

  it('refuses bad base64, non-image payloads, oversize bodies and images, and bad thresholds with clear errors', async () => {
    let r = await post({ image: 'not base64!' });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/^image: is not base64: character "!"/);
    r = await post({ image: b64(new TextEncoder().encode('hello, this is not an image')) });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/^image: a text file, not an image; supported formats are PNG and JPEG/);
    r = await post({ image: b64(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0])) });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/PNG is truncated or corrupt/);
    r = await post({ threshold: 0.5 });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/"image" is missing/);
    r = await post({ image: b64(images.values().next().value!), threshold: 1.5 });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/threshold: must be a number from 0 to 1/);
    r = await post({ image: 'A'.repeat(100 * 1024) });
    expect(r.status).toBe(413);
    expect(r.json.error).toMatch(/limit is 65536 bytes/);
    r = await post('{"image": ');
    expect(r.status).toBe(400);
    // An image over --max-pixels is refused from its header, before decoding.
    const small = await cvatDetectorFromArgs(['-m', model, '--threshold-from', normals, '--max-pixels', '5000']);
    try {
      await expect(small.detect({ image: b64(images.values().next().value!) })).rejects.toMatchObject({ status: 413, message: 'image: image is 96×96 (9216 pixels); the limit is 5000 pixels' });
    } finally {
      small.model.detector.dispose();
    }
    expect((await post({ image: b64(images.values().next().value!) })).status).toBe(200);
  });

  it('runs the same handler under Nuclio\'s Node.js calling convention (function/main.js)', async () => {
    const [name, want] = [...expected].find(([, e]) => e.regions > 0)!;
    const script = `
      const main = require(${JSON.stringify(path.resolve('integrations/cvat/function/main.js'))});
      const context = { Response: function (body, headers, contentType, statusCode) { Object.assign(this, { body, contentType, statusCode }); },
        callback: (r) => { process.stdout.write(JSON.stringify(r)); } };
      main.initContext(context);
      main.handler(context, { body: Buffer.from(process.env.BODY) });`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], {
      env: { ...process.env, INP_FORMER_ARGS: `-m ${model} --threshold-from ${normals}`, BODY: JSON.stringify({ image: b64(images.get(name)!), threshold: 0.5 }) },
      maxBuffer: 64 * 2 ** 20,
    });
    const res = JSON.parse(stdout);
    expect(res).toMatchObject({ statusCode: 200, contentType: 'application/json' });
    const shapes = JSON.parse(res.body);
    expect(shapes).toHaveLength(want.regions);
    expect(union(shapes.map((s: any) => cvatShapeMask(s.mask, SIZE, SIZE)))).toEqual(want.union);
  });
});

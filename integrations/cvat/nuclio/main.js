'use strict';
// Nuclio's Node.js runtime require()s this file (CommonJS, hence the package.json beside it) and calls
// handler(context, event) with event.body as a Buffer. It loads the TypeScript detector (via nuclio-entry.js), from the
// project at INP_FORMER_ROOT (the Dockerfile's /opt/inp-former), with the serve-cvat flags in INP_FORMER_ARGS,
// so Nuclio and `inp-former serve-cvat` run the same handler.
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const root = process.env.INP_FORMER_ROOT || path.resolve(__dirname, '../../..');
let detector;

function load() {
  detector ??= (async () => {
    const { cvatDetectorFromArgs, errorReply, HttpError } = await import(pathToFileURL(path.join(root, 'integrations/cvat/nuclio-entry.js')).href);
    const args = (process.env.INP_FORMER_ARGS || '').split(/\s+/).filter(Boolean);
    return { ...(await cvatDetectorFromArgs(args)), errorReply, HttpError };
  })();
  return detector;
}

// Start loading the model when the worker starts, not on the first frame.
exports.initContext = () => { load().catch(() => undefined); };

exports.handler = async (context, event) => {
  let reply;
  try {
    const d = await load();
    try {
      const text = Buffer.isBuffer(event.body) ? event.body.toString('utf8') : String(event.body ?? '');
      let body;
      try { body = JSON.parse(text); } catch (e) { throw new d.HttpError(400, `request body is not valid JSON (${e.message})`); }
      reply = { status: 200, body: await d.detect(body) };
    } catch (e) {
      reply = d.errorReply(e);
    }
  } catch (e) {
    reply = { status: 500, body: { error: `model failed to load: ${e.message}` } };
  }
  context.callback(new context.Response(JSON.stringify(reply.body), {}, 'application/json', reply.status));
};

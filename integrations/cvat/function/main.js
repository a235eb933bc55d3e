'use strict';
// Nuclio's Node.js runtime require()s this file (CommonJS, hence the package.json beside it) and calls
// handler(context, event) with event.body as a Buffer. The detector comes from the installed inp-former-annotate
// package (function.yaml installs the packed tarball beside this file), or, in a source checkout, from the
// TypeScript at INP_FORMER_ROOT (via nuclio-entry.js). serve-cvat's flags are in INP_FORMER_ARGS, so Nuclio and
// `inp-former serve-cvat` run the same handler.
const path = require('node:path');
const { pathToFileURL } = require('node:url');

let detector;

/** The package's built modules when it is installed here, else the source checkout's. */
async function modules() {
  let pkg;
  try {
    pkg = path.dirname(require.resolve('inp-former-annotate/package.json', { paths: [__dirname, process.cwd()] }));
  } catch {
    const root = process.env.INP_FORMER_ROOT || path.resolve(__dirname, '../../..');
    return import(pathToFileURL(path.join(root, 'integrations/cvat/nuclio-entry.js')).href);
  }
  const [{ cvatDetectorFromArgs }, { errorReply, HttpError }] = await Promise.all([
    import(pathToFileURL(path.join(pkg, 'dist/integrations/cli/serve-cvat.js')).href),
    import(pathToFileURL(path.join(pkg, 'dist/src/platform/node/http.js')).href),
  ]);
  return { cvatDetectorFromArgs, errorReply, HttpError };
}

function load() {
  detector ??= (async () => {
    const { cvatDetectorFromArgs, errorReply, HttpError } = await modules();
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

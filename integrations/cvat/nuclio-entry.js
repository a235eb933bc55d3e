// ESM bridge for nuclio/main.js: a CommonJS file cannot register tsx's ESM loader, so it imports this module, which
// does (as bin/inp-former.js does) and then loads the TypeScript handler.
import { register } from 'tsx/esm/api';

register();
export const { cvatDetectorFromArgs } = await import('../cli/serve-cvat.ts');
export const { errorReply, HttpError } = await import('../../src/platform/node/http.ts');

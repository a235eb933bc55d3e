// Starts a worker_thread on a TypeScript module (workerData.entry): Node's workers do not inherit the tsx
// loader that bin/inp-former.js registers, so each worker registers its own before importing the entry.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);

import path from 'node:path';
import { defineConfig } from 'vite';
import base from './vite.config.ts';

/**
 * The embeddable bundle (`npm run build:bundle` → dist/bundle/): the elements as one ES module a host page loads
 * with <script type="module" src=".../components.js">, its model worker, the tfjs-wasm binaries and the nsfwjs
 * weights beside it. Every asset is addressed relative to the module (base './': new URL(…, import.meta.url)), so
 * the folder works wherever it is served from; the worker and the heavy assets load only when a model runs.
 */
export default defineConfig({
  ...base,
  base: './',
  // Every asset URL relative to the module that uses it (the worker included), with import.meta.url: a consumer's
  // bundler then finds and copies the worker's wasm and weights too (self.location.href would hide them).
  experimental: {
    renderBuiltUrl(filename: string, { hostId, hostType, type }: { hostId: string; hostType: 'js' | 'css' | 'html'; type: 'asset' | 'public' }) {
      // The worker itself stays Vite's own `new Worker(new URL(…, import.meta.url))`, the pattern bundlers recognise.
      if (hostType !== 'js' || type !== 'asset' || /model-worker/.test(filename)) return { relative: true };
      const rel = path.posix.relative(path.posix.dirname(hostId), filename);
      return { runtime: `new URL(${JSON.stringify(rel.startsWith('.') ? rel : `./${rel}`)}, import.meta.url).href` };
    },
  },
  // An ES module worker, so its own asset URLs can use import.meta.url too (the client starts it with type: 'module').
  worker: { format: 'es', rollupOptions: { output: { codeSplitting: false } } },
  build: {
    ...base.build,
    outDir: 'dist/bundle',
    // The worker carries the nsfwjs weights and tfjs-wasm binaries inside it, so a consumer's bundler that copies the
    // worker as one file loses nothing; only onnxruntime-web's 28 MB wasm (the optional onnx engine) stays beside it.
    assetsInlineLimit: (file: string) => !/ort-wasm/.test(file),
    emptyOutDir: true,
    copyPublicDir: false,
    rollupOptions: {
      // components.js registers every element; each element also has its own entry (shared code in chunks/).
      input: {
        components: 'components/index.ts',
        ...Object.fromEntries(['workspace', 'sensitivity-control', 'image-canvas', 'review-queue', 'model-panel', 'export-menu', 'shortcut-help']
          .map((n) => [n, `components/${n}.ts`])),
      },
      preserveEntrySignatures: 'exports-only',
      output: { entryFileNames: '[name].js', chunkFileNames: 'chunks/[name]-[hash].js', assetFileNames: 'assets/[name]-[hash][extname]' },
    },
  },
});

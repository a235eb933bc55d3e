import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const wasmEsm = fileURLToPath(new URL('./node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.fesm.js', import.meta.url));

export default defineConfig({
  resolve: {
    // The package's ESM entry breaks Vite's dev server (runtime.md §7); its flat ESM bundle works everywhere.
    alias: [{ find: /^@tensorflow\/tfjs-backend-wasm$/, replacement: wasmEsm }],
  },
  server: {
    // Transform the workspace and its worker as soon as `npm start` listens, so the first page load does not wait.
    warmup: { clientFiles: ['./demo/main.ts', './src/worker/model-worker.ts'] },
    // Cross-origin isolation lets the wasm backend use threads where the machine has cores to spare.
    headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
  },
  preview: {
    headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
  },
  build: {
    // dist/ is the library's build (npm run build); the demo pages go beside it.
    outDir: 'dist-demo',
    target: 'es2022',
    // tfjs-wasm starts its pthreads from a blob made of one function's source text (fn.toString()); the minifier
    // rewrites that function to use helpers from the enclosing chunk, which the blob lacks ("e is not defined").
    minify: false,
    // Label Studio's stylesheet has selectors lightningcss (Vite's default CSS minifier) rejects; esbuild keeps them.
    cssMinify: 'esbuild',
    rollupOptions: { input: { main: 'index.html', bench: 'bench/browser.html', 'label-studio-editor': 'integrations/label-studio/editor/index.html' } },
  },
  optimizeDeps: { exclude: ['webgpu'] },
});

/**
 * The layer rules of ../shared/docs/architecture.md, checked in `npm test` (test/architecture.test.ts) and by
 * `npm run lint:deps`. A rule's name is what a violation prints, its comment why the rule exists.
 */
const PLAIN_ARRAY_STAGES = '^src/(image|threshold|regions|export|metrics|annotate|selection|io|model-folder|checkpoint|samples|evaluation|preprocess)/';
module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', comment: 'Layers only point down: a cycle makes two rooms one.', from: {}, to: { circular: true } },
    { name: 'src-is-framework-free', severity: 'error', comment: 'src/ is the library: it never imports the UI, the integrations, tests or benchmarks.',
      from: { path: '^src/' }, to: { path: '^(components|integrations|demo|bench|test)/' } },
    { name: 'nothing-imports-integrations', severity: 'error', comment: 'integrations/ is the outermost layer.',
      from: { path: '^(src|components|demo)/' }, to: { path: '^integrations/' } },
    { name: 'plain-arrays-after-the-map', severity: 'error', comment: 'From the map on (and in the stages that only parse or decode), data is plain typed arrays: no tfjs, no onnxruntime.',
      from: { path: PLAIN_ARRAY_STAGES }, to: { path: '(^|/)node_modules/(@tensorflow|onnxruntime)' } },
    { name: 'node-builtins-only-in-platform-node', severity: 'error', comment: 'Browser vs Node is chosen once: node:* lives in src/platform/node (and the integrations, tests, benchmarks).',
      from: { path: '^(src|components)/', pathNot: '^src/platform/node/' }, to: { dependencyTypes: ['core'] } },
    { name: 'components-never-node', severity: 'error', comment: 'The elements run in a browser.',
      from: { path: '^components/' }, to: { path: '^src/platform/node/' } },
    { name: 'platform-only-from-entries', severity: 'error', comment: 'Platform I/O is picked by the entry point (src/node.ts, src/web.ts, the worker), never by a stage.',
      from: { path: '^src/', pathNot: '^src/(platform/|node\\.ts$|web\\.ts$|worker/)' }, to: { path: '^src/platform/' } },
    { name: 'components-through-the-web-entry', severity: 'error', comment: 'The elements use the library through its browser face (src/web.ts), never its rooms.',
      from: { path: '^components/' }, to: { path: '^src/', pathNot: '^src/web\\.ts$' } },
    { name: 'page-holds-no-tensors', severity: 'error', comment: 'tfjs and onnxruntime live in the model worker: nothing the page imports reaches them.',
      from: { path: '^(components|src/web\\.ts$)' }, to: { path: '(^|/)node_modules/(@tensorflow|onnxruntime)', reachable: true } },
    { name: 'web-never-node', severity: 'error', comment: 'The web platform and the worker are bundled for browsers.',
      from: { path: '^src/(platform/web|worker)/' }, to: { path: '^src/platform/node/' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|test-output)/' },
    tsPreCompilationDeps: true,
    parser: 'swc',
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};

/**
 * The import rules of ARCHITECTURE.md, checked by dependency-cruiser (`npm run lint:layers`, run by
 * `npm test` before jest). Each folder is a layer and imports only from the layers below it:
 *
 *   cli        → kube schemas errors
 *   api        → config store runtime kube schemas errors
 *   controllers, agents (side by side, never each other)
 *              → config store runtime kube schemas errors   (agents also libvirt)
 *   config     → errors
 *   store      → runtime kube schemas errors     (the only code that speaks CQL)
 *   runtime    → kube schemas errors
 *   kube       → schemas errors
 *   schemas    → errors
 *   errors     → nothing of ours
 *   libvirt    → nothing of ours (a binding that knows nothing of Stratus)
 *
 * bench/, test/ and scripts/ sit on top and may import anything.
 */
const LAYERS = {
  errors: [],
  libvirt: [],
  schemas: ['errors'],
  kube: ['schemas', 'errors'],
  runtime: ['kube', 'schemas', 'errors'],
  store: ['runtime', 'kube', 'schemas', 'errors'],
  config: ['errors'],
  controllers: ['config', 'store', 'runtime', 'kube', 'schemas', 'errors'],
  agents: ['libvirt', 'config', 'store', 'runtime', 'kube', 'schemas', 'errors'],
  api: ['config', 'store', 'runtime', 'kube', 'schemas', 'errors'],
  cli: ['kube', 'schemas', 'errors'],
};
const OURS = ['bench', 'test', 'scripts', 'bin', ...Object.keys(LAYERS)];

const layerRules = Object.entries(LAYERS).map(([layer, below]) => ({
  name: `layer-${layer}`,
  comment: `${layer}/ may import only from ${below.length ? below.map((b) => b + '/').join(', ') : 'npm packages and node: built-ins'} ` +
    '(see ARCHITECTURE.md): move the shared code down a layer, or pass it in through options',
  severity: 'error',
  from: { path: `^${layer}/` },
  to: { path: `^(${OURS.join('|')})/`, pathNot: [`^${layer}/`, ...below.map((b) => `^${b}/`)] },
}));

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'cql-only-in-store',
      comment: 'store/ is the only code that speaks CQL: add a repository to store/ and hand it in through options',
      severity: 'error',
      from: { path: '^(?!store/|bench/|test/|scripts/)' },
      to: { path: 'node_modules/cassandra-driver/' },
    },
    {
      name: 'no-circular',
      comment: 'modules import each other: move what both need into a third module',
      severity: 'error',
      from: { pathNot: '^(test|bench)/' },
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'this import does not resolve: a typo, or a package missing from package.json',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};

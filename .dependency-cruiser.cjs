/**
 * The import directions berth keeps (docs/ARCHITECTURE.md, "Layers and import directions"),
 * checked by `npm run lint:deps` and at the start of `npm test` (scripts/test.sh).
 *
 * Each folder of src/ may import only the folders listed for it (and itself, node built-ins and
 * npm packages). Lower layers never import higher ones; the client side (cli, compose, client)
 * never imports daemon-side code; and there are no import cycles at all. Unit tests
 * (`*.test.ts`) may reach across layers to set up what they test, but not make cycles.
 */
const FOUNDATION = ['common', 'oci', 'wire'];

/** folder → the other src/ folders (or sub-folders) it may import. */
const MAY_IMPORT = {
  // foundation: pure types and helpers
  common: [],
  oci: ['common'],
  wire: ['common', 'oci'],
  archive: [...FOUNDATION],
  // state and protocols
  store: [...FOUNDATION],
  registry: [...FOUNDATION],
  trust: [...FOUNDATION, 'registry/client'],
  // daemon-side services, each unaware of the engine above it
  runtime: [...FOUNDATION, 'archive'],
  network: [...FOUNDATION, 'store'],
  volume: [...FOUNDATION, 'store', 'archive'],
  image: [...FOUNDATION, 'store', 'archive', 'registry/client', 'trust'],
  // the engine composes runtime, network and volumes; images reach it through engine/collaborators.ts
  engine: [...FOUNDATION, 'store', 'archive', 'runtime', 'network', 'volume'],
  build: [...FOUNDATION, 'store', 'archive', 'registry/client', 'image', 'engine'],
  // front ends of the daemon
  api: [...FOUNDATION, 'store', 'archive', 'registry/client', 'trust', 'runtime', 'network', 'volume', 'image', 'engine', 'build'],
  cri: [...FOUNDATION, 'store', 'archive', 'runtime', 'network', 'volume', 'image', 'engine'],
  ui: [...FOUNDATION, 'api/router.ts'],
  // the daemon's wiring: everything daemon-side
  daemon: [...FOUNDATION, 'store', 'archive', 'registry/client', 'trust', 'runtime', 'network', 'volume', 'image', 'engine', 'build', 'api', 'cri', 'ui'],
  // client side: talks to a daemon only over the Engine API
  client: [...FOUNDATION],
  compose: [...FOUNDATION, 'client'],
  cli: [...FOUNDATION, 'client', 'compose', 'trust', 'registry/client'],
  // entry points
  bin: [...FOUNDATION, 'cli', 'daemon', 'registry'],
};

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const layerRules = Object.entries(MAY_IMPORT).map(([from, allowed]) => ({
  name: `layer-${from}`,
  comment: `src/${from}/ may import only ${allowed.length ? allowed.join(', ') : 'nothing else in src/'}`,
  severity: 'error',
  from: { path: `^src/${from}/`, pathNot: '\\.test\\.ts$' },
  to: { path: '^src/', pathNot: [`^src/${from}/`, ...allowed.map((a) => `^src/${escape(a)}${a.endsWith('.ts') ? '$' : '/'}`)] },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycles (a cycle means two modules are really one, or one of them is in the wrong layer).',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'src-not-tests',
      comment: 'Production code does not import test helpers (nor api/inject.ts, which needs a devDependency).',
      severity: 'error',
      from: { path: '^src/', pathNot: '\\.test\\.ts$' },
      to: { path: ['^test/', '\\.test\\.ts$', '^src/api/inject\\.ts$'] },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },

};

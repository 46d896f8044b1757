// Layering rules. `npm test` (deploy/local/bin/run.sh) runs `npm run lint:layers`, i.e.
//   depcruise --config .dependency-cruiser.cjs packages services deploy bench chaos
// and fails on any violation, which names the rule below and the import that breaks it.
// Workspace packages resolve to their sources through tsconfig.depcruise.json (no build needed).
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const read = (file) => JSON.parse(readFileSync(join(__dirname, file), 'utf8'));
const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// Every workspace package, by folder: its name and the workspace packages it declares.
const workspaces = read('package.json').workspaces.map((dir) => {
  const pkg = read(join(dir, 'package.json'));
  return { dir, name: pkg.name, deps: Object.keys(pkg.dependencies ?? {}), devDeps: Object.keys(pkg.devDependencies ?? {}) };
});
const byName = new Map(workspaces.map((w) => [w.name, w]));
const anyWorkspace = `^(${workspaces.map((w) => esc(w.dir)).join('|')})/`;
const dirsOf = (names) => names.filter((n) => byName.has(n)).map((n) => esc(byName.get(n).dir));

/** A forbidden dependency; every rule here is an error that fails `npm test`. */
const forbid = (name, comment, from, to) => ({ name, comment, severity: 'error', from, to });

// A workspace package may import another only if its package.json declares it (npm installs
// what is declared; an undeclared import works in this checkout by accident), and its
// production code (src/) only what `dependencies` declares: devDependencies are not installed
// in the images (Dockerfile: npm ci --omit=dev).
const undeclaredWorkspaceRules = workspaces.flatMap((w) => {
  const undeclared = workspaces.filter((o) => o !== w && !w.deps.includes(o.name) && !w.devDeps.includes(o.name)).map((o) => esc(o.dir));
  const devOnly = dirsOf(w.devDeps.filter((n) => !w.deps.includes(n)));
  const rules = [];
  if (undeclared.length > 0) {
    rules.push(forbid(`undeclared-workspace-dep:${w.name}`, `${w.dir} imports a workspace package its package.json does not declare`, { path: `^${esc(w.dir)}/` }, { path: `^(${undeclared.join('|')})/` }));
  }
  if (devOnly.length > 0) {
    rules.push(forbid(`src-imports-dev-dep:${w.name}`, `${w.dir}/src imports a workspace package declared only in devDependencies`, { path: `^${esc(w.dir)}/src/` }, { path: `^(${devOnly.join('|')})/` }));
  }
  return rules;
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    forbid('no-circular', 'Import cycles: modules that need each other are one module, or one of them holds what both need.', {}, { circular: true }),
    forbid(
      'settings-db-not-grpc',
      "The settings service's db/ layer is below grpc/: repositories never import handlers, names or status mapping.",
      { path: '^services/settings/src/db/' },
      { path: '^services/settings/src/grpc/' },
    ),
    forbid(
      'settings-resources-pure',
      'Resource descriptors (resources/) are used by grpc/ and db/, so they import neither.',
      { path: '^services/settings/src/resources/' },
      { path: '^services/settings/src/(db|grpc)/' },
    ),
    forbid(
      'no-service-to-service',
      'One service never imports another service: what both need lives in packages/shared.',
      { path: '^services/([^/]+)/src/' },
      { path: '^services/', pathNot: '^services/$1/' },
    ),
    forbid(
      'no-deep-workspace-import',
      "Another workspace package is used through its entry point (src/index.ts), never its internals: e.g. the invalidator's end-to-end test starts the settings service through @settings/settings-service.",
      { path: anyWorkspace },
      { path: anyWorkspace, pathNot: ['^$1/', `${anyWorkspace}src/index\\.ts$`] },
    ),
    forbid(
      'packages-below-apps',
      'packages/* are libraries of the services: they never import a service, the stacks, the benchmark or the chaos suite.',
      { path: '^packages/' },
      { path: '^(services|deploy|bench|chaos)/' },
    ),
    forbid('no-non-package-json', 'An npm package imported without being declared in the package.json closest to the importing file.', {}, { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] }),
    forbid(
      'src-not-to-npm-dev-dep',
      'Production code (src/ of packages and services) imports only `dependencies`; devDependencies are not installed in the images.',
      { path: '^(packages|services)/[^/]+/src/' },
      { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    ),
    forbid('not-to-unresolvable', 'An import that resolves to nothing (a typo, or a package that is not installed).', {}, { couldNotResolve: true }),
    ...undeclaredWorkspaceRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['(^|/)dist/', '^deploy/local/target/', '^\\.stack/'] },
    // Type-only imports count: they need the package declared just the same.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.depcruise.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['main', 'types', 'typings'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};

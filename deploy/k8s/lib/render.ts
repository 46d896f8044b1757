import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { K8S_DIR, OVERLAYS_DIR } from './connector';

/** The site component: the one place site-specific values enter (site.env, git-ignored). */
export const SITE_DIR = join(K8S_DIR, 'site');
export const SITE_ENV_EXAMPLE = join(SITE_DIR, 'site.env.example');
export const PLACEHOLDER_PATTERNS_FILE = join(SITE_DIR, 'placeholder-patterns');
/** Realistic, non-placeholder site values the tests render with (test/fixtures/site.env). */
export const TEST_SITE_ENV = join(K8S_DIR, 'test', 'fixtures', 'site.env');
/** What install.sh and the kustomizations read: the rest of deploy/k8s is code and tests. */
const MANIFEST_DIRS = ['base', 'migrate', 'overlays', 'site'];

/** The placeholder regular expressions install.sh and the tests share (comments skipped). */
export function placeholderPatterns(): RegExp[] {
  return readFileSync(PLACEHOLDER_PATTERNS_FILE, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    // grep -E's \b is the same in JavaScript; the patterns use nothing else engine-specific.
    .map((l) => new RegExp(l));
}

/**
 * A copy of the manifests with the given site.env, in a temporary folder: rendering never
 * needs (or touches) a real site.env in the working tree, which is git-ignored.
 */
export function stageManifests(siteEnv: string): string {
  const root = mkdtempSync(join(tmpdir(), 'settings-k8s-'));
  for (const d of MANIFEST_DIRS) cpSync(join(K8S_DIR, d), join(root, d), { recursive: true });
  writeFileSync(join(root, 'site', 'site.env'), siteEnv);
  return root;
}

/** A rendered Kubernetes object; only the fields every object has are typed. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export interface Rendering {
  /** Overlay path relative to deploy/k8s, e.g. `overlays/prod/migrate`. */
  name: string;
  objects: K8sObject[];
}

/**
 * Every kustomization under overlays/ (components excluded): each is something an operator
 * applies, so each must render and validate.
 */
export function overlayDirs(dir = OVERLAYS_DIR): string[] {
  const found: string[] = [];
  const file = join(dir, 'kustomization.yaml');
  if (existsSync(file) && !/^kind:\s*Component\b/m.test(readFileSync(file, 'utf8'))) found.push(dir);
  for (const entry of readdirSync(dir)) {
    const sub = join(dir, entry);
    if (statSync(sub).isDirectory()) found.push(...overlayDirs(sub));
  }
  return found.sort();
}

let checkedKubectl = false;
function assertKubectl(): void {
  if (checkedKubectl) return;
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'pipe' });
  } catch {
    throw new Error(
      'kubectl is needed to render the kustomizations offline (`kubectl kustomize`, kustomize >= 5). ' +
        'It ships with this project\'s machine image; elsewhere install a current kubectl (Debian\'s `kubernetes-client` 1.20 bundles a kustomize too old for these files).',
    );
  }
  checkedKubectl = true;
}

/**
 * `kubectl kustomize` is offline: it reads only the files below the kustomization (and the
 * components it names). `root` is the deploy/k8s the directory lives in (a staged copy).
 */
export function render(dir: string, root = K8S_DIR): Rendering {
  assertKubectl();
  const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 32 << 20 });
  const objects = parseAllDocuments(out)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${dir}: ${doc.errors[0]!.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
  return { name: relative(root, dir), objects };
}

const staged = new Map<string, string>();
/** The staged copy for one site.env content (made once per test file). */
export function stagedRoot(siteEnv = readFileSync(TEST_SITE_ENV, 'utf8')): string {
  let root = staged.get(siteEnv);
  if (!root) {
    root = stageManifests(siteEnv);
    staged.set(siteEnv, root);
  }
  return root;
}

/** One overlay (e.g. `overlays/prod`), rendered with the test site values unless told otherwise. */
export function renderOverlay(name: string, siteEnv?: string): Rendering {
  const root = stagedRoot(siteEnv);
  return render(join(root, name), root);
}

/** Kustomizations the tests build on top of the overlays (test/fixtures/<name>, e.g. documented recipes). */
export const FIXTURES_DIR = join(K8S_DIR, 'test', 'fixtures');

/**
 * A fixture kustomization (test/fixtures/<name>), staged at the same relative place as in the
 * tree so that its `../../../overlays/...` resources resolve to the staged overlays, and rendered
 * with the test site values unless told otherwise.
 */
export function renderFixture(name: string, siteEnv?: string): Rendering {
  const root = stagedRoot(siteEnv);
  const dir = join(root, 'test', 'fixtures', name);
  cpSync(join(FIXTURES_DIR, name), dir, { recursive: true });
  return render(dir, root);
}

/** Every overlay, rendered with the test site values (test/fixtures/site.env). */
export function renderAll(siteEnv?: string): Rendering[] {
  const root = stagedRoot(siteEnv);
  return overlayDirs(join(root, 'overlays')).map((d) => render(d, root));
}

export const gvk = (o: K8sObject): string => `${o.apiVersion}/${o.kind}`;
export const objRef = (o: K8sObject): string => `${o.kind}/${o.metadata.name}`;

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { K8S_DIR, OVERLAYS_DIR } from './connector';

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

/** `kubectl kustomize` is offline: it reads only the files below the kustomization. */
export function render(dir: string): Rendering {
  assertKubectl();
  const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 32 << 20 });
  const objects = parseAllDocuments(out)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${dir}: ${doc.errors[0]!.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
  return { name: relative(K8S_DIR, dir), objects };
}

export function renderAll(): Rendering[] {
  return overlayDirs().map(render);
}

export const gvk = (o: K8sObject): string => `${o.apiVersion}/${o.kind}`;
export const objRef = (o: K8sObject): string => `${o.kind}/${o.metadata.name}`;

import type { K8sObject } from './render';

/** Just the pod fields the invariants read. */
export interface Container {
  name: string;
  image: string;
  command?: string[];
  ports?: Array<{ name?: string; containerPort: number }>;
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } } }>;
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  securityContext?: SecurityContext;
  volumeMounts?: Array<{ name: string; mountPath: string; subPath?: string; readOnly?: boolean }>;
}
export interface Probe {
  grpc?: { port: number; service?: string };
  httpGet?: { path: string; port: number | string };
}
export interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: string };
}
/** The pod (anti-)affinity terms the rules check; the rest of `affinity` is passed through. */
export interface PodAffinityTerm {
  topologyKey: string;
  labelSelector?: LabelSelector;
}
export interface PodSpec {
  affinity?: {
    podAntiAffinity?: {
      requiredDuringSchedulingIgnoredDuringExecution?: PodAffinityTerm[];
      preferredDuringSchedulingIgnoredDuringExecution?: Array<{ weight: number; podAffinityTerm: PodAffinityTerm }>;
    };
  };
  containers: Container[];
  initContainers?: Container[];
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: SecurityContext;
  volumes?: Volume[];
}
interface KeyToPath {
  key: string;
  path: string;
}
export interface Volume {
  name: string;
  secret?: { secretName: string; items?: KeyToPath[] };
  configMap?: { name: string; items?: KeyToPath[] };
  emptyDir?: object;
}
export interface Workload {
  object: K8sObject;
  podLabels: Record<string, string>;
  pod: PodSpec;
}

interface PodTemplate {
  metadata?: { labels?: Record<string, string> };
  spec: PodSpec;
}

export function workloads(objects: K8sObject[]): Workload[] {
  return objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'Job')
    .map((o) => {
      const template = (o.spec as { template: PodTemplate }).template;
      return { object: o, podLabels: template.metadata?.labels ?? {}, pod: template.spec };
    });
}

export function allContainers(w: Workload): Container[] {
  return [...(w.pod.initContainers ?? []), ...w.pod.containers];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

/** Kubernetes label-selector semantics (an empty selector selects everything). */
export function selects(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = e.key in labels;
    const ok =
      e.operator === 'In' ? has && (e.values ?? []).includes(labels[e.key]!) :
      e.operator === 'NotIn' ? !has || !(e.values ?? []).includes(labels[e.key]!) :
      e.operator === 'Exists' ? has :
      e.operator === 'DoesNotExist' ? !has : false;
    if (!ok) return false;
  }
  return true;
}

/**
 * The environment a container sees: env entries over envFrom ConfigMaps (later wins, as in
 * Kubernetes). Secret-backed values are reported as `secret:<name>/<key>`.
 */
export function resolvedEnv(c: Container, objects: K8sObject[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef) {
      const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === from.configMapRef!.name);
      if (!cm) throw new Error(`${c.name}: envFrom ConfigMap ${from.configMapRef.name} is not rendered`);
      for (const [k, v] of Object.entries((cm.data as Record<string, string>) ?? {})) env.set(k, v);
    }
    if (from.secretRef) throw new Error(`${c.name}: envFrom secretRef hides which variables are set; use env[].valueFrom.secretKeyRef`);
  }
  for (const e of c.env ?? []) {
    if (e.valueFrom?.secretKeyRef) env.set(e.name, `secret:${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`);
    else if (e.valueFrom?.configMapKeyRef) env.set(e.name, `configmap:${e.valueFrom.configMapKeyRef.name}/${e.valueFrom.configMapKeyRef.key}`);
    else env.set(e.name, e.value ?? '');
  }
  return env;
}

/**
 * What a file the container reads is: `secret:<name>/<key>` or `configmap:<name>/<key>` of a
 * mounted volume (honouring `items` and `subPath`), or undefined when no such volume provides it.
 */
export function mountedFile(pod: PodSpec, c: Container, file: string): string | undefined {
  for (const m of c.volumeMounts ?? []) {
    const root = m.mountPath.replace(/\/$/, '');
    if (file !== root && !file.startsWith(`${root}/`)) continue;
    const v = (pod.volumes ?? []).find((x) => x.name === m.name);
    const source = v?.secret ? { kind: 'secret', name: v.secret.secretName, items: v.secret.items } : v?.configMap ? { kind: 'configmap', name: v.configMap.name, items: v.configMap.items } : undefined;
    if (!source) continue;
    // The path inside the volume: the mount's subPath, then what follows the mount path.
    const inVolume = [m.subPath, file.slice(root.length + 1)].filter(Boolean).join('/');
    const key = source.items ? source.items.find((i) => i.path === inVolume)?.key : inVolume.includes('/') ? undefined : inVolume;
    if (key) return `${source.kind}:${source.name}/${key}`;
  }
  return undefined;
}

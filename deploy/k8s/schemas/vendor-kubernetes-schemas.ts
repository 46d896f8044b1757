/**
 * Regenerates kubernetes-strict.json: the JSON schemas of the few Kubernetes and Prometheus
 * Operator kinds deploy/k8s uses, so the manifests are validated offline (no cluster, no
 * schema download at test time). Run by hand when a new kind is used or Kubernetes moves on:
 *
 *   npx tsx deploy/k8s/schemas/vendor-kubernetes-schemas.ts
 *
 * Source: the JSON schemas that the fabric8 Kubernetes model jars on Maven Central carry
 * (`schema/kube-schema.json`, generated from the Kubernetes Go types; 6.13.x = Kubernetes
 * 1.30, `openshift-model-monitoring` = the Prometheus Operator's monitoring.coreos.com/v1).
 * They are fetched with Maven, which this project already uses for deploy/local.
 *
 * Made strict the way `kubectl --validate=strict` behaves: unknown fields are errors
 * (additionalProperties: false wherever the properties are listed), apiVersion/kind are
 * constants, quantities and int-or-string fields take their real JSON forms, and the
 * `required` lists of the Kubernetes OpenAPI are restored for the fields a typo would drop.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const FABRIC8 = '6.13.5';
const ARTIFACTS = ['core', 'apps', 'batch', 'policy', 'autoscaling', 'networking', 'rbac'].map((m) => `kubernetes-model-${m}`);
ARTIFACTS.push('openshift-model-monitoring');

/** apiVersion/kind -> fabric8 definition name. Add a line here to validate a new kind. */
export const KINDS: Record<string, string> = {
  'v1/Namespace': 'kubernetes_core_Namespace',
  'v1/ServiceAccount': 'kubernetes_core_ServiceAccount',
  'v1/ConfigMap': 'kubernetes_core_ConfigMap',
  'v1/Secret': 'kubernetes_core_Secret',
  'v1/Service': 'kubernetes_core_Service',
  'apps/v1/Deployment': 'kubernetes_apps_Deployment',
  'batch/v1/Job': 'kubernetes_batch_v1_Job',
  'policy/v1/PodDisruptionBudget': 'kubernetes_policy_v1_PodDisruptionBudget',
  'autoscaling/v2/HorizontalPodAutoscaler': 'kubernetes_autoscaling_v2_HorizontalPodAutoscaler',
  'networking.k8s.io/v1/NetworkPolicy': 'kubernetes_networking_v1_NetworkPolicy',
  'rbac.authorization.k8s.io/v1/Role': 'kubernetes_rbac_v1_Role',
  'rbac.authorization.k8s.io/v1/RoleBinding': 'kubernetes_rbac_v1_RoleBinding',
  'monitoring.coreos.com/v1/ServiceMonitor': 'os_monitoring_v1_ServiceMonitor',
  'monitoring.coreos.com/v1/PodMonitor': 'os_monitoring_v1_PodMonitor',
  'monitoring.coreos.com/v1/PrometheusRule': 'os_monitoring_v1_PrometheusRule',
};

/** `required` from the Kubernetes OpenAPI, which the fabric8 schemas leave out. */
const REQUIRED: Record<string, string[]> = {
  kubernetes_core_Container: ['name'],
  kubernetes_core_PodSpec: ['containers'],
  kubernetes_core_EnvVar: ['name'],
  kubernetes_core_ContainerPort: ['containerPort'],
  kubernetes_core_ServicePort: ['port'],
  kubernetes_core_Volume: ['name'],
  kubernetes_core_VolumeMount: ['name', 'mountPath'],
  kubernetes_core_SecretKeySelector: ['key'],
  kubernetes_core_ConfigMapKeySelector: ['key'],
  kubernetes_core_KeyToPath: ['key', 'path'],
  kubernetes_core_GRPCAction: ['port'],
  kubernetes_core_HTTPGetAction: ['port'],
  kubernetes_core_TCPSocketAction: ['port'],
  kubernetes_core_SeccompProfile: ['type'],
  kubernetes_core_TopologySpreadConstraint: ['maxSkew', 'topologyKey', 'whenUnsatisfiable'],
  kubernetes_apimachinery_pkg_apis_LabelSelectorRequirement: ['key', 'operator'],
  kubernetes_apps_DeploymentSpec: ['selector', 'template'],
  kubernetes_batch_v1_JobSpec: ['template'],
  kubernetes_autoscaling_v2_HorizontalPodAutoscalerSpec: ['scaleTargetRef', 'maxReplicas'],
  kubernetes_autoscaling_v2_CrossVersionObjectReference: ['kind', 'name'],
  kubernetes_autoscaling_v2_MetricSpec: ['type'],
  kubernetes_autoscaling_v2_MetricTarget: ['type'],
  kubernetes_autoscaling_v2_ResourceMetricSource: ['name', 'target'],
  kubernetes_networking_v1_NetworkPolicySpec: ['podSelector'],
  kubernetes_rbac_v1_PolicyRule: ['verbs'],
  kubernetes_rbac_v1_RoleBinding: ['roleRef'],
  kubernetes_rbac_v1_RoleRef: ['apiGroup', 'kind', 'name'],
  kubernetes_rbac_v1_Subject: ['kind', 'name'],
  os_monitoring_v1_PrometheusRuleSpec: ['groups'],
  os_monitoring_v1_RuleGroup: ['name', 'rules'],
  os_monitoring_v1_Rule: ['expr'],
  os_monitoring_v1_ServiceMonitorSpec: ['selector', 'endpoints'],
  os_monitoring_v1_PodMonitorSpec: ['selector', 'podMetricsEndpoints'],
};

// Kubernetes' own forms: a quantity is "250m"/"1Gi" or a number; int-or-string is either.
const QUANTITY = { type: ['string', 'number'], pattern: '^[+-]?[0-9.]+([eEinumkKMGTP]*[-+]?[0-9]*)$' };
const INT_OR_STRING = { type: ['integer', 'string'] };
const REPLACED: Record<string, unknown> = {
  kubernetes_resource_Quantity: QUANTITY,
  k8s_io_apimachinery_pkg_api_resource_Quantity: QUANTITY,
  kubernetes_apimachinery_pkg_util_intstr_IntOrString: INT_OR_STRING,
};
const DROP = new Set(['javaType', 'javaInterfaces', 'existingJavaType', 'javaOmitEmpty', 'javaExtends', 'interfaceType', 'javaEnumNames', 'description', 'id']);

type Json = Record<string, unknown>;

function clean(node: unknown, name?: string): unknown {
  if (Array.isArray(node)) return node.map((n) => clean(n));
  if (node === null || typeof node !== 'object') return node;
  const src = node as Json;
  const out: Json = {};
  for (const [k, v] of Object.entries(src)) {
    if (DROP.has(k) || k === 'required') continue;
    out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as Json).map(([p, s]) => [p, clean(s)])) : clean(v);
  }
  if (src.properties) {
    // fabric8 marks required properties draft-03 style (`required: true` on the property).
    const required = Object.entries(src.properties as Json).filter(([, s]) => (s as Json).required === true).map(([p]) => p);
    required.push(...(name ? REQUIRED[name] ?? [] : []));
    if (required.length > 0) out.required = [...new Set(required)];
    out.additionalProperties = false;
  }
  return out;
}

function refsOf(node: unknown, acc: Set<string>): Set<string> {
  if (Array.isArray(node)) node.forEach((n) => refsOf(n, acc));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node as Json)) {
      if (k === '$ref' && typeof v === 'string') acc.add(v.replace('#/definitions/', ''));
      else refsOf(v, acc);
    }
  }
  return acc;
}

function main(): void {
  const all: Record<string, Json> = {};
  const repo = join(homedir(), '.m2/repository/io/fabric8');
  for (const a of ARTIFACTS) {
    execFileSync('mvn', ['-q', 'dependency:get', `-Dartifact=io.fabric8:${a}:${FABRIC8}`, '-Dtransitive=false'], { stdio: 'inherit' });
    const jar = join(repo, a, FABRIC8, `${a}-${FABRIC8}.jar`);
    const schema = JSON.parse(execFileSync('unzip', ['-p', jar, 'schema/kube-schema.json'], { maxBuffer: 64 << 20 }).toString()) as { definitions: Record<string, Json> };
    Object.assign(all, schema.definitions);
  }
  // Keep only what the used kinds reach, so the vendored file stays small.
  const keep = new Set<string>();
  const todo = Object.values(KINDS);
  while (todo.length > 0) {
    const name = todo.pop()!;
    if (keep.has(name)) continue;
    if (!all[name]) throw new Error(`definition ${name} not found`);
    keep.add(name);
    if (!REPLACED[name]) todo.push(...refsOf(all[name], new Set()));
  }
  const definitions: Record<string, unknown> = {};
  for (const name of [...keep].sort()) definitions[name] = REPLACED[name] ?? clean(all[name], name);
  for (const [gvk, name] of Object.entries(KINDS)) {
    const def = definitions[name] as { properties: Json };
    const [kind, ...gv] = gvk.split('/').reverse();
    def.properties.apiVersion = { const: gv.reverse().join('/') };
    def.properties.kind = { const: kind };
  }
  const out = {
    $id: 'kubernetes-strict.json',
    $comment: `Generated by vendor-kubernetes-schemas.ts from io.fabric8:*:${FABRIC8} (Kubernetes 1.30). Do not edit.`,
    'x-kinds': Object.fromEntries(Object.entries(KINDS).map(([gvk, name]) => [gvk, `#/definitions/${name}`])),
    definitions,
  };
  const file = join(__dirname, 'kubernetes-strict.json');
  // One definition per line: small, and a regeneration diffs readably.
  const lines = Object.entries(out.definitions).map(([k, v]) => `    ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  const head = JSON.stringify({ ...out, definitions: undefined }, null, 2).replace(/\n}$/, '');
  writeFileSync(file, `${head},\n  "definitions": {\n${lines.join(',\n')}\n  }\n}\n`);
  console.log(`wrote ${file}: ${keep.size} definitions`);
}

if (require.main === module) main();

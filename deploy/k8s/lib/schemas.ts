import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import { K8S_DIR, REPO_ROOT } from './connector';
import { KAFKA_USER_SUBSET_SCHEMA } from './kafkauser-schema';
import { gvk, type K8sObject } from './render';

/**
 * Offline schema validation of rendered objects:
 *  - Kubernetes and Prometheus Operator kinds against schemas/kubernetes-strict.json
 *    (vendored, see schemas/vendor-kubernetes-schemas.ts);
 *  - Strimzi kinds against the CRDs of Strimzi 1.2.0 in ../shared/schemas (outside the repo;
 *    absent => those objects are reported as skipped, never silently passed).
 * Both are strict like `kubectl --validate=strict`: an unknown field is an error.
 */

// Overridable to point at another copy (or, to see the skip path, at nothing).
export const STRIMZI_SCHEMA_DIR = process.env.STRIMZI_SCHEMA_DIR ?? join(REPO_ROOT, '..', 'shared', 'schemas', 'strimzi-1.2.0');
const K8S_SCHEMA_FILE = join(K8S_DIR, 'schemas', 'kubernetes-strict.json');
const OBJECT_META = 'kubernetes-strict.json#/definitions/kubernetes_apimachinery_ObjectMeta';

type Json = Record<string, unknown>;

/**
 * CRD schemas list every field too; make them reject unknown ones (and type metadata).
 * Branches of oneOf/anyOf/allOf only restate which of the parent's properties must be set
 * (e.g. a volume is `secret` or `configMap`): they stay open, the parent is the strict one.
 */
function strictCrdSchema(node: unknown, path: string[] = [], branch = false): unknown {
  if (Array.isArray(node)) return node.map((n) => strictCrdSchema(n, path, branch));
  if (node === null || typeof node !== 'object') return node;
  const src = node as Json;
  if (path.length === 1 && path[0] === 'metadata') return { $ref: OBJECT_META };
  const out: Json = {};
  for (const [k, v] of Object.entries(src)) {
    if (k === 'properties') {
      out[k] = Object.fromEntries(Object.entries(v as Json).map(([p, s]) => [p, strictCrdSchema(s, [...path, p])]));
    } else out[k] = strictCrdSchema(v, path, ['oneOf', 'anyOf', 'allOf'].includes(k));
  }
  if (!branch && src.properties && src['x-kubernetes-preserve-unknown-fields'] !== true && src.additionalProperties === undefined) {
    out.additionalProperties = false;
  }
  return out;
}

export interface Validation {
  errors: string[];
  /** Objects not validated because their schema is not available here, with the reason. */
  skipped: string[];
}

export class ManifestValidator {
  private readonly ajv = new Ajv({ strict: false, allErrors: true, allowUnionTypes: true, validateFormats: false, logger: false });
  private readonly byKind = new Map<string, ValidateFunction>();
  readonly strimziAvailable = existsSync(STRIMZI_SCHEMA_DIR);

  constructor() {
    const k8s = JSON.parse(readFileSync(K8S_SCHEMA_FILE, 'utf8')) as { 'x-kinds': Record<string, string> };
    this.ajv.addSchema(k8s);
    for (const [kind, ref] of Object.entries(k8s['x-kinds'])) this.byKind.set(kind, this.ajv.getSchema(`kubernetes-strict.json${ref}`)!);
    if (this.strimziAvailable) this.loadStrimzi();
  }

  /** Where KafkaUser's schema came from: the shared CRD, or this project's strict subset. */
  kafkaUserSchemaSource = 'none';

  private loadStrimzi(): void {
    const files = ['040-Crd-kafka.yaml', '041-Crd-kafkaconnect.yaml', '043-Crd-kafkatopic.yaml', '045-Crd-kafkanodepool.yaml', '047-Crd-kafkaconnector.yaml'];
    // The shared folder has no KafkaUser CRD today; use it when it appears.
    const userCrd = '044-Crd-kafkauser.yaml';
    if (existsSync(join(STRIMZI_SCHEMA_DIR, userCrd))) {
      files.push(userCrd);
      this.kafkaUserSchemaSource = userCrd;
    } else {
      this.byKind.set('kafka.strimzi.io/v1/KafkaUser', this.ajv.compile(KAFKA_USER_SUBSET_SCHEMA));
      this.kafkaUserSchemaSource = 'lib/kafkauser-schema.ts (subset written from the Strimzi API reference)';
    }
    for (const file of files) {
      const crd = parse(readFileSync(join(STRIMZI_SCHEMA_DIR, file), 'utf8')) as {
        spec: { group: string; names: { kind: string }; versions: Array<{ name: string; schema: { openAPIV3Schema: Json } }> };
      };
      for (const version of crd.spec.versions) {
        const schema = strictCrdSchema(version.schema.openAPIV3Schema) as Json;
        this.byKind.set(`${crd.spec.group}/${version.name}/${crd.spec.names.kind}`, this.ajv.compile(schema));
      }
    }
  }

  validate(objects: K8sObject[]): Validation {
    const result: Validation = { errors: [], skipped: [] };
    for (const o of objects) {
      const fn = this.byKind.get(gvk(o));
      const where = `${gvk(o)} ${o.metadata?.name}`;
      if (!fn) {
        if (o.apiVersion.startsWith('kafka.strimzi.io/') && !this.strimziAvailable) result.skipped.push(`${where}: Strimzi CRD schemas not found at ${STRIMZI_SCHEMA_DIR}`);
        else result.errors.push(`${where}: no schema for this kind (add it to schemas/vendor-kubernetes-schemas.ts)`);
        continue;
      }
      if (!fn(o)) {
        for (const e of fn.errors ?? []) {
          const extra = e.keyword === 'additionalProperties' ? ` '${String((e.params as { additionalProperty: string }).additionalProperty)}'` : '';
          result.errors.push(`${where}: ${e.instancePath || '/'} ${e.message ?? e.keyword}${extra}`);
        }
      }
    }
    return result;
  }
}

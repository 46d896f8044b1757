/**
 * Debezium PostgreSQL change events as the connector writes them with the JSON converter
 * and `schemas.enable=false` (deploy/debezium/settings-connector.json).
 *
 * Two shapes are read: Debezium's nested envelope (the connector's default), and the
 * flattened, lean events the optional transforms in deploy/debezium/lean-transforms.json write
 * (Kafka Connect's `Flatten` and `ReplaceField`): one level of `before.<column>`,
 * `after.<column>`, `source.ts_ms`, `source.schema`, `source.table`, `op` and `ts_ms`, ~214
 * bytes instead of ~537. Reading both lets an operator add or remove the transforms without a
 * coordinated rollout (deploy/debezium/README.md says what they cost and save).
 */
export type ChangeOp = 'c' | 'u' | 'd' | 'r' | 't';

export type Row = Readonly<Record<string, unknown>>;

/**
 * The fields of Debezium's `source` block that are validated and used here. The block holds
 * more (connector, db, txId, lsn, sequence, ...): they are passed through as Debezium wrote
 * them, unvalidated, because nothing in the pipeline decides on them.
 */
export interface ChangeSource {
  readonly schema: string;
  readonly table: string;
  /** Commit time of the transaction in the database, ms since epoch. */
  readonly ts_ms: number;
  readonly [field: string]: unknown;
}

export interface ChangeEvent {
  readonly op: ChangeOp;
  readonly before: Row | null;
  readonly after: Row | null;
  readonly source: ChangeSource;
  /** When Debezium processed the event, ms since epoch. */
  readonly ts_ms: number;
}

export type DecodedChange =
  | { kind: 'change'; event: ChangeEvent }
  /** The null-value record after a delete (for log compaction); nothing to do. */
  | { kind: 'tombstone' }
  | { kind: 'invalid'; reason: string };

const OPS: ReadonlySet<string> = new Set(['c', 'u', 'd', 'r', 't']);

function isRow(v: unknown): v is Row {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/**
 * Decodes and validates one record value. Never throws: anything unexpected comes back as
 * `invalid` with a reason, for the dead-letter topic.
 */
export function decodeChangeEvent(value: Buffer | null): DecodedChange {
  if (value === null) return { kind: 'tombstone' };
  // Not a tombstone (those are null) and not an event: dead-lettered, never skipped unseen.
  if (value.length === 0) return { kind: 'invalid', reason: 'empty record value (a tombstone is a null value)' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (err) {
    return { kind: 'invalid', reason: `not JSON: ${(err as Error).message}` };
  }
  if (!isRow(parsed)) return { kind: 'invalid', reason: 'envelope is not an object' };
  // With schemas.enable=true the envelope is wrapped as {schema, payload}: accept both.
  const wrapped = isRow(parsed.payload) && 'schema' in parsed ? parsed.payload : parsed;
  const env = wrapped.source === undefined && 'source.table' in wrapped ? nestFlattened(wrapped) : wrapped;
  const { op, before, after, source, ts_ms } = env as Record<string, unknown>;
  if (typeof op !== 'string' || !OPS.has(op)) return { kind: 'invalid', reason: `unknown op ${JSON.stringify(op)}` };
  if (!isRow(source)) return { kind: 'invalid', reason: 'missing source block' };
  if (typeof source.table !== 'string' || typeof source.schema !== 'string') return { kind: 'invalid', reason: 'source without schema/table' };
  if (!isNum(source.ts_ms)) return { kind: 'invalid', reason: 'source.ts_ms is not a number' };
  if (before !== null && before !== undefined && !isRow(before)) return { kind: 'invalid', reason: 'before is not an object' };
  if (after !== null && after !== undefined && !isRow(after)) return { kind: 'invalid', reason: 'after is not an object' };
  const b = (before ?? null) as Row | null;
  const a = (after ?? null) as Row | null;
  if ((op === 'c' || op === 'r' || op === 'u') && a === null) return { kind: 'invalid', reason: `op ${op} without after` };
  if (op === 'd' && b === null) return { kind: 'invalid', reason: 'delete without before (is REPLICA IDENTITY FULL set?)' };
  // The parsed objects are returned as they are, not copied into new ones: the invalidator
  // decodes every event of a bulk change and uses a few fields of each (issue 12).
  return { kind: 'change', event: { op: op as ChangeOp, before: b, after: a, source: source as ChangeSource, ts_ms: isNum(ts_ms) ? ts_ms : source.ts_ms } };
}

/**
 * Debezium's envelope back from the one level `Flatten` made of it (delimiter `.`):
 * `{"before.version": 4}` → `{before: {version: 4}}`, and so on. `Flatten` writes a null struct
 * as null fields, so a row whose fields are all null was null (every cached table's key columns
 * and `version` are NOT NULL; a row cannot be all null). Names outside `before.`, `after.` and
 * `source.` are kept at the top (`op`, `ts_ms`). The objects have no prototype: a name such as
 * `after.__proto__` in a crafted event is then a plain field, not the row's prototype (JSON.parse
 * gives the nested envelope the same guarantee).
 */
function nestFlattened(flat: Row): Row {
  const env = fieldsOnly();
  const source = fieldsOnly();
  let before: Record<string, unknown> | undefined;
  let after: Record<string, unknown> | undefined;
  let beforeLive = false;
  let afterLive = false;
  for (const name in flat) {
    const value = flat[name];
    if (name.startsWith('before.')) {
      (before ??= fieldsOnly())[name.slice(7)] = value;
      beforeLive ||= value !== null;
    } else if (name.startsWith('after.')) {
      (after ??= fieldsOnly())[name.slice(6)] = value;
      afterLive ||= value !== null;
    } else if (name.startsWith('source.')) source[name.slice(7)] = value;
    else env[name] = value;
  }
  env.before = before && (beforeLive ? before : null);
  env.after = after && (afterLive ? after : null);
  env.source = source;
  return env;
}

const fieldsOnly = (): Record<string, unknown> => Object.create(null) as Record<string, unknown>;

/** Change topic of a table: `<topic.prefix>.<schema>.<table>`. */
export function changeTopic(prefix: string, table: string, schema = 'public'): string {
  return `${prefix}.${schema}.${table}`;
}

/**
 * Typed configuration from environment variables, validated once at start-up.
 *
 * Every problem is collected and reported together, naming the variable, what it holds and
 * what was expected, so a misconfigured pod fails its first start with one readable line
 * instead of a crash somewhere deep in a client library.
 */

export interface EnvVarSpec<T> {
  /** Human-readable meaning, used in error messages and the generated docs table. */
  readonly description: string;
  readonly default?: T;
  parse(raw: string): T;
  /** Rendering of the default for docs. */
  readonly defaultText?: string;
  /**
   * The value when unset in a process the local stack's own scripts started
   * (`SETTINGS_LOCAL_STACK=1`); anywhere else the variable is then required.
   */
  readonly localStackDefault?: T;
  readonly localStackDefaultText?: string;
}

/**
 * Set to 1 by the local stack's own scripts and nowhere else: `npm start` (run-services), the
 * test helpers and the jest global setup. Only then do endpoints (DATABASE_URL, REDIS_URL,
 * KAFKA_BROKERS) default to the local stack; a production pod that forgets one fails its start
 * instead of quietly talking to 127.0.0.1. Read from the same source as the configuration.
 */
export const LOCAL_STACK_OPT_IN = 'SETTINGS_LOCAL_STACK';

export type EnvSchema = Record<string, EnvVarSpec<unknown>>;
export type EnvValues<S extends EnvSchema> = { [K in keyof S]: S[K] extends EnvVarSpec<infer T> ? T : never };

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export function loadEnv<S extends EnvSchema>(schema: S, env: NodeJS.ProcessEnv = process.env): EnvValues<S> {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  const localStack = localStackOptIn(env, problems);
  for (const [name, spec] of Object.entries(schema)) {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      // The local stack's value first: a variable may be optional elsewhere (default '') and still
      // point at the local stack there (the invalidator's DATABASE_URL).
      if (localStack && spec.localStackDefault !== undefined) values[name] = spec.localStackDefault;
      else if (spec.default !== undefined) values[name] = spec.default;
      else problems.push(`${name} is required (${spec.description})`);
      continue;
    }
    try {
      values[name] = spec.parse(raw);
    } catch (err) {
      problems.push(`${name}=${JSON.stringify(raw)}: ${(err as Error).message} (${spec.description})`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return values as EnvValues<S>;
}

function localStackOptIn(env: NodeJS.ProcessEnv, problems: string[]): boolean {
  const raw = env[LOCAL_STACK_OPT_IN];
  if (raw === undefined || raw === '') return false;
  try {
    return parseBool(raw);
  } catch (err) {
    problems.push(`${LOCAL_STACK_OPT_IN}=${JSON.stringify(raw)}: ${(err as Error).message} (set by the local stack's scripts only)`);
    return false;
  }
}

function parseBool(raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new Error('expected true or false');
}

export const env = {
  string(description: string, def?: string): EnvVarSpec<string> {
    return { description, default: def, defaultText: def, parse: (raw) => raw };
  },
  int(description: string, def: number | undefined, range: { min?: number; max?: number } = {}): EnvVarSpec<number> {
    return {
      description,
      default: def,
      defaultText: def === undefined ? undefined : String(def),
      parse(raw) {
        if (!/^-?\d+$/.test(raw.trim())) throw new Error('expected an integer');
        const n = Number(raw);
        if (range.min !== undefined && n < range.min) throw new Error(`expected at least ${range.min}`);
        if (range.max !== undefined && n > range.max) throw new Error(`expected at most ${range.max}`);
        return n;
      },
    };
  },
  bool(description: string, def: boolean): EnvVarSpec<boolean> {
    return {
      description,
      default: def,
      defaultText: String(def),
      parse: parseBool,
    };
  },
  url(description: string, protocols: readonly string[], def?: string): EnvVarSpec<string> {
    return {
      description,
      default: def,
      defaultText: def,
      parse(raw) {
        let u: URL;
        try {
          u = new URL(raw);
        } catch {
          throw new Error('expected a URL');
        }
        if (!protocols.includes(u.protocol)) throw new Error(`expected a ${protocols.join(' or ')} URL`);
        return raw;
      },
    };
  },
  /** Comma-separated host:port list, as Kafka bootstrap servers are given. */
  hostPorts(description: string, def?: string): EnvVarSpec<string[]> {
    return {
      description,
      default: def?.split(','),
      defaultText: def,
      parse(raw) {
        const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
        if (list.length === 0) throw new Error('expected host:port[,host:port...]');
        for (const hp of list) if (!/^[A-Za-z0-9_.\-[\]:]+:\d{1,5}$/.test(hp)) throw new Error(`"${hp}" is not host:port`);
        return list;
      },
    };
  },
  /**
   * `spec` without a default: required, except where the local stack's scripts started the
   * process (SETTINGS_LOCAL_STACK=1), which gets `localRaw`. For endpoints, whose only sensible
   * default is the local stack's address.
   */
  requiredOutsideLocalStack<T>(spec: EnvVarSpec<T>, localRaw: string): EnvVarSpec<T> {
    return { ...spec, default: undefined, defaultText: undefined, localStackDefault: spec.parse(localRaw), localStackDefaultText: localRaw };
  },
  oneOf<T extends string>(description: string, choices: readonly T[], def: T): EnvVarSpec<T> {
    return {
      description,
      default: def,
      defaultText: def,
      parse(raw) {
        if (!(choices as readonly string[]).includes(raw)) throw new Error(`expected one of ${choices.join(', ')}`);
        return raw as T;
      },
    };
  },
};

/**
 * Rows for a README/operations configuration table, so docs are generated from the schema.
 * `localStackDefault`: what an unset required variable means under SETTINGS_LOCAL_STACK=1.
 */
export function describeEnv(schema: EnvSchema): Array<{ name: string; default: string; description: string; localStackDefault?: string }> {
  return Object.entries(schema).map(([name, spec]) => ({
    name,
    default: spec.defaultText ?? (spec.default === undefined ? '(required)' : String(spec.default)),
    description: spec.description,
    ...(spec.localStackDefaultText === undefined ? {} : { localStackDefault: spec.localStackDefaultText }),
  }));
}

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
}

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
  for (const [name, spec] of Object.entries(schema)) {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      if (spec.default === undefined) problems.push(`${name} is required (${spec.description})`);
      else values[name] = spec.default;
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
      parse(raw) {
        const v = raw.trim().toLowerCase();
        if (['1', 'true', 'yes', 'on'].includes(v)) return true;
        if (['0', 'false', 'no', 'off'].includes(v)) return false;
        throw new Error('expected true or false');
      },
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

/** Rows for a README/operations configuration table, so docs are generated from the schema. */
export function describeEnv(schema: EnvSchema): Array<{ name: string; default: string; description: string }> {
  return Object.entries(schema).map(([name, spec]) => ({
    name,
    default: spec.defaultText ?? (spec.default === undefined ? '(required)' : String(spec.default)),
    description: spec.description,
  }));
}

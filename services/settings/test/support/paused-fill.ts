import type { ReadThroughHooks } from '../../src/cache/read-through';

function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Stalls one reader between its database read and its fill: the race the versioned fill exists
 * for. Pass `hooks` to the test server, `pause(key)` before the read, await `loaded` for the
 * version it read (0 for no row), make the world change, then `release()`.
 */
export class PausedFill {
  private target = '';
  private stalled = deferred<bigint>();
  private gate = deferred();

  readonly hooks: ReadThroughHooks = {
    beforeFill: async (key, version) => {
      if (key !== this.target) return;
      this.target = ''; // only the first fill of the key stalls
      this.stalled.resolve(version);
      await this.gate.promise;
    },
  };

  /** The next fill of `key` stalls until `release()`. */
  pause(key: string): void {
    this.target = key;
    this.stalled = deferred<bigint>();
    this.gate = deferred();
  }

  /** Resolves with the version the stalled reader loaded, once it has stalled. */
  get loaded(): Promise<bigint> {
    return this.stalled.promise;
  }

  release(): void {
    this.gate.resolve();
  }
}

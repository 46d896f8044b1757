export class StartupError extends Error {
  constructor(
    readonly component: string,
    message: string,
    readonly log?: string,
  ) {
    super(`${component}: ${message}${log ? ` (log: ${log})` : ''}`);
    this.name = 'StartupError';
  }
}

/**
 * Polls `probe` until it returns a truthy value or the deadline passes. The last probe
 * error is kept so a timeout says *why* the component was not ready, not only that it wasn't.
 */
export async function waitUntil<T>(
  component: string,
  what: string,
  probe: () => Promise<T | undefined | false>,
  opts: { timeoutMs: number; intervalMs?: number; log?: string; alive?: () => boolean },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (opts.alive && !opts.alive()) throw new StartupError(component, `process exited while waiting for ${what}`, opts.log);
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? `: last error ${lastError.message}` : '';
      throw new StartupError(component, `timed out after ${opts.timeoutMs / 1000}s waiting for ${what}${why}`, opts.log);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 500));
  }
}

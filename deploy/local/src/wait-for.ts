/**
 * Polls `cond` every `intervalMs` until it holds; fails after `timeoutMs` naming `what`. For
 * tests and harnesses (a stack component's start-up uses waitUntil, which keeps the last error).
 */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Exponential backoff with jitter: attempt n waits between half and all of min(max, base·2ⁿ).
 * Clients dropped together (a server restart, a drain notification) spread out instead of
 * returning in one wave. The typed client, the CLI and the browser all reconnect by it; the file
 * imports nothing, so the browser loads it as `@plauder/runtime/backoff` without the rest of the package.
 */
export function jitteredBackoff(attempt: number, baseMs = 500, maxMs = 15_000): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

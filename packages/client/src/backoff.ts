/**
 * Exponential backoff with jitter: attempt n waits between half and all of min(max, base·2ⁿ).
 * Clients dropped together (a server restart, a drain notification) spread out instead of
 * returning in one wave. Free of Node APIs so browsers can use it too.
 */
export function jitteredBackoff(attempt: number, baseMs = 500, maxMs = 15_000): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

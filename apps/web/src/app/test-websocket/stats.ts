/** The p-th percentile (nearest rank) of a list of numbers; `null` for an empty list. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? null;
}

/** Keeps the newest `limit` items: long sessions cannot grow the page's memory. */
export function capped<T>(items: readonly T[], item: T, limit: number): T[] {
  const next = items.length >= limit ? items.slice(items.length - limit + 1) : [...items];
  next.push(item);
  return next;
}

export const formatMs = (ms: number | null) => (ms === null ? "–" : `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`);

export const formatTime = (epochMs: number) =>
  new Date(epochMs).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit" });

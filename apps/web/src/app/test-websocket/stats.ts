/** Keeps the newest `limit` items: long sessions cannot grow the page's memory. */
export function capped<T>(items: readonly T[], item: T, limit: number): T[] {
  const next = items.length >= limit ? items.slice(items.length - limit + 1) : [...items];
  next.push(item);
  return next;
}

/** A duration for the page; "–" when there is none (`null`, or `NaN` from an empty percentile). */
export const formatMs = (ms: number | null) =>
  ms === null || Number.isNaN(ms) ? "–" : `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;

export const formatTime = (epochMs: number) =>
  new Date(epochMs).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit" });

/**
 * A check shared by every caller: at most one run at a time, and its answer reused for `maxAgeMs`
 * after it settles. Health is public, so without this every call (and a flood of them) would be a
 * database query; with it, an instance pings at most about once per `maxAgeMs` however many ask.
 */
export type CachedProbe<T> = {
  /** The last answer if it is fresh, else the answer of the run in flight, else of a new run. */
  get(): Promise<T>;
};

export function createCachedProbe<T>(
  run: () => Promise<T>,
  options: { maxAgeMs: number; now?: () => number },
): CachedProbe<T> {
  const now = options.now ?? Date.now;
  let settled: { value: T; at: number } | null = null;
  let inFlight: Promise<T> | null = null;
  return {
    get() {
      if (settled && now() - settled.at < options.maxAgeMs) return Promise.resolve(settled.value);
      inFlight ??= run().then(
        (value) => {
          // Aged from when the answer came, so a slow probe is not stale on arrival.
          settled = { value, at: now() };
          inFlight = null;
          return value;
        },
        (error: unknown) => {
          // A probe that throws is not cached: the next caller tries again.
          inFlight = null;
          throw error;
        },
      );
      return inFlight;
    },
  };
}

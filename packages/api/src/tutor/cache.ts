import { createHash } from "node:crypto";
import { describeError, getEnv, getLogger, getSharedRedis, processSingleton } from "@plauder/runtime";
import type { z } from "zod";
import { metrics } from "../metrics";

export type CacheKind = "correction" | "scenario";

/**
 * A cache of the tutor's deterministic outputs (corrections at temperature 0, generated scenarios),
 * keyed by what decides them: the model, the prompt's version and the input. Redis when there is
 * one (shared by every instance), else a bounded map in this process. A cached value is checked
 * with its schema again when read, so a stale or foreign value is a miss, never a wrong answer.
 */
export interface OutputCache {
  get<T>(kind: CacheKind, key: readonly string[], schema: z.ZodType<T>): Promise<T | undefined>;
  set(kind: CacheKind, key: readonly string[], value: unknown): Promise<void>;
}

const memoryLimit = 1_000;

function digest(kind: CacheKind, key: readonly string[]): string {
  // JSON of the parts, so ["a|b", "c"] and ["a", "b|c"] cannot meet.
  return `${kind}:${createHash("sha256").update(JSON.stringify(key)).digest("hex")}`;
}

export function getOutputCache(): OutputCache {
  return processSingleton("tutor.cache", () => {
    const { REDIS_KEY_PREFIX: prefix, TUTOR_CACHE_SECONDS: ttlSeconds } = getEnv();
    const redis = getSharedRedis();
    const memory = new Map<string, string>();
    const log = getLogger().child({ component: "tutor-cache" });
    // Kept with the cache (one per process), not in the module: the server's bundle and Next's each load this file.
    const counts = new Map<CacheKind, { hits: number; lookups: number }>();
    const count = (kind: CacheKind, hit: boolean) => {
      const m = metrics();
      m.tutorCacheLookups.inc({ kind, result: hit ? "hit" : "miss" });
      const entry = counts.get(kind) ?? { hits: 0, lookups: 0 };
      entry.lookups++;
      if (hit) entry.hits++;
      counts.set(kind, entry);
      m.tutorCacheHitRatio.set({ kind }, entry.hits / entry.lookups);
    };
    const read = async (id: string) => (redis ? redis.get(`${prefix}tutor-cache:${id}`) : (memory.get(id) ?? null));
    return {
      async get(kind, key, schema) {
        let raw: string | null = null;
        try {
          raw = await read(digest(kind, key));
        } catch (error) {
          // A cache that cannot answer is a miss: the model is asked instead.
          log.warn({ err: describeError(error) }, "tutor cache unavailable");
        }
        const parsed = raw === null ? undefined : schema.safeParse(JSON.parse(raw));
        const value = parsed?.success ? parsed.data : undefined;
        count(kind, value !== undefined);
        return value;
      },
      async set(kind, key, value) {
        const id = digest(kind, key);
        const raw = JSON.stringify(value);
        if (!redis) {
          if (memory.size >= memoryLimit) memory.delete(memory.keys().next().value as string);
          memory.set(id, raw);
          return;
        }
        await redis.set(`${prefix}tutor-cache:${id}`, raw, "EX", ttlSeconds).catch((error: unknown) => {
          log.warn({ err: describeError(error) }, "could not store in the tutor cache");
        });
      },
    };
  });
}

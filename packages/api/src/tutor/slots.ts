import type { Redis } from "ioredis";

/**
 * Places for generations, per person, shared by every instance: at most `limit` answers generate
 * at once, the next `maxQueued` wait in line (first come, first served), and more are refused.
 * Each place and each place in line is a lease the holder renews; a crashed instance's leases run
 * out, so its places free themselves.
 */
export interface GenerationSlots {
  /**
   * Takes a place for `jobId` or keeps it in line. Answers `0` when it may generate now, `n > 0`
   * for its place in line (1 is next), or `"full"` when the line is full (only on the first call).
   * Calling it again renews the lease and moves it up when places have freed.
   */
  acquire(userId: string, jobId: string): Promise<number | "full">;
  /** Gives up a place or a place in line. */
  release(userId: string, jobId: string): Promise<void>;
}

export type SlotLimits = { limit: number; maxQueued: number; leaseMs: number };

/**
 * KEYS: running (zset jobId → lease end), waiting (zset jobId → arrival), waiting leases (zset jobId → lease end).
 * ARGV: jobId, limit, maxQueued, now, leaseMs.
 */
const acquireScript = `
local now = tonumber(ARGV[4])
local leaseEnd = now + tonumber(ARGV[5])
local function keep()
  for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, ARGV[5] * 4) end
  redis.call('PEXPIRE', KEYS[2] .. ':seq', ARGV[5] * 4)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for _, job in ipairs(expired) do
  redis.call('ZREM', KEYS[2], job)
  redis.call('ZREM', KEYS[3], job)
end
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], leaseEnd, ARGV[1])
  keep()
  return 0
end
local limit = tonumber(ARGV[2])
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  if redis.call('ZCARD', KEYS[2]) + redis.call('ZCARD', KEYS[1]) >= limit + tonumber(ARGV[3]) then
    return -1
  end
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[2] .. ':seq'), ARGV[1])
end
redis.call('ZADD', KEYS[3], leaseEnd, ARGV[1])
local free = limit - redis.call('ZCARD', KEYS[1])
local rank = redis.call('ZRANK', KEYS[2], ARGV[1])
if rank < free then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('ZADD', KEYS[1], leaseEnd, ARGV[1])
  keep()
  return 0
end
keep()
return rank - free + 1
`;

type AcquireCommand = (
  running: string,
  waiting: string,
  leases: string,
  jobId: string,
  limit: number,
  maxQueued: number,
  now: number,
  leaseMs: number,
) => Promise<number>;

export function createRedisGenerationSlots(redis: Redis, prefix: string, limits: SlotLimits): GenerationSlots {
  const name = "plauderTutorAcquire";
  if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: 3, lua: acquireScript });
  // defineCommand adds the method at run time; ioredis cannot type it.
  const acquire = (redis as unknown as Record<string, AcquireCommand>)[name] as AcquireCommand;
  // One hash tag per person keeps their keys on one Redis Cluster shard.
  const keys = (userId: string) => {
    const base = `${prefix}{tutor:${userId}}`;
    return [`${base}:running`, `${base}:waiting`, `${base}:waiting-leases`] as const;
  };
  return {
    async acquire(userId, jobId) {
      const [running, waiting, leases] = keys(userId);
      const answer = await acquire.call(
        redis,
        running,
        waiting,
        leases,
        jobId,
        limits.limit,
        limits.maxQueued,
        Date.now(),
        limits.leaseMs,
      );
      return answer < 0 ? "full" : answer;
    },
    async release(userId, jobId) {
      const [running, waiting, leases] = keys(userId);
      await redis.multi().zrem(running, jobId).zrem(waiting, jobId).zrem(leases, jobId).exec();
    },
  };
}

/** The same rules in this process alone (no Redis: one instance). */
export function createMemoryGenerationSlots(limits: SlotLimits): GenerationSlots {
  const people = new Map<string, { running: Set<string>; waiting: string[] }>();
  const of = (userId: string) => {
    let person = people.get(userId);
    if (!person) {
      person = { running: new Set(), waiting: [] };
      people.set(userId, person);
    }
    return person;
  };
  return {
    async acquire(userId, jobId) {
      const person = of(userId);
      if (person.running.has(jobId)) return 0;
      if (!person.waiting.includes(jobId)) {
        if (person.running.size + person.waiting.length >= limits.limit + limits.maxQueued) return "full";
        person.waiting.push(jobId);
      }
      const free = limits.limit - person.running.size;
      const rank = person.waiting.indexOf(jobId);
      if (rank < free) {
        person.waiting.splice(rank, 1);
        person.running.add(jobId);
        return 0;
      }
      return rank - free + 1;
    },
    async release(userId, jobId) {
      const person = people.get(userId);
      if (!person) return;
      person.running.delete(jobId);
      person.waiting = person.waiting.filter((waiting) => waiting !== jobId);
      if (person.running.size === 0 && person.waiting.length === 0) people.delete(userId);
    },
  };
}

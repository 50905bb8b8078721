import { describeError, getLogger } from "@plauder/runtime";
import type { Redis } from "ioredis";
import { z } from "zod";
import type { Bus } from "../bus/index";
import { newEpoch, type PublicationBody } from "./types";

/** Where an ephemeral log stands; an empty epoch means it does not exist (never written, expired or lost). */
export type EphemeralHead = { epoch: string; head: number };
export type EphemeralEntry = { offset: number; body: PublicationBody };

/**
 * The channels' recent ephemeral publications: typing, the tutor's token deltas. Bounded in length
 * and age, never written to Postgres. Appending also publishes on the channel's bus topic, in the
 * same step, so live order is offset order.
 */
export interface EphemeralLog {
  /** Appends one publication; resolves with its epoch and offset. Appends in one tick share one round trip. */
  append(channel: string, topic: string, body: PublicationBody): Promise<{ epoch: string; offset: number }>;
  head(channel: string): Promise<EphemeralHead>;
  /** Entries after `afterOffset`, oldest first, at most `limit`, and the epoch they belong to. */
  after(channel: string, afterOffset: number, limit: number): Promise<{ epoch: string; entries: EphemeralEntry[] }>;
}

export type EphemeralLimits = { maxEntries: number; ttlSeconds: number };

const bodySchema = z.object({
  text: z.string(),
  sender: z.object({ id: z.string(), name: z.string() }),
  sentAt: z.number(),
});

/**
 * One call appends a run to one channel. A new epoch starts whenever the epoch is gone (never
 * written, expired together with the log, or lost with Redis); the old stream is dropped then so
 * offsets can start again at 1. Every key carries the `{ch:<name>}` hash tag, so on Redis Cluster
 * the whole script runs on the shard that owns the channel, and PUBLISH becomes SPUBLISH there.
 *
 * KEYS: meta hash, stream. ARGV: topic, publish command (empty: the caller publishes), max entries,
 * ttl seconds, candidate epoch, then one JSON body per publication.
 */
const appendScript = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[5]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'offset', 0)
end
local n = #ARGV - 5
local last = redis.call('HINCRBY', KEYS[1], 'offset', n)
local first = last - n + 1
for i = 1, n do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], (first + i - 1) .. '-1', 'b', ARGV[5 + i])
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
if ARGV[2] ~= '' then
  redis.call(ARGV[2], ARGV[1], '{"kind":"ephemeral","epoch":"' .. epoch .. '","first":' .. first .. ',"bodies":[' .. table.concat(ARGV, ',', 6) .. ']}')
end
return {epoch, first}
`;

type AppendCommand = (
  meta: string,
  stream: string,
  topic: string,
  publishCommand: string,
  maxEntries: number,
  ttlSeconds: number,
  epoch: string,
  ...bodies: string[]
) => Promise<[string, number]>;

type Waiting = {
  body: string;
  resolve: (value: { epoch: string; offset: number }) => void;
  reject: (e: unknown) => void;
};

/** Collects one tick's appends per channel so each channel costs one script call per tick. */
class TickBatcher {
  private readonly waiting = new Map<string, { topic: string; items: Waiting[] }>();
  private scheduled = false;

  constructor(private readonly run: (channel: string, topic: string, bodies: string[]) => Promise<[string, number]>) {}

  add(channel: string, topic: string, body: PublicationBody): Promise<{ epoch: string; offset: number }> {
    return new Promise((resolve, reject) => {
      let group = this.waiting.get(channel);
      if (!group) {
        group = { topic, items: [] };
        this.waiting.set(channel, group);
      }
      group.items.push({ body: JSON.stringify(body), resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const groups = [...this.waiting];
    this.waiting.clear();
    for (const [channel, { topic, items }] of groups) {
      this.run(
        channel,
        topic,
        items.map((item) => item.body),
      ).then(
        ([epoch, first]) => {
          for (const [index, item] of items.entries()) item.resolve({ epoch, offset: first + index });
        },
        (error: unknown) => {
          for (const item of items) item.reject(error);
        },
      );
    }
  }
}

/**
 * How appended runs reach the channel's topic: by the script itself (the bus is the same Redis, so
 * live order is offset order), or by the caller's bus after the script (the bus is elsewhere, say a
 * Redis Cluster; two instances' runs may then arrive out of order, and the feed fills the gap from
 * the log).
 */
export type EphemeralPublishing = { inScript: "PUBLISH" } | { bus: Bus };

export function createRedisEphemeralLog(
  redis: Redis,
  prefix: string,
  limits: EphemeralLimits,
  publishing: EphemeralPublishing = { inScript: "PUBLISH" },
): EphemeralLog {
  const name = "plauderEphemeralAppend";
  if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: 2, lua: appendScript });
  // defineCommand adds the method at run time; ioredis cannot type it.
  const append = (redis as unknown as Record<string, AppendCommand>)[name] as AppendCommand;
  const metaKey = (channel: string) => `${prefix}{ch:${channel}}:meta`;
  const streamKey = (channel: string) => `${prefix}{ch:${channel}}:log`;
  const publishCommand = "inScript" in publishing ? publishing.inScript : "";
  const batcher = new TickBatcher(async (channel, topic, bodies) => {
    const [epoch, first] = await append.call(
      redis,
      metaKey(channel),
      streamKey(channel),
      topic,
      publishCommand,
      limits.maxEntries,
      limits.ttlSeconds,
      newEpoch(),
      ...bodies,
    );
    if ("bus" in publishing) {
      // Stored already: if the bus fails, subscribers still find the run in the log on their next gap.
      await publishing.bus
        .publish(topic, `{"kind":"ephemeral","epoch":"${epoch}","first":${first},"bodies":[${bodies.join(",")}]}`)
        .catch((error: unknown) =>
          getLogger().warn({ channel, err: describeError(error) }, "an ephemeral run is stored but not announced"),
        );
    }
    return [epoch, first];
  });

  const head = async (channel: string): Promise<EphemeralHead> => {
    const [epoch, offset] = await redis.hmget(metaKey(channel), "epoch", "offset");
    return epoch ? { epoch, head: Number(offset ?? 0) } : { epoch: "", head: 0 };
  };

  return {
    append: (channel, topic, body) => batcher.add(channel, topic, body),
    head,
    async after(channel, afterOffset, limit) {
      // Read the epoch and the entries in one transaction, so they belong together.
      const result = await redis
        .multi()
        .hget(metaKey(channel), "epoch")
        .xrange(streamKey(channel), `(${afterOffset}-1`, "+", "COUNT", limit)
        .exec();
      const epoch = (result?.[0]?.[1] as string | null) ?? "";
      const raw = (result?.[1]?.[1] as [string, string[]][] | null) ?? [];
      const entries: EphemeralEntry[] = [];
      for (const [id, fields] of raw) {
        const parsed = bodySchema.safeParse(JSON.parse(fields[1] ?? "null"));
        if (parsed.success) entries.push({ offset: Number.parseInt(id, 10), body: parsed.data });
      }
      return { epoch, entries };
    },
  };
}

/** The embedded defaults' ephemeral log: one process, so a map and the in-process bus. */
export function createMemoryEphemeralLog(bus: Bus, limits: EphemeralLimits): EphemeralLog {
  const logs = new Map<string, { epoch: string; head: number; entries: EphemeralEntry[]; touched: number }>();
  const current = (channel: string) => {
    const log = logs.get(channel);
    if (log && Date.now() - log.touched > limits.ttlSeconds * 1000) {
      logs.delete(channel);
      return undefined;
    }
    return log;
  };
  return {
    async append(channel, topic, body) {
      let log = current(channel);
      if (!log) {
        log = { epoch: newEpoch(), head: 0, entries: [], touched: Date.now() };
        logs.set(channel, log);
      }
      const offset = ++log.head;
      log.touched = Date.now();
      log.entries.push({ offset, body });
      if (log.entries.length > limits.maxEntries) log.entries.shift();
      await bus.publish(topic, JSON.stringify({ kind: "ephemeral", epoch: log.epoch, first: offset, bodies: [body] }));
      return { epoch: log.epoch, offset };
    },
    async head(channel) {
      const log = current(channel);
      return log ? { epoch: log.epoch, head: log.head } : { epoch: "", head: 0 };
    },
    async after(channel, afterOffset, limit) {
      const log = current(channel);
      if (!log) return { epoch: "", entries: [] };
      return { epoch: log.epoch, entries: log.entries.filter((entry) => entry.offset > afterOffset).slice(0, limit) };
    },
  };
}

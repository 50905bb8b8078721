import type { Redis } from "ioredis";
import { z } from "zod";

/** The answer a conversation is generating now, as every instance can see it. */
export const activeGenerationSchema = z.object({
  messageId: z.uuid(),
  /** The instance running it: the one Stop must reach. */
  instanceId: z.string(),
  state: z.enum(["queued", "streaming"]),
  /** Place in line while queued (1 is next). */
  position: z.number().int().nonnegative(),
});
export type ActiveGeneration = z.infer<typeof activeGenerationSchema>;

/**
 * Where a generation under way lives between instances: which answer a conversation is writing
 * (a lease the running instance renews, so a crashed one's record runs out) and the text so far,
 * which a client that arrives mid-answer reads once and then follows the channel's deltas.
 */
export interface GenerationState {
  /** Records the conversation's generation; false when another one holds it. */
  claim(conversationId: string, record: ActiveGeneration, leaseMs: number): Promise<boolean>;
  /** Renews and updates the record; false when it is no longer this generation's. */
  renew(conversationId: string, record: ActiveGeneration, leaseMs: number): Promise<boolean>;
  active(conversationId: string): Promise<ActiveGeneration | null>;
  /** Removes the record if it is still `messageId`'s. */
  clear(conversationId: string, messageId: string): Promise<void>;
  /**
   * Appends to the text so far. It goes out on the shared command connection, so a publication
   * issued after it on that connection is run after it. The first piece also sets the text's
   * lifetime, so the pieces after it cost one command each.
   */
  append(messageId: string, text: string, first: boolean): Promise<void>;
  text(messageId: string): Promise<string>;
  dropText(messageId: string): Promise<void>;
}

// Compare-and-set on the record's message id: only the generation that holds it may renew or clear it.
const renewScript = `
local current = redis.call('GET', KEYS[1])
if not current or cjson.decode(current).messageId ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`;
const clearScript = `
local current = redis.call('GET', KEYS[1])
if current and cjson.decode(current).messageId == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`;

type RenewCommand = (key: string, messageId: string, record: string, leaseMs: number) => Promise<number>;
type ClearCommand = (key: string, messageId: string) => Promise<number>;

// A partial answer outlives its generation briefly at most; an hour covers the longest one.
const textTtlSeconds = 3_600;

export function createRedisGenerationState(redis: Redis, prefix: string): GenerationState {
  if (!("plauderTutorRenew" in redis)) {
    redis.defineCommand("plauderTutorRenew", { numberOfKeys: 1, lua: renewScript });
    redis.defineCommand("plauderTutorClear", { numberOfKeys: 1, lua: clearScript });
  }
  // defineCommand adds the methods at run time; ioredis cannot type them.
  const commands = redis as unknown as { plauderTutorRenew: RenewCommand; plauderTutorClear: ClearCommand };
  const activeKey = (conversationId: string) => `${prefix}{tutor-conversation:${conversationId}}:active`;
  const textKey = (messageId: string) => `${prefix}tutor-text:${messageId}`;
  return {
    async claim(conversationId, record, leaseMs) {
      const answer = await redis.set(activeKey(conversationId), JSON.stringify(record), "PX", leaseMs, "NX");
      return answer === "OK";
    },
    async renew(conversationId, record, leaseMs) {
      const answer = await commands.plauderTutorRenew.call(
        redis,
        activeKey(conversationId),
        record.messageId,
        JSON.stringify(record),
        leaseMs,
      );
      return answer === 1;
    },
    async active(conversationId) {
      const raw = await redis.get(activeKey(conversationId));
      if (!raw) return null;
      const parsed = activeGenerationSchema.safeParse(JSON.parse(raw));
      return parsed.success ? parsed.data : null;
    },
    async clear(conversationId, messageId) {
      await commands.plauderTutorClear.call(redis, activeKey(conversationId), messageId);
    },
    async append(messageId, text, first) {
      if (first) await redis.multi().append(textKey(messageId), text).expire(textKey(messageId), textTtlSeconds).exec();
      else await redis.append(textKey(messageId), text);
    },
    async text(messageId) {
      return (await redis.get(textKey(messageId))) ?? "";
    },
    async dropText(messageId) {
      await redis.del(textKey(messageId));
    },
  };
}

/** The same in this process alone (no Redis: one instance). Leases are checked when read. */
export function createMemoryGenerationState(): GenerationState {
  const records = new Map<string, { record: ActiveGeneration; until: number }>();
  const texts = new Map<string, string>();
  const live = (conversationId: string) => {
    const entry = records.get(conversationId);
    if (entry && entry.until <= Date.now()) {
      records.delete(conversationId);
      return undefined;
    }
    return entry;
  };
  return {
    async claim(conversationId, record, leaseMs) {
      if (live(conversationId)) return false;
      records.set(conversationId, { record, until: Date.now() + leaseMs });
      return true;
    },
    async renew(conversationId, record, leaseMs) {
      if (live(conversationId)?.record.messageId !== record.messageId) return false;
      records.set(conversationId, { record, until: Date.now() + leaseMs });
      return true;
    },
    async active(conversationId) {
      return live(conversationId)?.record ?? null;
    },
    async clear(conversationId, messageId) {
      if (records.get(conversationId)?.record.messageId === messageId) records.delete(conversationId);
    },
    async append(messageId, text) {
      texts.set(messageId, (texts.get(messageId) ?? "") + text);
    },
    async text(messageId) {
      return texts.get(messageId) ?? "";
    },
    async dropText(messageId) {
      texts.delete(messageId);
    },
  };
}

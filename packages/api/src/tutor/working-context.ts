import { describeError, getEnv, getLogger, getSharedRedis, processSingleton } from "@plauder/runtime";
import { buildPrompt, type ChatMessage, type ChatProvider, summaryRequest, type Turn } from "@plauder/tutor";
import { z } from "zod";
import { listMessages } from "./store";

/**
 * What the model is shown of a conversation: a rolling summary of the older part and the recent
 * turns, kept under the model's context size. It lives in Redis (every instance shares it) and is
 * rebuilt from Postgres, the record, whenever it is missing: after a Redis restart, after
 * regenerate or edit, or on a conversation not used for a day.
 */
const workingContextSchema = z.object({
  summary: z.string().optional(),
  turns: z.array(z.object({ role: z.enum(["user", "assistant"]), content: z.string() })),
});
export type WorkingContext = z.infer<typeof workingContextSchema>;

const ttlSeconds = 86_400;
// Room kept free in the context window for the answer and the system prompt's growth.
const memoryLimit = 500;

interface ContextStorage {
  get(conversationId: string): Promise<string | null>;
  set(conversationId: string, value: string): Promise<void>;
  delete(conversationId: string): Promise<void>;
}

function storage(): ContextStorage {
  const redis = getSharedRedis();
  const prefix = getEnv().REDIS_KEY_PREFIX;
  if (redis) {
    const key = (id: string) => `${prefix}tutor-context:${id}`;
    return {
      get: (id) => redis.get(key(id)),
      set: async (id, value) => {
        await redis.set(key(id), value, "EX", ttlSeconds);
      },
      delete: async (id) => {
        await redis.del(key(id));
      },
    };
  }
  const map = new Map<string, string>();
  return {
    get: async (id) => map.get(id) ?? null,
    set: async (id, value) => {
      if (!map.has(id) && map.size >= memoryLimit) map.delete(map.keys().next().value as string);
      map.set(id, value);
    },
    delete: async (id) => {
      map.delete(id);
    },
  };
}

export class WorkingContexts {
  private readonly log = getLogger().child({ component: "tutor-context" });

  constructor(private readonly store: ContextStorage = storage()) {}

  /** The conversation's working context, from Redis or rebuilt from Postgres. */
  async load(conversationId: string): Promise<WorkingContext> {
    try {
      const raw = await this.store.get(conversationId);
      if (raw) {
        const parsed = workingContextSchema.safeParse(JSON.parse(raw));
        if (parsed.success) return parsed.data;
      }
    } catch (error) {
      this.log.warn({ err: describeError(error) }, "working context unavailable; rebuilding it from the record");
    }
    return this.rebuild(conversationId);
  }

  private async rebuild(conversationId: string): Promise<WorkingContext> {
    const rows = await listMessages(conversationId);
    const turns: Turn[] = rows
      .filter((row) => row.content.length > 0 && (row.status === "complete" || row.status === "stopped"))
      .map((row) => ({ role: row.role, content: row.content }));
    return { turns };
  }

  /** The messages to send the model: the system prompt, the summary and the newest turns that fit. */
  async prompt(conversationId: string, system: string): Promise<{ messages: ChatMessage[]; overflow: Turn[] }> {
    const context = await this.load(conversationId);
    const env = getEnv();
    return buildPrompt({
      system,
      ...(context.summary ? { summary: context.summary } : {}),
      turns: context.turns,
      contextTokens: env.TUTOR_CONTEXT_TOKENS,
      reserveTokens: env.TUTOR_ANSWER_MAX_TOKENS,
    });
  }

  /** Adds turns after an answer (the learner's message and the answer). */
  async append(conversationId: string, turns: Turn[]): Promise<void> {
    const context = await this.load(conversationId);
    context.turns.push(...turns);
    await this.save(conversationId, context);
  }

  /** Forgets the working context; the next use rebuilds it from the record. */
  async invalidate(conversationId: string): Promise<void> {
    await this.store.delete(conversationId).catch(() => undefined);
  }

  /**
   * Folds the turns that no longer fit into the rolling summary. Runs after an answer, off the
   * answer's path; when the model cannot summarise, the turns are simply left out.
   */
  async compact(
    conversationId: string,
    overflow: readonly Turn[],
    provider: ChatProvider,
    model: string,
  ): Promise<void> {
    if (overflow.length === 0) return;
    const context = await this.load(conversationId);
    let summary = context.summary;
    try {
      const request = summaryRequest(summary, overflow);
      let text = "";
      const signal = AbortSignal.timeout(60_000);
      for await (const chunk of provider.chat({
        model,
        messages: request.messages,
        options: { temperature: 0.2, maxTokens: 300 },
        signal,
      })) {
        if (chunk.type === "delta") text += chunk.text;
      }
      summary = text.trim().slice(0, 2_000) || summary;
    } catch (error) {
      this.log.warn({ err: describeError(error) }, "could not summarise older turns; leaving them out");
    }
    const left = context.turns.slice(overflow.length);
    await this.save(conversationId, { ...(summary ? { summary } : {}), turns: left });
  }

  private async save(conversationId: string, context: WorkingContext): Promise<void> {
    await this.store.set(conversationId, JSON.stringify(context)).catch((error: unknown) => {
      this.log.warn({ err: describeError(error) }, "could not store the working context");
    });
  }
}

export function getWorkingContexts(): WorkingContexts {
  return processSingleton("tutor.workingContexts", () => new WorkingContexts());
}

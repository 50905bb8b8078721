import { describeError, getEnv, getInstanceId, getLogger, getSharedRedis, processSingleton } from "@plauder/runtime";
import {
  ProviderError,
  ProviderStreamError,
  ProviderTimeoutError,
  type SelectedProvider,
  tutorSystemPrompt,
} from "@plauder/tutor";
import { z } from "zod";
import { getBus } from "../bus/index";
import { parseBusMessage } from "../bus/messages";
import { metrics } from "../metrics";
import type { FinalStatus, TutorEvent } from "./events";
import {
  type ActiveGeneration,
  createMemoryGenerationState,
  createRedisGenerationState,
  type GenerationState,
} from "./generation-state";
import { explainMissing, getTutorProvider } from "./provider";
import { publishTutorEvent } from "./publish";
import { createMemoryGenerationSlots, createRedisGenerationSlots, type GenerationSlots } from "./slots";
import { finishAnswer, markStreaming, type TutorConversation } from "./store";
import { getWorkingContexts } from "./working-context";

/** One answer to generate. */
export type GenerationJob = {
  user: { id: string; name: string };
  conversation: TutorConversation;
  answerId: string;
};

// A running or waiting generation renews its leases this often; a crashed instance's leases run
// out after `leaseMs`, which frees its places and lets readers see its answers as interrupted.
const renewEveryMs = 5_000;
const leaseMs = 15_000;
// A waiting generation asks again this often even without a "place freed" notice (one may be lost).
const retryWaitingMs = 1_000;

const stopSchema = z.object({ messageId: z.uuid() });
const freedSchema = z.object({ userId: z.string() });

/** Why a generation was aborted: Stop, or the server shutting down. */
class Stopped extends Error {
  constructor(readonly why: "stop" | "shutdown") {
    super(why === "stop" ? "stopped" : "the server is shutting down");
    this.name = "Stopped";
  }
}

type Running = { job: GenerationJob; controller: AbortController; wake: () => void; record: ActiveGeneration };

/**
 * Runs the tutor's answers on this instance. An answer waits for a place (the person's limit is
 * shared by every instance), then streams from the model to the conversation's channel as
 * ephemeral publications, while the text so far is kept where any instance can read it. Stop
 * reaches the instance running an answer over the bus; disconnecting does not stop anything.
 */
export class GenerationRunner {
  private readonly jobs = new Map<string, Running>();
  private readonly log = getLogger().child({ component: "tutor-runner" });
  private readonly unsubscribe: Array<() => void> = [];
  private closing = false;

  constructor(
    readonly state: GenerationState,
    readonly slots: GenerationSlots,
    private readonly topics: { stop: string; freed: string },
  ) {
    const bus = getBus();
    this.unsubscribe.push(
      bus.subscribe(topics.stop, (payload) => {
        const stop = parseBusMessage(stopSchema, payload, this.log, "tutor stop");
        if (stop) this.stopHere(stop.messageId);
      }),
      bus.subscribe(topics.freed, (payload) => {
        const freed = parseBusMessage(freedSchema, payload, this.log, "tutor place freed");
        if (!freed) return;
        for (const running of this.jobs.values()) if (running.job.user.id === freed.userId) running.wake();
      }),
    );
  }

  /** Answers this instance is generating or holding in line. */
  size(): number {
    return this.jobs.size;
  }

  /**
   * Starts a job whose place was already taken with {@link GenerationSlots.acquire} (`position` is
   * what it answered) and whose conversation was claimed. Resolves at once; the answer goes on.
   */
  start(job: GenerationJob, position: number): void {
    const controller = new AbortController();
    const record: ActiveGeneration = {
      messageId: job.answerId,
      instanceId: getInstanceId(),
      state: "queued",
      position,
    };
    const running: Running = { job, controller, wake: noop, record };
    this.jobs.set(job.answerId, running);
    this.countStreams();
    void this.run(running, position).finally(() => {
      this.jobs.delete(job.answerId);
      this.countStreams();
    });
  }

  /** Stops an answer wherever it runs: here at once, elsewhere through the bus. */
  async stop(messageId: string): Promise<void> {
    this.stopHere(messageId);
    await getBus()
      .publish(this.topics.stop, JSON.stringify({ messageId }))
      .catch((error: unknown) => {
        this.log.warn({ err: describeError(error) }, "could not send Stop to other instances");
        throw error;
      });
  }

  private stopHere(messageId: string): void {
    this.jobs.get(messageId)?.controller.abort(new Stopped("stop"));
  }

  private countStreams(): void {
    metrics().tutorStreams.set(this.jobs.size);
  }

  private async run(running: Running, initialPosition: number): Promise<void> {
    const { job, controller } = running;
    const { answerId, conversation, user } = job;
    const startedAt = performance.now();
    const publish = (event: TutorEvent) => publishTutorEvent(conversation.id, event);
    // Both leases, the place and the conversation's record, live while this runs.
    const renewTimer = setInterval(() => {
      void this.slots.acquire(user.id, answerId).catch(() => undefined);
      void this.state.renew(conversation.id, running.record, leaseMs).catch(() => undefined);
    }, renewEveryMs);
    let outcome: {
      status: FinalStatus;
      content: string;
      error?: string;
      model?: string;
      promptTokens?: number;
      completionTokens?: number;
    } = {
      status: "failed",
      content: "",
    };
    let selected: SelectedProvider | null = null;
    let bookkeeping: Promise<void> = Promise.resolve();
    const pieces = new PiecePublisher(answerId, this.state, publish, this.log);
    try {
      await this.waitForPlace(running, initialPosition);
      selected = await getTutorProvider().get();
      const { provider, model } = selected;
      running.record = { ...running.record, state: "streaming", position: 0 };
      // The record's bookkeeping runs beside the model's request, not before it: it is not on the
      // path to the first token. The outcome is saved only after it (below).
      bookkeeping = Promise.all([
        this.state.renew(conversation.id, running.record, leaseMs),
        markStreaming(answerId, model),
      ]).then(noop, (error: unknown) =>
        this.log.warn({ err: describeError(error) }, "could not mark an answer streaming"),
      );
      pieces.announce({ type: "start", messageId: answerId, model });
      const contexts = getWorkingContexts();
      const system = tutorSystemPrompt({
        level: conversation.level,
        ...(conversation.scenario ? { scenario: conversation.scenario } : {}),
        learnerName: user.name,
      });
      const { messages, overflow } = await contexts.prompt(conversation.id, system);
      const env = getEnv();
      let first = true;
      for await (const chunk of provider.chat({
        model,
        messages,
        options: { temperature: 0.7, maxTokens: env.TUTOR_ANSWER_MAX_TOKENS, numCtx: env.TUTOR_CONTEXT_TOKENS },
        signal: controller.signal,
      })) {
        if (chunk.type === "delta") {
          if (first && chunk.text.length > 0) {
            first = false;
            metrics().tutorFirstToken.observe((performance.now() - startedAt) / 1000);
          }
          pieces.add(chunk.text);
        } else {
          outcome = {
            status: "complete",
            content: pieces.text(),
            model: chunk.model,
            ...(chunk.promptTokens !== undefined ? { promptTokens: chunk.promptTokens } : {}),
            ...(chunk.completionTokens !== undefined ? { completionTokens: chunk.completionTokens } : {}),
          };
        }
      }
      if (outcome.status !== "complete")
        outcome = { status: "failed", content: pieces.text(), error: "The answer ended without its last piece." };
      else void this.afterAnswer(conversation.id, outcome.content, overflow, selected);
    } catch (error) {
      const reason = controller.signal.aborted ? controller.signal.reason : error;
      if (reason instanceof Stopped) {
        outcome =
          reason.why === "stop"
            ? { status: "stopped", content: pieces.text() }
            : {
                status: "failed",
                content: pieces.text(),
                error: "The server restarted while answering; regenerate the answer.",
              };
        if (reason.why === "stop" && outcome.content)
          void this.afterAnswer(conversation.id, outcome.content, [], selected);
      } else {
        outcome = { status: "failed", content: pieces.text(), error: sentenceFor(error) };
        this.log.warn({ conversation: conversation.id, err: describeError(error) }, "tutor answer failed");
      }
    } finally {
      clearInterval(renewTimer);
    }
    await pieces.flushed();
    await bookkeeping;
    const content = outcome.content;
    try {
      await finishAnswer(answerId, { ...outcome, content });
    } catch (error) {
      this.log.error({ conversation: conversation.id, err: describeError(error) }, "could not save a tutor answer");
    }
    await publish({
      type: "end",
      messageId: answerId,
      status: outcome.status,
      length: content.length,
      ...(outcome.error ? { error: outcome.error } : {}),
    }).catch(() => undefined);
    metrics().tutorGenerations.inc({ status: outcome.status });
    await Promise.allSettled([
      this.state.clear(conversation.id, answerId),
      this.state.dropText(answerId),
      this.slots
        .release(user.id, answerId)
        .then(() => getBus().publish(this.topics.freed, JSON.stringify({ userId: user.id }))),
    ]);
  }

  /** Holds the job in line until it has a place, telling the learner its position as it changes. */
  private async waitForPlace(running: Running, initialPosition: number): Promise<void> {
    const { job, controller } = running;
    let position = initialPosition;
    let told = 0;
    while (position > 0) {
      if (position !== told) {
        told = position;
        running.record = { ...running.record, state: "queued", position };
        await this.state.renew(job.conversation.id, running.record, leaseMs);
        await publishTutorEvent(job.conversation.id, { type: "queued", messageId: job.answerId, position }).catch(
          () => undefined,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, retryWaitingMs);
        function done() {
          clearTimeout(timer);
          controller.signal.removeEventListener("abort", done);
          running.wake = noop;
          resolve();
        }
        running.wake = done;
        controller.signal.addEventListener("abort", done);
      });
      controller.signal.throwIfAborted();
      const answer = await this.slots.acquire(job.user.id, job.answerId);
      position = answer === "full" ? told : answer;
    }
  }

  /** Keeps the working context: the answer joins it, and turns that no longer fit are summarised. */
  private async afterAnswer(
    conversationId: string,
    content: string,
    overflow: Parameters<ReturnType<typeof getWorkingContexts>["compact"]>[1],
    selected: SelectedProvider | null,
  ): Promise<void> {
    const contexts = getWorkingContexts();
    try {
      await contexts.append(conversationId, [{ role: "assistant", content }]);
      if (selected && overflow.length > 0)
        await contexts.compact(conversationId, overflow, selected.provider, selected.model);
    } catch (error) {
      this.log.warn({ err: describeError(error) }, "could not update the working context");
    }
  }

  /** Stops every answer here (shutdown): each is saved as failed with what had arrived. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const off of this.unsubscribe) off();
    const ends = [...this.jobs.values()].map(
      (running) =>
        new Promise<void>((resolve) => {
          const check = setInterval(() => {
            if (!this.jobs.has(running.job.answerId)) {
              clearInterval(check);
              resolve();
            }
          }, 10);
          running.controller.abort(new Stopped("shutdown"));
        }),
    );
    await Promise.all(ends);
  }
}

const noop = () => {};

/** One sentence for the learner about a failed answer. */
function sentenceFor(error: unknown): string {
  if (error instanceof ProviderTimeoutError) {
    return error.phase === "first-byte"
      ? "The model did not start answering in time; it may still be loading. Try again in a moment."
      : "The model stopped sending in the middle of the answer. Try again.";
  }
  if (error instanceof ProviderStreamError)
    return `The answer broke off midway: ${error.message}. Regenerate it to try again.`;
  if (error instanceof ProviderError) return error.message;
  const { problem, fix } = explainMissing(error);
  return `${problem} Fix: ${fix}`;
}

/**
 * Sends an answer's pieces in order: what arrives in one tick goes out as one delta, after it is
 * added to the text so far (so a client that reads that text never misses a piece published
 * before). A piece that cannot be sent is still in the saved answer.
 */
class PiecePublisher {
  private pending = "";
  private published = 0;
  private all = "";
  private chain: Promise<void> = Promise.resolve();
  private scheduled = false;

  constructor(
    private readonly messageId: string,
    private readonly state: GenerationState,
    private readonly publish: (event: TutorEvent) => Promise<void>,
    private readonly log: ReturnType<typeof getLogger>,
  ) {}

  add(text: string): void {
    if (!text) return;
    this.pending += text;
    this.all += text;
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  text(): string {
    return this.all;
  }

  /** Sends an event in line with the pieces (the answer's `start` goes before its first piece). */
  announce(event: TutorEvent): void {
    this.chain = this.chain
      .then(() => this.publish(event))
      .catch((error: unknown) => {
        this.log.warn({ err: describeError(error) }, "could not announce an answer's event");
      });
  }

  private flush(): void {
    this.scheduled = false;
    const text = this.pending;
    if (!text) return;
    this.pending = "";
    const at = this.published;
    this.published += text.length;
    this.chain = this.chain
      .then(async () => {
        // Both go out on the one command connection, the append first, and Redis runs a
        // connection's commands in order: the text so far holds the piece before anyone can see
        // it published, without waiting a round trip in between.
        const stored = this.state.append(this.messageId, text, at === 0);
        await Promise.all([stored, this.publish({ type: "delta", messageId: this.messageId, at, text })]);
      })
      .catch((error: unknown) => {
        this.log.warn({ err: describeError(error) }, "could not send a piece of an answer");
      });
  }

  /** Resolves once every piece added so far has been sent (or given up on). */
  async flushed(): Promise<void> {
    if (this.scheduled) this.flush();
    await this.chain;
  }
}

export function getGenerationRunner(): GenerationRunner {
  return processSingleton("tutor.runner", () => {
    const env = getEnv();
    const redis = getSharedRedis();
    const limits = { limit: env.TUTOR_MAX_CONCURRENT, maxQueued: env.TUTOR_MAX_QUEUED, leaseMs };
    const state = redis ? createRedisGenerationState(redis, env.REDIS_KEY_PREFIX) : createMemoryGenerationState();
    const slots = redis
      ? createRedisGenerationSlots(redis, env.REDIS_KEY_PREFIX, limits)
      : createMemoryGenerationSlots(limits);
    return new GenerationRunner(state, slots, {
      stop: `${env.REDIS_KEY_PREFIX}tutor-stop`,
      freed: `${env.REDIS_KEY_PREFIX}tutor-freed`,
    });
  });
}

export { leaseMs as generationLeaseMs };

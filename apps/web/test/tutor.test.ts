/**
 * The tutor on two real instances sharing one Redis and one Postgres, answering through a fake
 * Ollama that speaks the real wire format: answers stream on the conversation's channel, resume on
 * the other instance, stop from either, wait for a place in line, and fail with a sentence.
 */
import { applyDelta, decodeTutorEvent, type TutorEvent } from "@plauder/api/tutor-events";
import type { PlauderClient } from "@plauder/client";
import { type FakeBehaviour, type FakeProvider, startFakeOllama } from "@plauder/tutor/testing";
import pg from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type ChannelRecorder, recordChannel } from "./support/channel-recorder";
import { type Account, connect, newAccount, refusal } from "./support/clients";
import { startCluster, type TestCluster } from "./support/cluster";
import { readMetrics } from "./support/metrics";
import type { Instance } from "./support/processes";

const model = "tutor-test";
const answerTokens = [
  "Guten",
  " Tag",
  "!",
  " Ich",
  " bin",
  " **Ihr**",
  " Bäcker",
  ".",
  " Was",
  " darf",
  " es",
  " sein",
  "?",
];
const fullAnswer = answerTokens.join("");
/** What the fake model does with the next requests; tests change it. */
const behaviours: Record<string, FakeBehaviour> = { [model]: { kind: "normal" } };
const useBehaviour = (behaviour: FakeBehaviour) => {
  behaviours[model] = behaviour;
};

/** The fake's correction of "Ich habe ein Hund": one edit, as a model would send it. */
const correctionReply = JSON.stringify({
  corrected: "Ich habe einen Hund",
  edits: [
    { original: "ein", suggestion: "einen", category: "case", explanation: "Akkusativ: einen Hund", level: "A1" },
  ],
});

let fake: FakeProvider;
let cluster: TestCluster;
let a: Instance;
let b: Instance;
let anna: Account;
let sql: pg.Client;
const clients: PlauderClient[] = [];

/** A new connection of its own (closed after all tests). */
async function freshClient(instance: Instance, account: Account): Promise<PlauderClient> {
  const c = await connect(instance.url, account);
  clients.push(c);
  return c;
}

const shared = new Map<string, Promise<PlauderClient>>();
/** One connection per person and instance, shared by the tests: a person may hold only so many. */
function client(instance: Instance, account: Account): Promise<PlauderClient> {
  const key = `${instance.id}|${account.id}`;
  let connection = shared.get(key);
  if (!connection) {
    connection = freshClient(instance, account);
    shared.set(key, connection);
  }
  return connection;
}

/** Anna's shared connections on A and B, and a new conversation of hers, started on A (at A2 by default). */
async function conversationOfAnna(
  input: Parameters<PlauderClient["api"]["tutor"]["start"]["mutate"]>[0] = { level: "A2" },
) {
  const onA = await client(a, anna);
  const onB = await client(b, anna);
  const { conversation, messages } = await onA.api.tutor.start.mutate(input);
  return { onA, onB, conversation, messages };
}

/** The tutor's events on a conversation's channel, decoded. */
function tutorEvents(recorder: ChannelRecorder): TutorEvent[] {
  return recorder
    .publications()
    .map((publication) => decodeTutorEvent(publication))
    .filter((event): event is TutorEvent => event !== null);
}

type TutorEventOf<Type extends TutorEvent["type"]> = Extract<TutorEvent, { type: Type }>;

/** Waits for the first tutor event of `type` (that `matches`, if given) on the recorder's channel, and returns it. */
async function untilTutorEvent<Type extends TutorEvent["type"]>(
  recorder: ChannelRecorder,
  type: Type,
  what: string,
  options: { matches?: (event: TutorEventOf<Type>) => boolean; timeoutMs?: number } = {},
): Promise<TutorEventOf<Type>> {
  const find = () =>
    tutorEvents(recorder).find(
      (event): event is TutorEventOf<Type> =>
        event.type === type && (options.matches?.(event as TutorEventOf<Type>) ?? true),
    );
  await recorder.until(() => find() !== undefined, what, options.timeoutMs);
  return find() as TutorEventOf<Type>;
}

/** Follows a conversation as a client does: subscribe, then take the snapshot, then apply deltas by offset. */
async function follow(c: PlauderClient, conversationId: string, channel: string) {
  const recorder = recordChannel(c, channel);
  await recorder.until((r) => r.syncs().length > 0, "the subscription's sync");
  const snapshot = await c.api.tutor.conversation.query({ conversationId });
  const texts = new Map(snapshot.messages.map((message) => [message.id, message.content]));
  let applied = 0;
  const text = (messageId: string) => {
    const events = tutorEvents(recorder);
    for (; applied < events.length; applied++) {
      const event = events[applied] as TutorEvent;
      if (event.type !== "delta") continue;
      const next = applyDelta(texts.get(event.messageId) ?? "", event);
      if (next === null) throw new Error(`a delta at ${event.at} arrived past the text's end: something was missed`);
      texts.set(event.messageId, next);
    }
    return texts.get(messageId) ?? "";
  };
  const ended = (messageId: string) =>
    tutorEvents(recorder).find(
      (event): event is Extract<TutorEvent, { type: "end" }> => event.type === "end" && event.messageId === messageId,
    );
  return { recorder, snapshot, text, ended };
}

async function answerRow(id: string) {
  const { rows } = await sql.query<{
    status: string;
    content: string;
    error: string | null;
    completion_tokens: number | null;
  }>("select status, content, error, completion_tokens from messages where id = $1", [id]);
  return rows[0];
}

/** Waits until the answer's row has `status`, and returns the row. */
function untilAnswerIs(id: string, status: string, what: string, timeoutMs?: number) {
  return waitFor(
    async () => {
      const row = await answerRow(id);
      return row?.status === status ? row : undefined;
    },
    what,
    timeoutMs,
  );
}

async function waitFor<T>(
  read: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  fake = await startFakeOllama({
    models: behaviours,
    reply: (request) => {
      const body = request.body as { format?: unknown; messages?: Array<{ content: string }> };
      if (body.format === undefined) return answerTokens;
      // Structured output: a correction (one edit) for the dog sentence, none for the rest.
      const asked = body.messages?.at(-1)?.content ?? "";
      if (asked.includes("Ich habe ein Hund")) return [correctionReply.slice(0, 20), correctionReply.slice(20)];
      return ["{not json"];
    },
  });
  cluster = await startCluster({
    env: {
      PUBLISH_RATE_LIMIT: "100000",
      TUTOR_PROVIDER: "ollama",
      OLLAMA_URL: fake.url,
      OLLAMA_MODEL: model,
      TUTOR_MAX_CONCURRENT: "2",
      TUTOR_MAX_QUEUED: "1",
      TUTOR_MAX_MESSAGE_LENGTH: "300",
    },
  });
  [a, b] = cluster.instances as [Instance, Instance];
  anna = await newAccount(a.url, "Anna");
  sql = new pg.Client({ connectionString: cluster.databaseUrl });
  await sql.connect();
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await sql?.end();
  await cluster?.stop();
  await fake?.close();
});

beforeEach(() => useBehaviour({ kind: "normal" }));

// A test that fails midway must not leave answers holding the person's places for the next one.
afterEach(async () => {
  const onA = await client(a, anna);
  const started = await onA.api.tutor.conversations.query();
  await Promise.allSettled(started.map((c) => onA.api.tutor.stop.mutate({ conversationId: c.id })));
});

describe("an answer", () => {
  it("streams on the conversation's channel in order and is saved complete, with the learner's correction", async () => {
    const { onA, conversation, messages } = await conversationOfAnna({ level: "A1", scenarioId: "bakery" });
    expect(messages.map((message) => message.role)).toEqual(["assistant"]);
    const watch = await follow(onA, conversation.id, conversation.channel);
    useBehaviour({ kind: "slow", msPerToken: 15 });

    const sent = await onA.api.tutor.send.mutate({ conversationId: conversation.id, text: "Ich habe ein Hund" });
    expect(sent.position).toBe(0);
    await watch.recorder.until(() => watch.ended(sent.answerId) !== undefined, "the answer's end", 10_000);

    const events = tutorEvents(watch.recorder);
    const ofAnswer = events.filter((event) => "messageId" in event && event.messageId === sent.answerId);
    expect(ofAnswer[0]?.type).toBe("start");
    const deltas = ofAnswer.filter((event) => event.type === "delta");
    // Streamed in pieces, not in one block at the end; each piece starts where the last ended.
    expect(deltas.length).toBeGreaterThan(3);
    let at = 0;
    for (const delta of deltas) {
      expect(delta.at).toBe(at);
      at += delta.text.length;
    }
    expect(watch.text(sent.answerId)).toBe(fullAnswer);
    expect(watch.ended(sent.answerId)).toMatchObject({ status: "complete", length: fullAnswer.length });
    // The learner's message came first, so other tabs show the question above the answer.
    expect(events.findIndex((event) => event.type === "message")).toBeLessThan(
      events.indexOf(ofAnswer[0] as TutorEvent),
    );

    const row = await answerRow(sent.answerId);
    expect(row).toMatchObject({
      status: "complete",
      content: fullAnswer,
      error: null,
      completion_tokens: answerTokens.length,
    });

    // The correction: offsets computed by the server, pointing at "ein" in the learner's text.
    const correction = await untilTutorEvent(watch.recorder, "correction", "the correction", { timeoutMs: 10_000 });
    expect(correction).toMatchObject({ messageId: sent.message.id });
    const edit = correction.correction.edits[0];
    expect(edit).toMatchObject({ original: "ein", suggestion: "einen", category: "case" });
    expect("Ich habe ein Hund".slice(edit?.start, edit?.end)).toBe("ein");
    const saved = await onA.api.tutor.conversation.query({ conversationId: conversation.id });
    expect(saved.messages.find((message) => message.id === sent.message.id)?.correction?.corrected).toBe(
      "Ich habe einen Hund",
    );
    watch.recorder.stop();
  });

  it("continues on the other instance: a client that arrives mid-answer gets the text so far, then the rest", async () => {
    const { onA, onB, conversation } = await conversationOfAnna();
    useBehaviour({ kind: "slow", msPerToken: 60 });
    const sent = await onA.api.tutor.send.mutate({ conversationId: conversation.id, text: "Hallo, wie geht's?" });
    // Arrive on B once a few pieces are out.
    await untilAnswerIs(sent.answerId, "streaming", "the answer to stream");
    await new Promise((resolve) => setTimeout(resolve, 250));
    const watch = await follow(onB, conversation.id, conversation.channel);
    const arrived = watch.snapshot.messages.find((message) => message.id === sent.answerId);
    expect(arrived?.status).toBe("streaming");
    expect(arrived?.content.length).toBeGreaterThan(0);
    expect(fullAnswer.startsWith(arrived?.content ?? "x")).toBe(true);
    expect(arrived?.content).not.toBe(fullAnswer);

    await watch.recorder.until(() => watch.ended(sent.answerId) !== undefined, "the answer's end on B", 10_000);
    expect(watch.text(sent.answerId)).toBe(fullAnswer);
    watch.recorder.stop();
  });

  it("goes on when its learner disconnects", async () => {
    const onA = await freshClient(a, anna);
    const { conversation } = await onA.api.tutor.start.mutate({ level: "A2" });
    useBehaviour({ kind: "slow", msPerToken: 20 });
    const sent = await onA.api.tutor.send.mutate({ conversationId: conversation.id, text: "Erzähl mir was." });
    await onA.close();
    const row = await untilAnswerIs(sent.answerId, "complete", "the answer to complete without its learner");
    expect(row.content).toBe(fullAnswer);
  });
});

describe("Stop", () => {
  it("from the other instance closes the model's request and saves what had arrived as stopped", async () => {
    const { onA, onB, conversation } = await conversationOfAnna({ level: "B1" });
    useBehaviour({ kind: "endless", msPerToken: 20 });
    const before = fake.chats().length;
    const sent = await onA.api.tutor.send.mutate({ conversationId: conversation.id, text: "Erzähl endlos." });
    const watch = await follow(onA, conversation.id, conversation.channel);
    const request = await waitFor(
      () =>
        fake
          .chats()
          .slice(before)
          .find((chat) => (chat.body as { format?: unknown }).format === undefined),
      "the answer's request at the model",
    );
    await waitFor(() => request.tokensSent >= 5 || undefined, "a few tokens");

    const pressed = performance.now();
    expect(await onB.api.tutor.stop.mutate({ conversationId: conversation.id })).toEqual({ stopped: true });
    const closedAt = await fake.waitForClientClose(request, 2_000);
    // Measured at a few milliseconds; the bound leaves room for a loaded machine, not for a second.
    expect(closedAt - pressed).toBeLessThan(500);

    await watch.recorder.until(() => watch.ended(sent.answerId) !== undefined, "the stopped answer's end");
    const end = watch.ended(sent.answerId);
    expect(end?.status).toBe("stopped");
    const row = await answerRow(sent.answerId);
    expect(row?.status).toBe("stopped");
    expect(row?.content.length).toBe(end?.length);
    expect(row?.content.length).toBeGreaterThan(0);
    expect(watch.text(sent.answerId)).toBe(row?.content);
    // Nothing under way any more: a second Stop has nothing to stop, and a new message is answered.
    expect(await onB.api.tutor.stop.mutate({ conversationId: conversation.id })).toEqual({ stopped: false });
    watch.recorder.stop();
  });
});

describe("places per person", () => {
  it("holds the third answer in line with its place, refuses the fourth, and starts the waiting one when a place frees", async () => {
    const onA = await client(a, anna);
    const onB = await client(b, anna);
    useBehaviour({ kind: "endless", msPerToken: 50 });
    const conversations = await Promise.all(
      [1, 2, 3, 4].map(() => onA.api.tutor.start.mutate({ level: "A2" }).then((started) => started.conversation)),
    );
    const [c1, c2, c3, c4] = conversations as [
      (typeof conversations)[0],
      (typeof conversations)[0],
      (typeof conversations)[0],
      (typeof conversations)[0],
    ];
    // Two run, on either instance: the limit is the person's, across the cluster.
    const first = await onA.api.tutor.send.mutate({ conversationId: c1.id, text: "Eins" });
    const second = await onB.api.tutor.send.mutate({ conversationId: c2.id, text: "Zwei" });
    expect([first.position, second.position]).toEqual([0, 0]);
    const watch3 = await follow(onB, c3.id, c3.channel);
    const third = await onB.api.tutor.send.mutate({ conversationId: c3.id, text: "Drei" });
    expect(third.position).toBe(1);
    await untilTutorEvent(watch3.recorder, "queued", "the queued event with place 1", {
      matches: (event) => event.position === 1,
    });
    const refused = await refusal(onA.api.tutor.send.mutate({ conversationId: c4.id, text: "Vier" }));
    expect(refused.code).toBe("TOO_MANY_REQUESTS");
    expect(refused.message).toMatch(/stop one or wait/);
    // A refused send wrote nothing.
    const { rows } = await sql.query("select 1 from messages where conversation_id = $1", [c4.id]);
    expect(rows).toHaveLength(0);
    // Sending again where an answer is under way is a conflict, not a second answer.
    expect((await refusal(onA.api.tutor.send.mutate({ conversationId: c1.id, text: "Noch eins" }))).code).toBe(
      "CONFLICT",
    );

    await onA.api.tutor.stop.mutate({ conversationId: c1.id });
    await untilTutorEvent(watch3.recorder, "start", "the waiting answer to start", {
      matches: (event) => event.messageId === third.answerId,
    });
    await Promise.all([c2, c3].map((c) => onA.api.tutor.stop.mutate({ conversationId: c.id })));
    await untilAnswerIs(third.answerId, "stopped", "the third answer to stop");
    expect((await answerRow(second.answerId))?.status).toBe("stopped");
    watch3.recorder.stop();
  });
});

describe("bad providers and bad input", () => {
  it("a model the provider does not have fails the answer with the command that fixes it", async () => {
    const { onA, conversation } = await conversationOfAnna();
    useBehaviour({ kind: "missing" });
    const sent = await onA.api.tutor.send.mutate({ conversationId: conversation.id, text: "Hallo?" });
    const row = await untilAnswerIs(sent.answerId, "failed", "the answer to fail");
    expect(row.error).toContain(`ollama pull ${model}`);
  });

  it("a stream that breaks midway keeps what arrived and says why", async () => {
    const { onA, conversation } = await conversationOfAnna();
    useBehaviour({ kind: "error", afterTokens: 3 });
    const sent = await onA.api.tutor.send.mutate({ conversationId: conversation.id, text: "Hallo?" });
    const row = await untilAnswerIs(sent.answerId, "failed", "the answer to fail");
    expect(row.content).toBe(answerTokens.slice(0, 3).join(""));
    expect(row.error).toMatch(/broke off midway/);
    // A later answer on the same conversation works.
    useBehaviour({ kind: "normal" });
    const again = await onA.api.tutor.regenerate.mutate({ conversationId: conversation.id });
    await untilAnswerIs(again.answerId, "complete", "the regenerated answer");
    expect(await answerRow(sent.answerId)).toBeUndefined();
  });

  it("malformed JSON from the model gives no correction, and the conversation goes on", async () => {
    const { onA, conversation } = await conversationOfAnna();
    const watch = await follow(onA, conversation.id, conversation.channel);
    const sent = await onA.api.tutor.send.mutate({ conversationId: conversation.id, text: "Das ist gut." });
    const failed = await untilTutorEvent(watch.recorder, "correction-failed", "the correction to fail");
    expect(failed).toMatchObject({ messageId: sent.message.id });
    expect(failed.reason).toMatch(/malformed/);
    await untilAnswerIs(sent.answerId, "complete", "the answer");
    watch.recorder.stop();
  });

  it("an over-long message is refused with a sentence and writes nothing", async () => {
    const { onA, conversation } = await conversationOfAnna();
    const refused = await refusal(
      onA.api.tutor.send.mutate({ conversationId: conversation.id, text: "a".repeat(301) }),
    );
    expect(refused.code).toBe("BAD_REQUEST");
    expect(refused.message).toMatch(/at most 300 characters/);
    const { rows } = await sql.query("select 1 from messages where conversation_id = $1", [conversation.id]);
    expect(rows).toHaveLength(0);
  });

  it("another person's conversation is forbidden, and says nothing of whether it exists", async () => {
    const onA = await client(a, anna);
    const bert = await newAccount(b.url, "Bert");
    const onBert = await client(b, bert);
    const { conversation } = await onA.api.tutor.start.mutate({ level: "A2" });
    for (const attempt of [
      () => onBert.api.tutor.conversation.query({ conversationId: conversation.id }),
      () => onBert.api.tutor.send.mutate({ conversationId: conversation.id, text: "Hallo" }),
      () => onBert.api.tutor.stop.mutate({ conversationId: conversation.id }),
      () => onBert.api.tutor.conversation.query({ conversationId: crypto.randomUUID() }),
    ]) {
      expect((await refusal(attempt())).code).toBe("FORBIDDEN");
    }
  });
});

describe("the cache", () => {
  it("corrects the same sentence at the same level once, across instances, and counts the hit in /api/metrics", async () => {
    const onA = await client(a, anna);
    const onB = await client(b, anna);
    const structured = () =>
      fake.chats().filter((chat) => (chat.body as { format?: unknown }).format !== undefined).length;
    const sentence = "Ich habe ein Hund";
    const corrected = async (c: PlauderClient, messageId: string, conversationId: string) =>
      waitFor(async () => {
        const snapshot = await c.api.tutor.conversation.query({ conversationId });
        return snapshot.messages.find((message) => message.id === messageId)?.correction ?? undefined;
      }, "the correction");
    const first = await onA.api.tutor.start.mutate({ level: "B2" });
    const sent = await onA.api.tutor.send.mutate({ conversationId: first.conversation.id, text: sentence });
    await corrected(onA, sent.message.id, first.conversation.id);
    const asked = structured();
    const second = await onB.api.tutor.start.mutate({ level: "B2" });
    const again = await onB.api.tutor.send.mutate({ conversationId: second.conversation.id, text: sentence });
    const fromCache = await corrected(onB, again.message.id, second.conversation.id);
    expect(fromCache.corrected).toBe("Ich habe einen Hund");
    expect(structured()).toBe(asked);
    const metrics = await readMetrics(b.url);
    expect(metrics).toMatch(/plauder_tutor_cache_lookups_total\{kind="correction",result="hit"\} [1-9]/);
    expect(metrics).toMatch(
      /plauder_tutor_cache_hit_ratio\{kind="correction"\} 0?\.\d+|plauder_tutor_cache_hit_ratio\{kind="correction"\} 1/,
    );
  });
});

describe("edit and resend", () => {
  it("replaces the message, removes what followed, and answers again", async () => {
    const { onA, conversation } = await conversationOfAnna();
    const first = await onA.api.tutor.send.mutate({ conversationId: conversation.id, text: "Ich gehe nach Hause." });
    await untilAnswerIs(first.answerId, "complete", "the first answer");
    const edited = await onA.api.tutor.edit.mutate({
      conversationId: conversation.id,
      messageId: first.message.id,
      text: "Ich habe ein Hund",
    });
    await untilAnswerIs(edited.answerId, "complete", "the new answer");
    const snapshot = await onA.api.tutor.conversation.query({ conversationId: conversation.id });
    expect(snapshot.messages.map((message) => [message.role, message.content])).toEqual([
      ["user", "Ich habe ein Hund"],
      ["assistant", fullAnswer],
    ]);
    expect(await answerRow(first.answerId)).toBeUndefined();
  });
});

describe("an instance that goes away mid-answer", () => {
  it("shutting down saves the answer as failed with what had arrived, and says so on the channel", async () => {
    const onB = await client(b, anna);
    const onA = await freshClient(a, anna);
    const { conversation } = await onA.api.tutor.start.mutate({ level: "A2" });
    useBehaviour({ kind: "endless", msPerToken: 20 });
    const watch = await follow(onB, conversation.id, conversation.channel);
    const sent = await onA.api.tutor.send.mutate({ conversationId: conversation.id, text: "Erzähl weiter." });
    await watch.recorder.until(() => watch.text(sent.answerId).length > 10, "some of the answer on B");
    expect(await a.stop("SIGTERM")).toBe(0);
    await watch.recorder.until(
      () => watch.ended(sent.answerId) !== undefined,
      "the answer's end, said by A as it stopped",
    );
    const row = await answerRow(sent.answerId);
    expect(row).toMatchObject({ status: "failed", error: expect.stringMatching(/restarted while answering/) });
    expect(row?.content.length).toBeGreaterThan(10);
    expect(watch.text(sent.answerId)).toBe(row?.content);
    await a.start();
    watch.recorder.stop();
  });

  it("a crash: once its lease runs out, the next reader sees the answer failed with its text so far, and the place is free", async () => {
    const onB = await client(b, anna);
    const onA = await freshClient(a, anna);
    const conversations = await Promise.all([1, 2].map(() => onB.api.tutor.start.mutate({ level: "A2" })));
    const [first, second] = conversations.map((started) => started.conversation) as [
      (typeof conversations)[0]["conversation"],
      (typeof conversations)[0]["conversation"],
    ];
    useBehaviour({ kind: "endless", msPerToken: 20 });
    // Both of Anna's places held by answers running on A.
    const sent = await onA.api.tutor.send.mutate({ conversationId: first.id, text: "Eins" });
    await onA.api.tutor.send.mutate({ conversationId: second.id, text: "Zwei" });
    await untilAnswerIs(sent.answerId, "streaming", "streaming");
    await new Promise((resolve) => setTimeout(resolve, 300));
    await a.stop("SIGKILL");
    const third = await onB.api.tutor.start.mutate({ level: "A2" });
    // The crashed instance's leases (15 s) still hold both places: the third answer waits in line.
    useBehaviour({ kind: "normal" });
    const waiting = await onB.api.tutor.send.mutate({ conversationId: third.conversation.id, text: "Drei" });
    expect(waiting.position).toBe(1);
    const snapshotWhileLeased = await onB.api.tutor.conversation.query({ conversationId: first.id });
    expect(snapshotWhileLeased.active?.messageId).toBe(sent.answerId);
    // Once the leases run out, B takes the place and answers; the crashed answer reads as failed.
    await untilAnswerIs(waiting.answerId, "complete", "the waiting answer", 25_000);
    const snapshot = await onB.api.tutor.conversation.query({ conversationId: first.id });
    const crashed = snapshot.messages.find((message) => message.id === sent.answerId);
    expect(crashed?.status).toBe("failed");
    expect(crashed?.error).toMatch(/interrupted/);
    expect(crashed?.content.length).toBeGreaterThan(0);
    expect(snapshot.active).toBeNull();
    await a.start();
  }, 40_000);
});

import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type ChatProvider,
  createOllamaProvider,
  createOpenAIProvider,
  type HttpTimeouts,
  ModelNotFoundError,
  ProviderStreamError,
  ProviderTimeoutError,
  ProviderUnavailableError,
} from "../src";
import {
  closedPortUrl,
  defaultJsonReply,
  defaultReply,
  type FakeProvider,
  fakeModel,
  startFakeOllama,
  startFakeOpenAI,
} from "../src/testing";
import { collect, messages, within } from "./helpers";

const flavours = [
  {
    name: "Ollama",
    start: startFakeOllama,
    create: (url: string, timeouts?: Partial<HttpTimeouts>) =>
      createOllamaProvider({ baseUrl: url, ...(timeouts ? { timeouts } : {}) }),
    missingFix: /^ollama pull missing$/,
  },
  {
    name: "OpenAI-compatible",
    start: startFakeOpenAI,
    create: (url: string, timeouts?: Partial<HttpTimeouts>) =>
      createOpenAIProvider({ baseUrl: url, ...(timeouts ? { timeouts } : {}) }),
    missingFix: /OPENAI_MODEL.*\/v1\/models/,
  },
];

describe.each(flavours)("$name provider against its fake", ({ start, create, missingFix }) => {
  let fake: FakeProvider | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });
  const begin = async (timeouts?: Partial<HttpTimeouts>): Promise<[FakeProvider, ChatProvider]> => {
    fake = await start();
    return [fake, create(fake.url, timeouts)];
  };

  it("streams the reply's deltas in order, then a done chunk with the counts", async () => {
    const [fake, provider] = await begin();
    const result = await collect(provider.chat({ model: "normal", messages, signal: new AbortController().signal }));
    expect(result.error).toBeUndefined();
    expect(result.deltas).toEqual(defaultReply);
    expect(result.done).toEqual({
      type: "done",
      model: "normal",
      promptTokens: 8,
      completionTokens: defaultReply.length,
    });
    expect(fake.counts()).toMatchObject({ chats: 1, completed: 1, closedByClient: 0 });
  });

  it("keeps the order and the pace of a slow drip, without taking it for a stall", async () => {
    const [, provider] = await begin({ stallMs: 500 });
    const arrivals: number[] = [];
    const started = performance.now();
    const deltas: string[] = [];
    for await (const chunk of provider.chat({
      model: fakeModel("slow", 40),
      messages,
      signal: AbortSignal.timeout(10_000),
    })) {
      if (chunk.type === "delta") {
        deltas.push(chunk.text);
        arrivals.push(performance.now() - started);
      }
    }
    expect(deltas).toEqual(defaultReply);
    // Seven tokens 40 ms apart: the last cannot arrive before ~280 ms.
    expect(arrivals.at(-1)).toBeGreaterThan(defaultReply.length * 40 * 0.8);
  });

  it("returns structured output that parses with the schema's zod twin", async () => {
    const [, provider] = await begin();
    const schema = z.object({ reply: z.string(), corrections: z.array(z.string()) });
    const result = await collect(
      provider.chat({
        model: "normal",
        messages,
        format: z.toJSONSchema(schema),
        signal: new AbortController().signal,
      }),
    );
    expect(result.deltas).toEqual(defaultJsonReply);
    expect(schema.parse(JSON.parse(result.deltas.join("")))).toEqual({ reply: "Hallo!", corrections: [] });
  });

  it("lists the models and reports itself healthy", async () => {
    const [, provider] = await begin();
    const models = await provider.listModels();
    expect(models.map((model) => model.name)).toContain("normal");
    const health = await provider.health();
    expect(health).toMatchObject({ ok: true });
  });

  it("names the missing model and the fix (ModelNotFoundError)", async () => {
    const [, provider] = await begin();
    const { error } = await collect(
      provider.chat({ model: "missing", messages, signal: new AbortController().signal }),
    );
    expect(error).toBeInstanceOf(ModelNotFoundError);
    expect((error as ModelNotFoundError).model).toBe("missing");
    expect((error as ModelNotFoundError).fix).toMatch(missingFix);
  });

  it("reports a provider that is down with a sentence (ProviderUnavailableError), and health says so", async () => {
    const url = await closedPortUrl();
    const provider = create(url);
    const { error } = await collect(provider.chat({ model: "normal", messages, signal: new AbortController().signal }));
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect((error as Error).message).toMatch(
      /is not answering at http:\/\/127\.0\.0\.1:\d+ \(connection refused\)\. Start/,
    );
    await expect(provider.listModels()).rejects.toBeInstanceOf(ProviderUnavailableError);
    const health = await provider.health();
    expect(health).toMatchObject({ ok: false, reason: expect.stringContaining("connection refused") });
  });

  it.each([
    ["reset", /broke off the reply: connection (reset|closed)/],
    ["malformed", /not JSON/],
    ["error", /stopped with an error: the fake model failed on purpose/],
  ] as const)("turns a %s midway into ProviderStreamError after the deltas before it", async (kind, message) => {
    const [, provider] = await begin();
    const result = await collect(
      provider.chat({ model: fakeModel(kind, 2), messages, signal: new AbortController().signal }),
    );
    expect(result.error).toBeInstanceOf(ProviderStreamError);
    expect((result.error as Error).message).toMatch(message);
    // A reset may discard what the client had not read yet: what arrived is a prefix of the reply.
    if (kind === "reset") expect(defaultReply.slice(0, result.deltas.length)).toEqual(result.deltas);
    else expect(result.deltas).toEqual(defaultReply.slice(0, 2));
    expect(result.done).toBeUndefined();
  });

  it("gives up on a provider that sends no first byte (ProviderTimeoutError) and closes the request", async () => {
    const [fake, provider] = await begin({ firstByteMs: 300 });
    const started = performance.now();
    const result = await collect(provider.chat({ model: "hang", messages, signal: new AbortController().signal }));
    expect(result.error).toBeInstanceOf(ProviderTimeoutError);
    expect(result.error).toMatchObject({ phase: "first-byte", ms: 300 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    const [request] = fake.chats();
    if (!request) throw new Error("the fake saw no chat");
    await fake.waitForClientClose(request, 500);
  });

  it("gives up on a stream that stalls midway (ProviderTimeoutError) and closes the request", async () => {
    const [fake, provider] = await begin({ stallMs: 300 });
    const result = await collect(
      provider.chat({ model: fakeModel("stall", 3), messages, signal: new AbortController().signal }),
    );
    expect(result.error).toBeInstanceOf(ProviderTimeoutError);
    expect(result.error).toMatchObject({ phase: "stall", ms: 300 });
    expect(result.deltas).toEqual(defaultReply.slice(0, 3));
    const [request] = fake.chats();
    if (!request) throw new Error("the fake saw no chat");
    await fake.waitForClientClose(request, 500);
  });

  it("closes the provider's request within 100 ms of Stop (abort mid-stream)", async () => {
    const [fake, provider] = await begin();
    const controller = new AbortController();
    const deltas: string[] = [];
    let abortedAt = 0;
    const reading = (async () => {
      for await (const chunk of provider.chat({
        model: fakeModel("endless", 10),
        messages,
        signal: controller.signal,
      })) {
        if (chunk.type === "delta") deltas.push(chunk.text);
        if (deltas.length === 3) {
          abortedAt = performance.now();
          controller.abort();
        }
      }
    })();
    await expect(within(reading, 2_000, "the stream ending after Stop")).rejects.toMatchObject({ name: "AbortError" });
    const request = await fake.nextChat();
    const closedAt = await fake.waitForClientClose(request, 100);
    expect(closedAt - abortedAt).toBeLessThan(100);
    expect(deltas).toHaveLength(3);
    expect(fake.counts()).toMatchObject({ closedByClient: 1, open: 0 });
  });

  it("closes the provider's request when Stop comes before the first byte", async () => {
    const [fake, provider] = await begin();
    const controller = new AbortController();
    const reading = collect(provider.chat({ model: "hang", messages, signal: controller.signal }));
    const request = await fake.nextChat();
    const abortedAt = performance.now();
    controller.abort(new Error("stopped by the learner"));
    const { error } = await within(reading, 2_000, "the stream ending after Stop");
    expect((error as Error).message).toBe("stopped by the learner");
    const closedAt = await fake.waitForClientClose(request, 100);
    expect(closedAt - abortedAt).toBeLessThan(100);
  });

  it("closes the provider's request when the consumer leaves the loop", async () => {
    const [fake, provider] = await begin();
    for await (const chunk of provider.chat({
      model: fakeModel("endless", 10),
      messages,
      signal: new AbortController().signal,
    })) {
      if (chunk.type === "delta") break;
    }
    const leftAt = performance.now();
    const request = await fake.nextChat();
    const closedAt = await fake.waitForClientClose(request, 100);
    expect(closedAt - leftAt).toBeLessThan(100);
  });

  it("does not start a request for an already aborted signal", async () => {
    const [fake, provider] = await begin();
    const { error } = await collect(provider.chat({ model: "normal", messages, signal: AbortSignal.abort() }));
    expect(error).toMatchObject({ name: "AbortError" });
    expect(fake.counts().requests).toBe(0);
  });
});

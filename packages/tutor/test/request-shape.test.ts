import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type ChatProvider,
  type ChatRequest,
  createOllamaProvider,
  createOpenAIProvider,
  ProviderUnavailableError,
} from "../src";
import { type FakeProvider, startFakeOllama, startFakeOpenAI } from "../src/testing";
import { collect, messages } from "./helpers";

/**
 * A chat with the model "normal" and the shared messages, read to the end; `request` adds the
 * format and options a test is about.
 */
function chatNormal(provider: ChatProvider, request: Partial<Pick<ChatRequest, "format" | "options">> = {}) {
  return collect(provider.chat({ model: "normal", messages, signal: new AbortController().signal, ...request }));
}

const correction = z.object({ reply: z.string(), corrections: z.array(z.string()) });
const schema = { ...z.toJSONSchema(correction), title: "Correction" };

describe("what each provider sends", () => {
  let fake: FakeProvider | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  it("Ollama: /api/chat streaming, the schema as `format`, num_ctx/temperature/num_predict and keep_alive", async () => {
    fake = await startFakeOllama();
    const provider = createOllamaProvider({ baseUrl: `${fake.url}/` });
    await chatNormal(provider, {
      format: schema,
      options: { numCtx: 8192, temperature: 0.2, maxTokens: 64, keepAlive: "10m" },
    });
    const [request] = fake.chats();
    expect(request).toMatchObject({ method: "POST", path: "/api/chat" });
    expect(request?.headers["content-type"]).toBe("application/json");
    expect(request?.body).toEqual({
      model: "normal",
      messages,
      stream: true,
      format: schema,
      options: { num_ctx: 8192, temperature: 0.2, num_predict: 64 },
      keep_alive: "10m",
    });
  });

  it("Ollama: no format, options or keep_alive when none are asked for", async () => {
    fake = await startFakeOllama();
    await chatNormal(createOllamaProvider({ baseUrl: fake.url }));
    expect(fake.chats()[0]?.body).toEqual({ model: "normal", messages, stream: true });
  });

  it("OpenAI-compatible: /chat/completions streaming with usage, the schema as response_format json_schema, the key as a bearer", async () => {
    fake = await startFakeOpenAI({ apiKey: "sk-test-key" });
    const provider = createOpenAIProvider({ baseUrl: fake.url, apiKey: "sk-test-key" });
    const result = await chatNormal(provider, {
      format: schema,
      options: { temperature: 0.2, maxTokens: 64, numCtx: 8192, keepAlive: "10m" },
    });
    expect(result.error).toBeUndefined();
    const [request] = fake.chats();
    expect(request).toMatchObject({ method: "POST", path: "/v1/chat/completions" });
    expect(request?.headers.authorization).toBe("Bearer sk-test-key");
    expect(request?.body).toEqual({
      model: "normal",
      messages,
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.2,
      max_tokens: 64,
      response_format: { type: "json_schema", json_schema: { name: "Correction", schema, strict: true } },
    });
    expect(correction.parse(JSON.parse(result.deltas.join("")))).toEqual({ reply: "Hallo!", corrections: [] });
  });

  it("OpenAI-compatible: a refused key is ProviderUnavailableError that never repeats the key", async () => {
    fake = await startFakeOpenAI({ apiKey: "sk-right-key" });
    const provider = createOpenAIProvider({ baseUrl: fake.url, apiKey: "sk-wrong-key" });
    const { error } = await chatNormal(provider);
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect((error as Error).message).toMatch(/refused the API key \(401\); set OPENAI_API_KEY/);
    expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).not.toContain("sk-wrong-key");
    await expect(provider.listModels()).rejects.toBeInstanceOf(ProviderUnavailableError);
  });

  it("OpenAI-compatible: a base URL without /v1 is explained", async () => {
    fake = await startFakeOpenAI();
    const provider = createOpenAIProvider({ baseUrl: fake.url.replace(/\/v1$/, "") });
    const { error } = await chatNormal(provider);
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect((error as Error).message).toMatch(/OPENAI_BASE_URL usually ends in \/v1/);
  });
});

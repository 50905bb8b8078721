/**
 * Against a real model server, when one is named: OLLAMA_URL (with OLLAMA_MODEL, default
 * qwen2.5:3b) or OPENAI_BASE_URL (with OPENAI_MODEL and OPENAI_API_KEY if it needs one). Without
 * them these tests report themselves as skipped, saying which variable to set; CI has no model
 * server. Unlike the fake and engine tests they look at what the model says, loosely: a real model
 * that speaks German finds the case error in "Ich habe ein Hund".
 */
import { describe, expect, it } from "vitest";
import {
  type ChatProvider,
  correctText,
  createOllamaProvider,
  createOpenAIProvider,
  defaultOllamaModel,
  parseGeneratedScenario,
  scenarioGenerationRequest,
} from "../src";
import { collect, messages } from "./helpers";

type Live = { name: string; variable: string; provider?: ChatProvider; model: string };

const env = process.env;
const servers: Live[] = [
  {
    name: "Ollama",
    variable: "OLLAMA_URL",
    ...(env.OLLAMA_URL ? { provider: createOllamaProvider({ baseUrl: env.OLLAMA_URL }) } : {}),
    model: env.OLLAMA_MODEL ?? defaultOllamaModel,
  },
  {
    name: "an OpenAI-compatible server",
    variable: "OPENAI_BASE_URL",
    ...(env.OPENAI_BASE_URL
      ? {
          provider: createOpenAIProvider({
            baseUrl: env.OPENAI_BASE_URL,
            ...(env.OPENAI_API_KEY ? { apiKey: env.OPENAI_API_KEY } : {}),
          }),
        }
      : {}),
    model: env.OPENAI_MODEL ?? "",
  },
];

for (const server of servers) {
  const title = server.provider
    ? `live: ${server.name} (${server.model})`
    : `live: ${server.name} (skipped: set ${server.variable} to run)`;
  describe.skipIf(!server.provider)(title, () => {
    const provider = server.provider as ChatProvider;

    it("streams an answer in pieces and ends with its token counts", { timeout: 120_000 }, async () => {
      const result = await collect(
        provider.chat({ model: server.model, messages, signal: AbortSignal.timeout(110_000) }),
      );
      expect(result.error).toBeUndefined();
      expect(result.deltas.length).toBeGreaterThan(1);
      expect(result.deltas.join("").trim().length).toBeGreaterThan(0);
      expect(result.done?.completionTokens).toBeGreaterThan(0);
    });

    it("corrects a case error with edits placed on the learner's text", { timeout: 120_000 }, async () => {
      const text = "Ich habe ein Hund.";
      const correction = await correctText(provider, server.model, text, "A1", AbortSignal.timeout(110_000));
      expect(correction.corrected).toMatch(/einen Hund/);
      expect(correction.edits.length).toBeGreaterThan(0);
      for (const edit of correction.edits) expect(text.slice(edit.start, edit.end)).toBe(edit.original);
    });

    it("writes a role-play scenario that passes the schema", { timeout: 120_000 }, async () => {
      const request = scenarioGenerationRequest("am Fahrkartenschalter eine Reise buchen", "A2");
      const result = await collect(
        provider.chat({
          model: server.model,
          messages: request.messages,
          format: request.format,
          options: { temperature: 0 },
          signal: AbortSignal.timeout(110_000),
        }),
      );
      expect(result.error).toBeUndefined();
      const scenario = parseGeneratedScenario(result.deltas.join(""), "am Fahrkartenschalter eine Reise buchen", "A2");
      expect(scenario.id).toMatch(/^gen-[0-9a-f]{12}$/);
      expect(scenario.levels).toContain("A2");
    });
  });
}

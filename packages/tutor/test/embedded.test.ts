import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type ChatProvider,
  correctionRequest,
  correctionSchema,
  createEmbeddedProvider,
  engineInstallCommand,
  isEngineInstalled,
  ModelNotFoundError,
  ModelOutputError,
  modelCorrectionSchema,
  parseCorrection,
} from "../src";
import { testModelFile } from "../src/testing";
import { collect } from "./helpers";

/*
 * The embedded engine for real: node-llama-cpp with the GGUF model at PLAUDER_TEST_GGUF (a tiny
 * random-weight model is enough). What it says is gibberish, so nothing here looks at meaning:
 * only that tokens stream, that Stop stops them, and that a schema's grammar yields valid JSON.
 * Without the engine or the model the file fails, saying which is missing.
 */
const modelFile = testModelFile();
const missing = !(await isEngineInstalled())
  ? `node-llama-cpp is not installed (install it with \`${engineInstallCommand}\`)`
  : modelFile === undefined
    ? "PLAUDER_TEST_GGUF is not set (the path of a small .gguf model file)"
    : undefined;

if (missing !== undefined) {
  // `npm test` installs the engine first (scripts/ensure-services.mjs); run alone, say what is missing.
  describe("embedded engine (node-llama-cpp)", () => {
    it("can run here", () => {
      throw new Error(`The embedded engine test cannot run: ${missing}.`);
    });
  });
} else {
  describe("embedded engine (node-llama-cpp) with a real model file", () => {
    const file = modelFile as string;
    const signal = () => AbortSignal.timeout(60_000);
    let provider: ChatProvider;
    let name: string;

    beforeAll(async () => {
      const started = performance.now();
      // One thread: on a busy machine the engine's threads spin waiting for each other. 2048 tokens
      // of context: the correction request with its worked examples is about 900.
      provider = await createEmbeddedProvider({ modelFile: file, contextSize: 2048, threads: 1, gpu: false });
      const loadMs = performance.now() - started;
      const [model] = await provider.listModels();
      name = model?.name ?? "";
      console.info(`[tutor] engine loaded ${name} in ${Math.round(loadMs)} ms`);
    }, 120_000);

    afterAll(async () => {
      await provider?.close();
    });

    it("reports the model file and its health", async () => {
      expect(name).toBe(
        file
          .split("/")
          .at(-1)
          ?.replace(/\.gguf$/, ""),
      );
      expect(await provider.health()).toMatchObject({ ok: true, kind: "embedded" });
    });

    it("streams real tokens one by one and ends with the counts", async () => {
      const arrivals: number[] = [];
      const deltas: string[] = [];
      const started = performance.now();
      let done: unknown;
      for await (const chunk of provider.chat({
        model: name,
        messages: [
          { role: "system", content: "Du bist ein Deutschlehrer." },
          { role: "user", content: "Hallo!" },
        ],
        options: { maxTokens: 40, temperature: 0.8 },
        signal: signal(),
      })) {
        if (chunk.type === "delta") {
          deltas.push(chunk.text);
          arrivals.push(performance.now() - started);
        } else done = chunk;
      }
      const totalMs = performance.now() - started;
      console.info(
        `[tutor] engine generated ${deltas.length} chunks (40 tokens at most) in ${Math.round(totalMs)} ms, the first after ${Math.round(arrivals[0] ?? 0)} ms`,
      );
      expect(deltas.length).toBeGreaterThan(1);
      // Streaming, not one answer at the end: the first piece came well before the last.
      expect((arrivals.at(-1) ?? 0) - (arrivals[0] ?? 0)).toBeGreaterThan(0);
      expect(done).toMatchObject({ type: "done", model: name });
      const { promptTokens, completionTokens } = done as { promptTokens: number; completionTokens: number };
      expect(promptTokens).toBeGreaterThan(0);
      expect(completionTokens).toBeGreaterThan(1);
      expect(completionTokens).toBeLessThanOrEqual(40);
    }, 60_000);

    it("stops mid-stream on abort and is free for the next conversation", async () => {
      const controller = new AbortController();
      const deltas: string[] = [];
      let abortedAt = 0;
      const reading = (async () => {
        for await (const chunk of provider.chat({
          model: name,
          messages: [{ role: "user", content: "Erzähl mir eine lange Geschichte." }],
          options: { maxTokens: 400 },
          signal: controller.signal,
        })) {
          if (chunk.type === "delta") deltas.push(chunk.text);
          if (deltas.length === 3) {
            abortedAt = performance.now();
            controller.abort();
          }
        }
      })();
      await expect(reading).rejects.toMatchObject({ name: "AbortError" });
      const stopMs = performance.now() - abortedAt;
      console.info(`[tutor] engine stopped ${Math.round(stopMs)} ms after abort`);
      expect(deltas).toHaveLength(3);
      expect(stopMs).toBeLessThan(500);

      const next = await collect(
        provider.chat({
          model: name,
          messages: [{ role: "user", content: "Noch einmal." }],
          options: { maxTokens: 5 },
          signal: signal(),
        }),
      );
      expect(next.error).toBeUndefined();
      expect(next.done?.completionTokens).toBeGreaterThan(0);
    }, 60_000);

    it("follows a JSON schema through the grammar: the reply parses with zod", async () => {
      const feedback = z.object({
        correct: z.boolean(),
        level: z.enum(["A1", "A2", "B1", "B2", "C1", "C2"]),
        note: z.string().max(12),
      });
      const result = await collect(
        provider.chat({
          model: name,
          messages: [{ role: "user", content: "Ich habe gestern ins Kino gegangen." }],
          format: z.toJSONSchema(feedback),
          options: { maxTokens: 120 },
          signal: signal(),
        }),
      );
      expect(result.error).toBeUndefined();
      expect(result.deltas.length).toBeGreaterThan(1);
      const parsed = feedback.safeParse(JSON.parse(result.deltas.join("")));
      expect(parsed.success).toBe(true);
    }, 60_000);

    it("runs the correction request through the grammar: a complete answer is a correction, a cut one a ModelOutputError", async () => {
      const text = "Ich habe gestern ins Kino gegangen.";
      const { messages, format } = correctionRequest(text, "A2");
      const maxTokens = 400;
      const started = performance.now();
      const result = await collect(
        provider.chat({ model: name, messages, format, options: { maxTokens, temperature: 0 }, signal: signal() }),
      );
      expect(result.error).toBeUndefined();
      const raw = result.deltas.join("");
      const complete = (result.done?.completionTokens ?? maxTokens) < maxTokens;
      console.info(
        `[tutor] engine answered the correction request (${result.done?.promptTokens} prompt tokens) with ${result.done?.completionTokens} tokens in ${Math.round(performance.now() - started)} ms, ${complete ? "complete" : "cut at the limit"}`,
      );
      let parsed: ReturnType<typeof parseCorrection> | undefined;
      let failure: unknown;
      try {
        parsed = parseCorrection(text, raw, "A2");
      } catch (error) {
        failure = error;
      }
      if (complete) {
        // The grammar lets through only JSON of the schema's structure (fields, types, enums); it
        // does not hold strings to maxLength, which zod then checks. What it says is not looked at.
        const structure = modelCorrectionSchema.extend({
          corrected: z.string(),
          edits: z.array(
            modelCorrectionSchema.shape.edits.element.extend({
              original: z.string(),
              suggestion: z.string(),
              explanation: z.string(),
            }),
          ),
        });
        expect(structure.safeParse(JSON.parse(raw)).success).toBe(true);
      }
      if (parsed) {
        expect(correctionSchema.safeParse(parsed).success).toBe(true);
        for (const edit of parsed.edits) expect(text.slice(edit.start, edit.end)).toBe(edit.original);
      } else {
        expect(failure).toBeInstanceOf(ModelOutputError);
      }
    }, 60_000);

    it("refuses a model it does not have (ModelNotFoundError)", async () => {
      const { error } = await collect(
        provider.chat({ model: "qwen2.5:3b", messages: [{ role: "user", content: "Hallo" }], signal: signal() }),
      );
      expect(error).toBeInstanceOf(ModelNotFoundError);
      expect((error as ModelNotFoundError).fix).toContain("TUTOR_MODEL_FILE");
    });
  });
}

import { type FakeOptions, type FakeProvider, sendJson, startFake, type Wire } from "./fake-server";

const line = (value: unknown) => `${JSON.stringify(value)}\n`;
const now = () => new Date().toISOString();

/** Ollama's `/api/chat` NDJSON: one line per token, a final `done: true` line with counts, or an `{"error"}` line. */
const ollamaWire: Wire = {
  contentType: "application/x-ndjson",
  start: () => "",
  token: (model, text) =>
    line({ model, created_at: now(), message: { role: "assistant", content: text }, done: false }),
  done: (model, promptTokens, completionTokens) =>
    line({
      model,
      created_at: now(),
      message: { role: "assistant", content: "" },
      done_reason: "stop",
      done: true,
      total_duration: 1_000_000,
      load_duration: 100_000,
      prompt_eval_count: promptTokens,
      prompt_eval_duration: 100_000,
      eval_count: completionTokens,
      eval_duration: 800_000,
    }),
  error: (_model, message) => line({ error: message }),
  malformed: (model) => `{"model":"${model}","message":{"role":"assistant","content":"ka\n`,
};

/**
 * A fake Ollama on 127.0.0.1: `POST /api/chat` (streaming NDJSON, behaviour by model name — see
 * `behaviourOf`), `GET /api/tags`, `GET /api/version`.
 */
export function startFakeOllama(options: FakeOptions = {}): Promise<FakeProvider> {
  return startFake(
    {
      chatPath: "POST /api/chat",
      wire: ollamaWire,
      wantsStructured: (body) => (body as { format?: unknown } | undefined)?.format !== undefined,
      baseUrl: (origin) => origin,
      missing: (model) => ({ status: 404, body: { error: `model "${model}" not found, try pulling it first` } }),
      other(request, response, knownModels) {
        const route = `${request.method} ${request.path}`;
        if (route === "GET /api/version") {
          sendJson(response, 200, { version: "0.12.0-fake" });
          return true;
        }
        if (route === "GET /api/tags") {
          sendJson(response, 200, {
            models: knownModels.map((name) => ({
              name,
              model: name,
              modified_at: "2026-01-01T00:00:00Z",
              size: 1_750_560,
              digest: "0".repeat(64),
              details: { format: "gguf", family: "llama", parameter_size: "0.01B", quantization_level: "F16" },
            })),
          });
          return true;
        }
        return false;
      },
    },
    options,
  );
}

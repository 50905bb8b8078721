import { z } from "zod";
import { ModelNotFoundError, type ProviderError, ProviderRequestError, ProviderUnavailableError } from "./errors";
import { errorText, HttpApi } from "./http";
import type { ChatChunk, ChatProvider, ChatRequest, HttpTimeouts, ModelInfo, ProviderHealth } from "./types";

export const defaultOllamaUrl = "http://127.0.0.1:11434";

export interface OllamaProviderOptions {
  /** Default: http://127.0.0.1:11434, Ollama's own. */
  baseUrl?: string;
  timeouts?: Partial<HttpTimeouts>;
}

/** One line of `/api/chat`'s NDJSON stream: a piece of the reply, the final line, or an error. */
const chatLine = z.union([
  z.object({ error: z.string() }),
  z.object({
    model: z.string(),
    done: z.literal(false),
    message: z.object({ role: z.string(), content: z.string() }),
  }),
  z.object({
    model: z.string(),
    done: z.literal(true),
    done_reason: z.string().optional(),
    prompt_eval_count: z.number().int().nonnegative().optional(),
    eval_count: z.number().int().nonnegative().optional(),
  }),
]);

const tagsAnswer = z.object({
  models: z.array(
    z.object({
      name: z.string(),
      size: z.number().nonnegative().optional(),
      modified_at: z.string().optional(),
    }),
  ),
});

const versionAnswer = z.object({ version: z.string() });

/** Ollama's native API: `/api/chat` streaming NDJSON, `/api/tags`, `/api/version`. */
export function createOllamaProvider(options: OllamaProviderOptions = {}): ChatProvider {
  const api = new HttpApi({
    kind: "ollama",
    baseUrl: options.baseUrl ?? defaultOllamaUrl,
    timeouts: options.timeouts,
    startHint: "Start it with `ollama serve`, or set OLLAMA_URL to where it runs.",
    errorFor: ollamaError,
  });

  return {
    kind: "ollama",

    async *chat(request: ChatRequest): AsyncGenerator<ChatChunk, void, undefined> {
      const { model, messages, format, options: chatOptions = {}, signal } = request;
      const modelOptions: Record<string, number> = {};
      if (chatOptions.numCtx !== undefined) modelOptions.num_ctx = chatOptions.numCtx;
      if (chatOptions.temperature !== undefined) modelOptions.temperature = chatOptions.temperature;
      if (chatOptions.maxTokens !== undefined) modelOptions.num_predict = chatOptions.maxTokens;
      const body = {
        model,
        messages: messages.map(({ role, content }) => ({ role, content })),
        stream: true,
        ...(format ? { format } : {}),
        ...(Object.keys(modelOptions).length > 0 ? { options: modelOptions } : {}),
        ...(chatOptions.keepAlive !== undefined ? { keep_alive: chatOptions.keepAlive } : {}),
      };

      let finished = false;
      for await (const line of api.streamLines("/api/chat", body, model, signal)) {
        if (line.trim() === "") continue;
        if (finished) continue; // nothing follows the final line; read to the end so the connection is reused
        const parsed = chatLine.safeParse(api.streamedJson("line", line));
        if (!parsed.success) throw api.unexpectedShape("line", line);
        const piece = parsed.data;
        if ("error" in piece) throw api.stoppedWithError(piece.error);
        if (!piece.done) {
          if (piece.message.content !== "") yield { type: "delta", text: piece.message.content };
          continue;
        }
        finished = true;
        yield {
          type: "done",
          model: piece.model,
          ...(piece.prompt_eval_count !== undefined ? { promptTokens: piece.prompt_eval_count } : {}),
          ...(piece.eval_count !== undefined ? { completionTokens: piece.eval_count } : {}),
        };
      }
      if (!finished) throw api.endedBefore("its final line");
    },

    async listModels(signal?: AbortSignal): Promise<ModelInfo[]> {
      const answer = await api.getJson("/api/tags", tagsAnswer, signal);
      return answer.models.map((entry) => ({
        name: entry.name,
        ...(entry.size !== undefined ? { sizeBytes: entry.size } : {}),
        ...(entry.modified_at !== undefined ? { modifiedAt: entry.modified_at } : {}),
      }));
    },

    health(signal?: AbortSignal): Promise<ProviderHealth> {
      return api.health(async () => {
        const { version } = await api.getJson("/api/version", versionAnswer, signal);
        return `Ollama ${version} at ${api.baseUrl}`;
      });
    },

    async close(): Promise<void> {},
  };
}

/** Ollama answers `404 {"error":"model \"x\" not found, try pulling it first"}` for a model it has not pulled. */
function ollamaError(status: number, body: string, model: string | undefined): ProviderError {
  const text = errorText(body);
  const missing = status === 404 || /model .*not found/i.test(text);
  if (model !== undefined && missing) {
    return new ModelNotFoundError("ollama", model, `ollama pull ${model}`);
  }
  if (status >= 500) return new ProviderUnavailableError("ollama", `Ollama failed (${status}): ${text}`);
  return new ProviderRequestError("ollama", `Ollama refused the request (${status}): ${text}`, status);
}

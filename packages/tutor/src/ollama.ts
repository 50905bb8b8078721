import { z } from "zod";
import {
  ModelNotFoundError,
  type ProviderError,
  ProviderRequestError,
  ProviderStreamError,
  ProviderUnavailableError,
} from "./errors";
import { errorText, getJson, type HttpTarget, postStream, splitLines } from "./http";
import {
  type ChatChunk,
  type ChatProvider,
  type ChatRequest,
  defaultHttpTimeouts,
  type HttpTimeouts,
  type ModelInfo,
  type ProviderHealth,
} from "./types";

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
  const baseUrl = (options.baseUrl ?? defaultOllamaUrl).replace(/\/+$/, "");
  const timeouts = { ...defaultHttpTimeouts, ...options.timeouts };
  const target = (model?: string): HttpTarget => ({
    kind: "ollama",
    timeouts,
    headers: {},
    startHint: "Start it with `ollama serve`, or set OLLAMA_URL to where it runs.",
    errorFor: (status, body) => ollamaError(status, body, model),
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
      for await (const line of splitLines("ollama", postStream(target(model), `${baseUrl}/api/chat`, body, signal))) {
        if (line.trim() === "") continue;
        if (finished) continue; // nothing follows the final line; read to the end so the connection is reused
        const parsed = parseLine(line);
        if ("error" in parsed) throw new ProviderStreamError("ollama", `Ollama stopped with an error: ${parsed.error}`);
        if (!parsed.done) {
          if (parsed.message.content !== "") yield { type: "delta", text: parsed.message.content };
          continue;
        }
        finished = true;
        yield {
          type: "done",
          model: parsed.model,
          ...(parsed.prompt_eval_count !== undefined ? { promptTokens: parsed.prompt_eval_count } : {}),
          ...(parsed.eval_count !== undefined ? { completionTokens: parsed.eval_count } : {}),
        };
      }
      if (!finished) throw new ProviderStreamError("ollama", "Ollama's reply ended before its final line");
    },

    async listModels(signal?: AbortSignal): Promise<ModelInfo[]> {
      const answer = await getJson(target(), `${baseUrl}/api/tags`, tagsAnswer, signal);
      return answer.models.map((entry) => ({
        name: entry.name,
        ...(entry.size !== undefined ? { sizeBytes: entry.size } : {}),
        ...(entry.modified_at !== undefined ? { modifiedAt: entry.modified_at } : {}),
      }));
    },

    async health(signal?: AbortSignal): Promise<ProviderHealth> {
      const started = performance.now();
      try {
        const { version } = await getJson(target(), `${baseUrl}/api/version`, versionAnswer, signal);
        return {
          ok: true,
          kind: "ollama",
          detail: `Ollama ${version} at ${baseUrl}`,
          latencyMs: Math.round(performance.now() - started),
        };
      } catch (error) {
        return { ok: false, kind: "ollama", reason: error instanceof Error ? error.message : String(error) };
      }
    },

    async close(): Promise<void> {},
  };
}

function parseLine(line: string): z.infer<typeof chatLine> {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new ProviderStreamError("ollama", `Ollama sent a line that is not JSON: ${line.slice(0, 120)}`);
  }
  const parsed = chatLine.safeParse(json);
  if (!parsed.success) {
    throw new ProviderStreamError("ollama", `Ollama sent a line of an unexpected shape: ${line.slice(0, 120)}`);
  }
  return parsed.data;
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

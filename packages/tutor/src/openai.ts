import { z } from "zod";
import { ModelNotFoundError, type ProviderError, ProviderRequestError, ProviderUnavailableError } from "./errors";
import { errorText, HttpApi, sseEvents } from "./http";
import type {
  ChatChunk,
  ChatProvider,
  ChatRequest,
  HttpTimeouts,
  JsonSchema,
  ModelInfo,
  ProviderHealth,
} from "./types";

export interface OpenAIProviderOptions {
  /** The API root including its version, as the servers print it: http://127.0.0.1:8000/v1 (vLLM), :8080/v1 (llama.cpp), :1234/v1 (LM Studio). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …` when set; never logged nor put into an error. */
  apiKey?: string;
  timeouts?: Partial<HttpTimeouts>;
}

/** One `data:` event of a streaming chat completion. */
const streamChunk = z.object({
  model: z.string().optional(),
  choices: z
    .array(
      z.object({
        delta: z.object({ content: z.string().nullish() }).nullish(),
        finish_reason: z.string().nullish(),
      }),
    )
    .default([]),
  usage: z
    .object({
      prompt_tokens: z.number().int().nonnegative(),
      completion_tokens: z.number().int().nonnegative(),
    })
    .nullish(),
});

const errorEvent = z.object({ error: z.union([z.string(), z.object({ message: z.string() })]) });

const modelsAnswer = z.object({
  data: z.array(z.object({ id: z.string(), created: z.number().optional() })),
});

/** OpenAI's chat completions API as vLLM, llama.cpp's server and LM Studio serve it: SSE ending in `data: [DONE]`. */
export function createOpenAIProvider(options: OpenAIProviderOptions): ChatProvider {
  const api: HttpApi = new HttpApi({
    kind: "openai",
    baseUrl: options.baseUrl,
    timeouts: options.timeouts,
    headers: options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {},
    startHint: "Start the server, or set OPENAI_BASE_URL to where it runs (ending in /v1).",
    errorFor: (status, body, model) => openAIError(api.baseUrl, status, body, model),
  });

  return {
    kind: "openai",

    async *chat(request: ChatRequest): AsyncGenerator<ChatChunk, void, undefined> {
      const { model, messages, format, options: chatOptions = {}, signal } = request;
      const body = {
        model,
        messages: messages.map(({ role, content }) => ({ role, content })),
        stream: true,
        stream_options: { include_usage: true },
        ...(chatOptions.temperature !== undefined ? { temperature: chatOptions.temperature } : {}),
        ...(chatOptions.maxTokens !== undefined ? { max_tokens: chatOptions.maxTokens } : {}),
        ...(format ? { response_format: responseFormat(format) } : {}),
      };

      let answeredBy = model;
      let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
      for await (const event of sseEvents(api.streamLines("/chat/completions", body, model, signal))) {
        if (event.field === "data" && event.data.trim() === "[DONE]") {
          yield {
            type: "done",
            model: answeredBy,
            ...(usage ? { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens } : {}),
          };
          return;
        }
        const json = api.streamedJson("event", event.data);
        const failed = errorEvent.safeParse(json);
        if (event.field === "error" || failed.success) {
          const message = failed.success
            ? typeof failed.data.error === "string"
              ? failed.data.error
              : failed.data.error.message
            : event.data.slice(0, 200);
          throw api.stoppedWithError(message);
        }
        const parsed = streamChunk.safeParse(json);
        if (!parsed.success) throw api.unexpectedShape("event", event.data);
        if (parsed.data.model) answeredBy = parsed.data.model;
        if (parsed.data.usage) usage = parsed.data.usage;
        for (const choice of parsed.data.choices) {
          const text = choice.delta?.content;
          if (text) yield { type: "delta", text };
        }
      }
      throw api.endedBefore("data: [DONE]");
    },

    async listModels(signal?: AbortSignal): Promise<ModelInfo[]> {
      const answer = await api.getJson("/models", modelsAnswer, signal);
      return answer.data.map((entry) => ({
        name: entry.id,
        ...(entry.created !== undefined ? { modifiedAt: new Date(entry.created * 1000).toISOString() } : {}),
      }));
    },

    health(signal?: AbortSignal): Promise<ProviderHealth> {
      return api.health(async () => {
        const answer = await api.getJson("/models", modelsAnswer, signal);
        return `${answer.data.length} model(s) at ${api.baseUrl}`;
      });
    },

    async close(): Promise<void> {},
  };
}

/** `response_format` for a JSON schema; the schema's `title` names it when it is a valid name. */
function responseFormat(schema: JsonSchema) {
  const title = typeof schema.title === "string" && /^[A-Za-z0-9_-]{1,64}$/.test(schema.title) ? schema.title : "reply";
  return { type: "json_schema", json_schema: { name: title, schema, strict: true } };
}

const missingModel = /model.*(not found|does not exist|not loaded|no such)|model_not_found/i;

function openAIError(baseUrl: string, status: number, body: string, model: string | undefined): ProviderError {
  const text = errorText(body);
  if (model !== undefined && (missingModel.test(text) || missingModel.test(body))) {
    return new ModelNotFoundError(
      "openai",
      model,
      `set OPENAI_MODEL to a model the server lists (curl -s ${baseUrl}/models), or start the server with that model`,
    );
  }
  if (status === 401 || status === 403) {
    return new ProviderUnavailableError(
      "openai",
      `The OpenAI-compatible server at ${baseUrl} refused the API key (${status}); set OPENAI_API_KEY to a key it accepts.`,
    );
  }
  if (status === 404) {
    return new ProviderUnavailableError(
      "openai",
      `No OpenAI-compatible API at ${baseUrl} (404: ${text}); OPENAI_BASE_URL usually ends in /v1.`,
    );
  }
  if (status >= 500 || status === 429) {
    return new ProviderUnavailableError("openai", `The OpenAI-compatible server failed (${status}): ${text}`);
  }
  return new ProviderRequestError(
    "openai",
    `The OpenAI-compatible server refused the request (${status}): ${text}`,
    status,
  );
}

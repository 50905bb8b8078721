import { type FakeOptions, type FakeProvider, type FakeRequest, sendJson, startFake, type Wire } from "./fake-server";

const event = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`;
const created = 1_767_225_600;
const chunk = (model: string, delta: Record<string, string>, finishReason: string | null = null) => ({
  id: "chatcmpl-fake",
  object: "chat.completion.chunk",
  created,
  model,
  choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
});

/** OpenAI's streaming chat completions: `data: {chunk}` events, usage when asked for, then `data: [DONE]`. */
const openAIWire: Wire = {
  contentType: "text/event-stream",
  start: (model) => event(chunk(model, { role: "assistant", content: "" })),
  token: (model, text) => event(chunk(model, { content: text })),
  done(model, promptTokens, completionTokens, body) {
    const includeUsage = (body as { stream_options?: { include_usage?: unknown } } | undefined)?.stream_options
      ?.include_usage;
    const usage = includeUsage
      ? event({
          id: "chatcmpl-fake",
          object: "chat.completion.chunk",
          created,
          model,
          choices: [],
          usage: {
            prompt_tokens: promptTokens,
            completion_tokens: completionTokens,
            total_tokens: promptTokens + completionTokens,
          },
        })
      : "";
    return `${event(chunk(model, {}, "stop"))}${usage}data: [DONE]\n\n`;
  },
  error: (_model, message) => `${event({ error: { message, type: "server_error", code: 500 } })}data: [DONE]\n\n`,
  malformed: () => `data: {"id":"chatcmpl-fake","choices":[{"delta":{"content":"ka\n\n`,
};

export interface FakeOpenAIOptions extends FakeOptions {
  /** When set, requests must carry `Authorization: Bearer <apiKey>` (401 otherwise). */
  apiKey?: string;
}

/**
 * A fake OpenAI-compatible server on 127.0.0.1 (its `url` ends in /v1): `POST /v1/chat/completions`
 * (SSE, behaviour by model name — see `behaviourOf`) and `GET /v1/models`.
 */
export function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeProvider> {
  const unauthorized = (request: FakeRequest) =>
    options.apiKey !== undefined && request.headers.authorization !== `Bearer ${options.apiKey}`
      ? {
          status: 401,
          body: {
            error: { message: "Incorrect API key provided.", type: "invalid_request_error", code: "invalid_api_key" },
          },
        }
      : undefined;
  return startFake(
    {
      chatPath: "POST /v1/chat/completions",
      wire: openAIWire,
      wantsStructured: (body) => (body as { response_format?: unknown } | undefined)?.response_format !== undefined,
      baseUrl: (origin) => `${origin}/v1`,
      missing: (model) => ({
        status: 404,
        body: {
          error: {
            message: `The model \`${model}\` does not exist.`,
            type: "invalid_request_error",
            param: "model",
            code: "model_not_found",
          },
        },
      }),
      refuse: unauthorized,
      other(request, response, knownModels) {
        if (`${request.method} ${request.path}` !== "GET /v1/models") return false;
        const refusal = unauthorized(request);
        if (refusal) sendJson(response, refusal.status, refusal.body);
        else {
          sendJson(response, 200, {
            object: "list",
            data: knownModels.map((id) => ({ id, object: "model", created, owned_by: "fake" })),
          });
        }
        return true;
      },
    },
    options,
  );
}

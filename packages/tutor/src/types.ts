/** Which kind of model server or engine a provider talks to. */
export type ProviderKind = "ollama" | "openai" | "embedded";

export type ChatRole = "system" | "user" | "assistant";

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/** A JSON Schema object (draft 2020-12 subset the engines understand): `{ type: "object", properties: … }`. */
export type JsonSchema = { [keyword: string]: unknown };

export interface ChatOptions {
  /** Context window in tokens. Ollama: `options.num_ctx`; ignored by OpenAI-compatible servers and the engine (set at start). */
  numCtx?: number;
  temperature?: number;
  /** Most tokens to generate. Ollama: `num_predict`; OpenAI: `max_tokens`. */
  maxTokens?: number;
  /** How long Ollama keeps the model loaded after this request ("5m", "1h", seconds, or -1 for ever). Ollama only. */
  keepAlive?: string | number;
}

export interface ChatRequest {
  model: string;
  messages: readonly ChatMessage[];
  /** Structured output: the reply is JSON matching this schema (still streamed as text deltas). */
  format?: JsonSchema;
  options?: ChatOptions;
  /**
   * Stops the generation and closes the request to the provider. The stream then throws the
   * signal's reason (an `AbortError` DOMException unless the caller gave another).
   */
  signal: AbortSignal;
}

/** A piece of the reply, in order; the last chunk of a complete reply is `done`. */
export type ChatChunk =
  | { type: "delta"; text: string }
  | {
      type: "done";
      /** The model that answered, as the provider names it. */
      model: string;
      /** Tokens the provider evaluated for the prompt (the engine counts only those not already cached). */
      promptTokens?: number;
      completionTokens?: number;
    };

export interface ModelInfo {
  name: string;
  sizeBytes?: number;
  modifiedAt?: string;
}

export type ProviderHealth =
  | {
      ok: true;
      kind: ProviderKind;
      /** Where or what: the base URL and version, or the engine's model file. */
      detail: string;
      latencyMs: number;
    }
  | {
      ok: false;
      kind: ProviderKind;
      /** One sentence: what is wrong and what to do. */
      reason: string;
    };

/**
 * One model server or engine. `chat` streams a reply; every failure is one of the errors in
 * `errors.ts` (or the signal's reason after an abort). Stopping early — aborting the signal or
 * leaving the `for await` loop — closes the request to the provider.
 */
export interface ChatProvider {
  readonly kind: ProviderKind;
  chat(request: ChatRequest): AsyncIterable<ChatChunk>;
  /** The models this provider can answer with now; throws ProviderUnavailableError when it is down. */
  listModels(signal?: AbortSignal): Promise<ModelInfo[]>;
  /** Whether it answers now; never throws. */
  health(signal?: AbortSignal): Promise<ProviderHealth>;
  /** Releases what it holds (the engine's model and memory); HTTP providers hold nothing. */
  close(): Promise<void>;
}

/** How long an HTTP provider may keep us waiting. */
export interface HttpTimeouts {
  /** From sending the request to the first byte of the reply (covers loading the model). */
  firstByteMs: number;
  /** Longest silence between two pieces of a streaming reply. */
  stallMs: number;
  /** Whole-request limit for `listModels` and `health`. */
  requestMs: number;
}

export const defaultHttpTimeouts: HttpTimeouts = { firstByteMs: 120_000, stallMs: 30_000, requestMs: 5_000 };

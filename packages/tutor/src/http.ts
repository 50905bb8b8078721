import type { z } from "zod";
import { label, ProviderError, ProviderStreamError, ProviderTimeoutError, ProviderUnavailableError } from "./errors";
import { defaultHttpTimeouts, type HttpTimeouts, type ProviderHealth, type ProviderKind } from "./types";

/** What the shared HTTP code needs to know about the provider it speaks for. */
export interface HttpTarget {
  kind: ProviderKind;
  timeouts: HttpTimeouts;
  /** Sent with every request (an API key, say). Never logged and never put into an error. */
  headers: Record<string, string>;
  /** What to do when it does not answer, e.g. "Start it with `ollama serve`, or set OLLAMA_URL." */
  startHint: string;
  /** The provider's own error for a non-2xx answer (`body` is at most 64 KiB of its text). */
  errorFor(status: number, body: string): ProviderError;
}

const maxErrorBody = 65_536;
const maxLineChars = 1_048_576;

/**
 * POSTs `body` as JSON and yields the streaming reply as text, piece by piece, as it arrives.
 * The request is closed when the caller's signal aborts, when a timeout fires, and when the
 * consumer stops iterating; failures come out as provider errors.
 */
export async function* postStream(
  target: HttpTarget,
  url: string,
  body: unknown,
  signal: AbortSignal,
): AsyncGenerator<string, void, undefined> {
  signal.throwIfAborted();
  const controller = new AbortController();
  let timedOut: ProviderTimeoutError | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (phase: "first-byte" | "stall", ms: number) => {
    timer = setTimeout(() => {
      timedOut = new ProviderTimeoutError(target.kind, phase, ms);
      controller.abort(timedOut);
    }, ms);
  };
  const disarm = () => clearTimeout(timer);
  const forward = () => controller.abort(signal.reason);
  signal.addEventListener("abort", forward, { once: true });
  const failure = (error: unknown, phase: "connect" | "body"): unknown => {
    if (timedOut) return timedOut;
    if (signal.aborted) return signal.reason;
    if (error instanceof ProviderError) return error;
    if (phase === "connect") return unavailable(target, url, error);
    return new ProviderStreamError(
      target.kind,
      `${label(target.kind)} broke off the reply: ${describeNetworkError(error)}`,
      {
        cause: error,
      },
    );
  };

  try {
    arm("first-byte", target.timeouts.firstByteMs);
    let response: Response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...target.headers },
        body: JSON.stringify(body),
        signal: controller.signal,
      });
    } catch (error) {
      throw failure(error, "connect");
    }
    if (!response.ok) {
      let text: string;
      try {
        text = await readCapped(response, maxErrorBody);
      } catch (error) {
        throw failure(error, "body");
      }
      throw target.errorFor(response.status, text);
    }
    if (!response.body) throw new ProviderStreamError(target.kind, `${label(target.kind)} answered without a body`);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let first = true;
    for (;;) {
      // The first read still runs under the first-byte timer; later ones under the stall timer.
      // No timer runs while the consumer holds a piece: a slow consumer is not a stalled provider.
      if (!first) arm("stall", target.timeouts.stallMs);
      first = false;
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw failure(error, "body");
      } finally {
        disarm();
      }
      if (chunk.done) break;
      const text = decoder.decode(chunk.value, { stream: true });
      if (text !== "") yield text;
    }
    const rest = decoder.decode();
    if (rest !== "") yield rest;
  } finally {
    disarm();
    signal.removeEventListener("abort", forward);
    // Closes the connection when the reply is not finished (abort, timeout, consumer left); no-op after the end.
    controller.abort();
  }
}

/** GETs `url` and parses the JSON answer with `schema`, within `timeouts.requestMs`. */
export async function getJson<T>(
  target: HttpTarget,
  url: string,
  schema: z.ZodType<T>,
  signal?: AbortSignal,
): Promise<T> {
  signal?.throwIfAborted();
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, target.timeouts.requestMs);
  const forward = () => controller.abort(signal?.reason);
  signal?.addEventListener("abort", forward, { once: true });
  try {
    let text: string;
    let status: number;
    try {
      const response = await fetch(url, { headers: target.headers, signal: controller.signal });
      status = response.status;
      text = await readCapped(response, response.ok ? 16 * 1_048_576 : maxErrorBody);
    } catch (error) {
      if (timedOut) {
        throw new ProviderUnavailableError(
          target.kind,
          `${label(target.kind)} did not answer within ${target.timeouts.requestMs} ms at ${origin(url)}. ${target.startHint}`,
        );
      }
      if (signal?.aborted) throw signal.reason;
      throw unavailable(target, url, error);
    }
    if (status < 200 || status > 299) throw target.errorFor(status, text);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ProviderStreamError(
        target.kind,
        `${label(target.kind)} answered ${pathOf(url)} with something not JSON`,
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new ProviderStreamError(
        target.kind,
        `${label(target.kind)} answered ${pathOf(url)} in an unexpected shape: ${parsed.error.issues[0]?.message ?? "invalid"}`,
      );
    }
    return parsed.data;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", forward);
  }
}

export interface HttpApiOptions {
  kind: ProviderKind;
  /** The API's root, which every path is relative to; trailing slashes are dropped. */
  baseUrl: string;
  /** Over {@link defaultHttpTimeouts}. */
  timeouts?: Partial<HttpTimeouts>;
  /** Sent with every request (an API key, say). Never logged and never put into an error. */
  headers?: Record<string, string>;
  /** What to do when it does not answer, e.g. "Start it with `ollama serve`, or set OLLAMA_URL." */
  startHint: string;
  /** The provider's own error for a non-2xx answer; `model` is the one a chat asked for. */
  errorFor(status: number, body: string, model: string | undefined): ProviderError;
}

/**
 * One provider's HTTP API at its base URL: what the HTTP providers share (requests with their
 * timeouts, headers and errors, streamed replies as lines, health from a probe), so that each
 * provider's own module says only what its API looks like.
 */
export class HttpApi {
  readonly kind: ProviderKind;
  readonly baseUrl: string;
  private readonly timeouts: HttpTimeouts;

  constructor(private readonly options: HttpApiOptions) {
    this.kind = options.kind;
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.timeouts = { ...defaultHttpTimeouts, ...options.timeouts };
  }

  /** POSTs `body` to `path` for a chat with `model`, and yields the streamed reply line by line. */
  streamLines(
    path: string,
    body: unknown,
    model: string,
    signal: AbortSignal,
  ): AsyncGenerator<string, void, undefined> {
    return splitLines(this.kind, postStream(this.target(model), this.url(path), body, signal));
  }

  /** GETs `path` and parses the JSON answer with `schema`. */
  getJson<T>(path: string, schema: z.ZodType<T>, signal?: AbortSignal): Promise<T> {
    return getJson(this.target(undefined), this.url(path), schema, signal);
  }

  /**
   * The provider's health from one probe of its API: ok, with what the probe reports and how long
   * it took, or the reason it failed (the error's message, which says what to do).
   */
  async health(probe: () => Promise<string>): Promise<ProviderHealth> {
    const started = performance.now();
    try {
      const detail = await probe();
      return { ok: true, kind: this.kind, detail, latencyMs: Math.round(performance.now() - started) };
    } catch (error) {
      return { ok: false, kind: this.kind, reason: error instanceof Error ? error.message : String(error) };
    }
  }

  /** One streamed piece of the reply as JSON; a stream error quoting its start when it is not JSON. */
  streamedJson(unit: StreamUnit, text: string): unknown {
    try {
      return JSON.parse(text);
    } catch {
      throw new ProviderStreamError(
        this.kind,
        `${label(this.kind)} sent ${article[unit]} that is not JSON: ${text.slice(0, 120)}`,
      );
    }
  }

  /** The stream error for the provider's own report of an error in the middle of a reply. */
  stoppedWithError(message: string): ProviderStreamError {
    return new ProviderStreamError(this.kind, `${label(this.kind)} stopped with an error: ${message}`);
  }

  /** The stream error for a reply that ended before `end`, the mark the provider finishes every reply with. */
  endedBefore(end: string): ProviderStreamError {
    return new ProviderStreamError(this.kind, `${label(this.kind)}'s reply ended before ${end}`);
  }

  /** The stream error for a streamed piece of JSON that is not of the shape the provider sends. */
  unexpectedShape(unit: StreamUnit, text: string): ProviderStreamError {
    return new ProviderStreamError(
      this.kind,
      `${label(this.kind)} sent ${article[unit]} of an unexpected shape: ${text.slice(0, 120)}`,
    );
  }

  private url(path: string): string {
    return `${this.baseUrl}${path}`;
  }

  private target(model: string | undefined): HttpTarget {
    return {
      kind: this.kind,
      timeouts: this.timeouts,
      headers: this.options.headers ?? {},
      startHint: this.options.startHint,
      errorFor: (status, body) => this.options.errorFor(status, body, model),
    };
  }
}

/** What a provider streams its reply in: NDJSON lines (Ollama) or server-sent events (OpenAI). */
export type StreamUnit = "line" | "event";

const article: Record<StreamUnit, string> = { line: "a line", event: "an event" };

/** Splits streamed text into lines (without their `\n` or `\r\n`); a last line without a newline counts too. */
export async function* splitLines(
  kind: ProviderKind,
  pieces: AsyncIterable<string>,
): AsyncGenerator<string, void, undefined> {
  let buffer = "";
  for await (const piece of pieces) {
    buffer += piece;
    let newline = buffer.indexOf("\n");
    while (newline !== -1) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      yield line.endsWith("\r") ? line.slice(0, -1) : line;
      newline = buffer.indexOf("\n");
    }
    if (buffer.length > maxLineChars) {
      throw new ProviderStreamError(kind, `${label(kind)} sent a line longer than ${maxLineChars} characters`);
    }
  }
  if (buffer !== "") yield buffer;
}

/** One server-sent event: its `data` lines joined, and its field (`data`, or `error` as llama.cpp's server sends). */
export interface SseEvent {
  field: "data" | "error";
  data: string;
}

/** Reads server-sent events from lines: `data:` (and `error:`) fields, events ended by a blank line, comments skipped. */
export async function* sseEvents(lines: AsyncIterable<string>): AsyncGenerator<SseEvent, void, undefined> {
  let field: SseEvent["field"] = "data";
  let data: string[] = [];
  for await (const line of lines) {
    if (line === "") {
      if (data.length > 0) yield { field, data: data.join("\n") };
      field = "data";
      data = [];
      continue;
    }
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "data" || name === "error") {
      if (name === "error") field = "error";
      data.push(value);
    }
  }
  if (data.length > 0) yield { field, data: data.join("\n") };
}

/** Reads at most `limit` bytes of a body as text, then lets the rest go. */
async function readCapped(response: Response, limit: number): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) break;
    parts.push(chunk.value);
    size += chunk.value.byteLength;
    if (size >= limit) {
      await reader.cancel();
      break;
    }
  }
  return Buffer.concat(parts).subarray(0, limit).toString("utf8");
}

/** "Ollama is not answering at http://127.0.0.1:11434 (connection refused). Start it with …" */
function unavailable(target: HttpTarget, url: string, error: unknown): ProviderUnavailableError {
  return new ProviderUnavailableError(
    target.kind,
    `${label(target.kind)} is not answering at ${origin(url)} (${describeNetworkError(error)}). ${target.startHint}`,
    { cause: error },
  );
}

const networkReasons: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "connection timed out",
  UND_ERR_CONNECT_TIMEOUT: "connection timed out",
  UND_ERR_SOCKET: "connection closed",
  UND_ERR_HEADERS_TIMEOUT: "no answer in time",
  UND_ERR_BODY_TIMEOUT: "the reply stopped",
};

/** A network failure in a few words, from fetch's error and its cause ("fetch failed" alone says nothing). */
export function describeNetworkError(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && networkReasons[code]) return networkReasons[code];
    if (current.message === "other side closed") return "connection closed by the server";
    current = current.cause;
  }
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? error.cause.message : undefined;
    return (cause ?? error.message).slice(0, 200);
  }
  return "unknown network error";
}

function origin(url: string): string {
  return new URL(url).origin;
}

function pathOf(url: string): string {
  return new URL(url).pathname;
}

/** The `error` text of a JSON error body (`{"error": "…"}` or `{"error": {"message": "…"}}` or `{"message": "…"}`), else the body. */
export function errorText(body: string): string {
  try {
    const json: unknown = JSON.parse(body);
    if (json && typeof json === "object") {
      const { error, message } = json as { error?: unknown; message?: unknown };
      if (typeof error === "string") return error;
      if (error && typeof error === "object" && typeof (error as { message?: unknown }).message === "string") {
        return (error as { message: string }).message;
      }
      if (typeof message === "string") return message;
    }
  } catch {
    // not JSON: the text itself
  }
  return body.trim().slice(0, 300) || "no details";
}

import { EventEmitter } from "node:events";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * What a fake provider does with a chat request. Chosen per request by the model's name
 * (`"slow:20"` is `{ kind: "slow", msPerToken: 20 }`, see {@link behaviourOf}) or by the fake's
 * `models` option.
 */
export type FakeBehaviour =
  /** The reply's tokens at once, then the final line / `[DONE]`. */
  | { kind: "normal" }
  /** The reply's tokens `msPerToken` apart. */
  | { kind: "slow"; msPerToken: number }
  /** Tokens `msPerToken` apart until the client leaves (or the fake's `maxStreamMs` passes). */
  | { kind: "endless"; msPerToken: number }
  /** 404, as for a model the server does not have. */
  | { kind: "missing" }
  /** `afterTokens` tokens, then the connection is reset (TCP RST). */
  | { kind: "reset"; afterTokens: number }
  /** `afterTokens` tokens, then a line that is not JSON. */
  | { kind: "malformed"; afterTokens: number }
  /** `afterTokens` tokens, then the provider's error line (`{"error": …}`) and the end. */
  | { kind: "error"; afterTokens: number }
  /** `afterTokens` tokens, then silence with the connection open. */
  | { kind: "stall"; afterTokens: number }
  /** Accepts the request and never answers: not even headers. */
  | { kind: "hang" }
  /** `text` as the reply (cut into word-sized tokens), then the final line / `[DONE]`: a model that says exactly this. */
  | { kind: "fixed"; text: string };

export type FakeBehaviourKind = FakeBehaviour["kind"];

const defaults = { slow: 50, endless: 20, reset: 2, malformed: 2, error: 2, stall: 2 } as const;

/**
 * The behaviour a model name asks for: `"normal"`, `"slow"`, `"slow:20"` (ms per token),
 * `"endless:5"`, `"missing"`, `"reset:3"`, `"malformed:1"`, `"error:2"`, `"stall:2"` (after that
 * many tokens), `"hang"`, `"fixed:<base64url>"` (replies with exactly that text, see
 * {@link fixedReplyModel}). Any other name is a model the fake does not have (`missing`).
 */
export function behaviourOf(model: string): FakeBehaviour {
  const [kind = "", parameter] = model.split(":");
  if (kind === "fixed" && parameter !== undefined && /^[A-Za-z0-9_-]*={0,2}$/.test(parameter)) {
    return { kind, text: Buffer.from(parameter, "base64url").toString("utf8") };
  }
  const n = parameter !== undefined && /^\d+$/.test(parameter) ? Number(parameter) : undefined;
  switch (kind) {
    case "normal":
    case "missing":
    case "hang":
      return { kind };
    case "slow":
    case "endless":
      return { kind, msPerToken: n ?? defaults[kind] };
    case "reset":
    case "malformed":
    case "error":
    case "stall":
      return { kind, afterTokens: n ?? defaults[kind] };
    default:
      return { kind: "missing" };
  }
}

/** A model name that asks a fake for `kind` (with its ms per token or token count). */
export function fakeModel(kind: Exclude<FakeBehaviourKind, "fixed">, parameter?: number): string {
  return parameter === undefined ? kind : `${kind}:${parameter}`;
}

/** A model name that makes a fake reply with exactly `text` (`fixed:<base64url>`), e.g. a given JSON answer. */
export function fixedReplyModel(text: string): string {
  return `fixed:${Buffer.from(text, "utf8").toString("base64url")}`;
}

/** `text` cut into tokens the way a model streams them: each piece is a word with the spaces before it, or a run of other characters. */
export function splitIntoTokens(text: string): string[] {
  return text.match(/\s*[\p{L}\p{N}]+|\s*[^\s\p{L}\p{N}]+|\s+$/gu) ?? [];
}

/** One request a fake received, as it happened. */
export interface FakeRequest {
  id: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body (undefined for GET). */
  body: unknown;
  model: string | undefined;
  behaviour: FakeBehaviourKind | undefined;
  startedAt: number;
  tokensSent: number;
  /** `performance.now()` right after each token was written, in order (for timing what a client adds). */
  tokenTimes: number[];
  /** `closed-by-client`: the client closed the connection before the reply ended (Stop, a timeout). */
  outcome: "open" | "completed" | "closed-by-client" | "reset-by-server";
  /** `performance.now()` when the outcome was settled. */
  closedAt?: number;
}

export interface FakeCounts {
  requests: number;
  chats: number;
  open: number;
  completed: number;
  closedByClient: number;
  resetByServer: number;
}

export interface FakeProvider {
  /** The base URL to give the provider (Ollama: the origin; OpenAI-compatible: ending in /v1). */
  readonly url: string;
  /** Every request, in arrival order. */
  readonly requests: readonly FakeRequest[];
  /** The chat requests only. */
  chats(): FakeRequest[];
  counts(): FakeCounts;
  /** The oldest chat request not yet taken by this call, waiting for one to arrive if needed. */
  nextChat(withinMs?: number): Promise<FakeRequest>;
  /**
   * Resolves with `closedAt` once the client has closed `request`'s connection; rejects when that
   * does not happen within `withinMs` (naming what happened instead).
   */
  waitForClientClose(request: FakeRequest, withinMs: number): Promise<number>;
  close(): Promise<void>;
}

/** What a flavour (Ollama, OpenAI) writes for each part of a streaming reply. */
export interface Wire {
  contentType: string;
  /** Written before the first token (OpenAI's role chunk), if anything. */
  start(model: string): string;
  token(model: string, text: string): string;
  done(model: string, promptTokens: number, completionTokens: number, body: unknown): string;
  error(model: string, message: string): string;
  malformed(model: string): string;
}

export interface FakeOptions {
  /** Behaviours for model names of your own (e.g. `{ "qwen2.5:3b": { kind: "normal" } }`), over {@link behaviourOf}. */
  models?: Record<string, FakeBehaviour>;
  /** The reply's tokens. Default: a short German greeting, or a small JSON object when the request asks for structured output. */
  reply?: string[] | ((request: FakeRequest) => string[]);
  /** The longest an endless, stalled or hanging reply is kept open (the fake stops by itself). Default 30 s. */
  maxStreamMs?: number;
}

export const defaultReply = ["Hallo", "!", " Wie", " geht", " es", " dir", "?"];
export const defaultJsonReply = ['{"reply":', '"Hallo!",', '"corrections":', "[]}"];

/** The routes of one flavour; `chat` streams, the rest answer JSON. */
export interface Routes {
  /** Method and path of the chat endpoint, e.g. `POST /api/chat`. */
  chatPath: string;
  wire: Wire;
  wantsStructured(body: unknown): boolean;
  /** Answers a request that is not a chat request (model lists, versions, 404s); true when handled. */
  other(request: FakeRequest, response: ServerResponse, knownModels: string[]): boolean;
  /** Status and JSON body for a model the fake does not have. */
  missing(model: string): { status: number; body: unknown };
  /** A status and JSON body to refuse the request with before it streams (e.g. a wrong API key), if any. */
  refuse?(request: FakeRequest): { status: number; body: unknown } | undefined;
  baseUrl(origin: string): string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Starts a fake provider on 127.0.0.1 at a free port. */
export async function startFake(routes: Routes, options: FakeOptions = {}): Promise<FakeProvider> {
  const requests: FakeRequest[] = [];
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const maxStreamMs = options.maxStreamMs ?? 30_000;
  let chatsSeen = 0;
  const unclaimed: FakeRequest[] = [];
  const waiters: Array<(request: FakeRequest) => void> = [];
  let stopping = false;
  const knownModels = ["normal", ...Object.keys(options.models ?? {})];

  const settle = (request: FakeRequest, outcome: FakeRequest["outcome"]) => {
    if (request.outcome !== "open") return;
    request.outcome = outcome;
    request.closedAt = performance.now();
    events.emit("settled", request);
  };

  const server = createServer(async (incoming: IncomingMessage, response: ServerResponse) => {
    const request: FakeRequest = {
      id: requests.length + 1,
      method: incoming.method ?? "GET",
      path: (incoming.url ?? "/").split("?")[0] ?? "/",
      headers: incoming.headers,
      body: undefined,
      model: undefined,
      behaviour: undefined,
      startedAt: performance.now(),
      tokensSent: 0,
      tokenTimes: [],
      outcome: "open",
    };
    requests.push(request);
    response.on("close", () =>
      settle(request, response.writableFinished ? "completed" : stopping ? "reset-by-server" : "closed-by-client"),
    );
    response.on("finish", () => settle(request, "completed"));

    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    if (text !== "") {
      try {
        request.body = JSON.parse(text);
      } catch {
        return sendJson(response, 400, { error: "the body is not JSON" });
      }
    }

    if (`${request.method} ${request.path}` !== routes.chatPath) {
      if (!routes.other(request, response, knownModels)) sendJson(response, 404, { error: "not found" });
      return;
    }

    const refusal = routes.refuse?.(request);
    if (refusal) return sendJson(response, refusal.status, refusal.body);
    const body = (request.body ?? {}) as { model?: unknown };
    const model = typeof body.model === "string" ? body.model : "";
    const behaviour = options.models?.[model] ?? behaviourOf(model);
    request.model = model;
    request.behaviour = behaviour.kind;
    chatsSeen++;
    const waiter = waiters.shift();
    if (waiter) waiter(request);
    else unclaimed.push(request);

    if (behaviour.kind === "missing") {
      const answer = routes.missing(model);
      return sendJson(response, answer.status, answer.body);
    }
    const open = () => request.outcome === "open" && !stopping;
    const deadline = performance.now() + maxStreamMs;
    const holdOpen = async () => {
      while (open() && performance.now() < deadline) await sleep(20);
      if (open()) {
        settle(request, "reset-by-server");
        response.destroy();
      }
    };
    if (behaviour.kind === "hang") return holdOpen();

    const reply =
      behaviour.kind === "fixed"
        ? splitIntoTokens(behaviour.text)
        : typeof options.reply === "function"
          ? options.reply(request)
          : (options.reply ?? (routes.wantsStructured(request.body) ? defaultJsonReply : defaultReply));
    const { wire } = routes;
    response.writeHead(200, { "content-type": wire.contentType, "cache-control": "no-cache" });
    response.write(wire.start(model));
    const limit =
      behaviour.kind === "reset" ||
      behaviour.kind === "malformed" ||
      behaviour.kind === "error" ||
      behaviour.kind === "stall"
        ? behaviour.afterTokens
        : behaviour.kind === "endless"
          ? Number.POSITIVE_INFINITY
          : reply.length;
    const msPerToken = behaviour.kind === "slow" || behaviour.kind === "endless" ? behaviour.msPerToken : 0;
    for (let index = 0; index < limit && open(); index++) {
      if (behaviour.kind === "endless" && performance.now() >= deadline) break;
      if (msPerToken > 0) await sleep(msPerToken);
      else await new Promise<void>((resolve) => setImmediate(resolve));
      if (!open()) return;
      response.write(wire.token(model, reply[index % Math.max(1, reply.length)] ?? ""));
      request.tokenTimes.push(performance.now());
      request.tokensSent++;
    }
    if (!open()) return;
    switch (behaviour.kind) {
      case "reset":
        // A moment for the tokens to be read first: a reset discards whatever the client has not read yet.
        await sleep(25);
        if (!open()) return;
        settle(request, "reset-by-server");
        response.socket?.resetAndDestroy();
        return;
      case "malformed":
        response.end(wire.malformed(model));
        return;
      case "error":
        response.end(wire.error(model, "the fake model failed on purpose"));
        return;
      case "stall":
        return holdOpen();
      default: {
        const promptTokens = countWords(request.body);
        response.end(wire.done(model, promptTokens, request.tokensSent, request.body));
      }
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  return {
    url: routes.baseUrl(origin),
    requests,
    chats: () => requests.filter((request) => request.behaviour !== undefined),
    counts: () => ({
      requests: requests.length,
      chats: chatsSeen,
      open: requests.filter((request) => request.outcome === "open").length,
      completed: requests.filter((request) => request.outcome === "completed").length,
      closedByClient: requests.filter((request) => request.outcome === "closed-by-client").length,
      resetByServer: requests.filter((request) => request.outcome === "reset-by-server").length,
    }),
    nextChat(withinMs = 5_000) {
      const waiting = unclaimed.shift();
      if (waiting) return Promise.resolve(waiting);
      return new Promise((resolve, reject) => {
        const take = (request: FakeRequest) => {
          clearTimeout(timer);
          resolve(request);
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(take), 1);
          reject(new Error(`no chat request arrived within ${withinMs} ms`));
        }, withinMs);
        waiters.push(take);
      });
    },
    waitForClientClose(request, withinMs) {
      const verdict = () =>
        request.outcome === "closed-by-client"
          ? { closedAt: request.closedAt ?? performance.now() }
          : request.outcome === "open"
            ? undefined
            : { error: new Error(`request ${request.id} ended ${request.outcome}, not closed by the client`) };
      const now = verdict();
      if (now) return "error" in now ? Promise.reject(now.error) : Promise.resolve(now.closedAt);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          events.off("settled", onSettled);
          reject(
            new Error(`request ${request.id} still open ${withinMs} ms later (${request.tokensSent} tokens sent)`),
          );
        }, withinMs);
        const onSettled = (settled: FakeRequest) => {
          if (settled !== request) return;
          clearTimeout(timer);
          events.off("settled", onSettled);
          const result = verdict();
          if (result && "error" in result) reject(result.error);
          else resolve(result?.closedAt ?? performance.now());
        };
        events.on("settled", onSettled);
      });
    },
    async close() {
      stopping = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

/** A rough prompt token count for the final line: the words of every message. */
function countWords(body: unknown): number {
  const messages = (body as { messages?: unknown } | undefined)?.messages;
  if (!Array.isArray(messages)) return 0;
  let words = 0;
  for (const message of messages) {
    const content = (message as { content?: unknown }).content;
    if (typeof content === "string") words += content.split(/\s+/).filter(Boolean).length;
  }
  return words;
}

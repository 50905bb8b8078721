import {
  type AnyRouter,
  callTRPCProcedure,
  getErrorShape,
  getTRPCErrorFromUnknown,
  isTrackedEnvelope,
  TRPCError,
  transformTRPCResponse,
} from "@trpc/server";
import { parseConnectionParamsFromUnknown, type TRPCRequestInfo } from "@trpc/server/http";
import { isObservable, observableToAsyncIterable } from "@trpc/server/observable";
import { parseTRPCMessage, type TRPCClientOutgoingMessage, type TRPCResponseMessage } from "@trpc/server/rpc";
import type { RawData, WebSocket } from "ws";
import { callLimits } from "../call-limits";
import type { Context } from "../context";
import { metrics } from "../metrics";
import { closeCodes } from "./close-codes";
import { type DetachedSubscription, framePrefix, SubscriptionHandover } from "./handover";

/**
 * Calls one frame may carry. wsLink packs the requests a page makes in the same tick into one frame,
 * a handful in practice; a frame of thousands is an attack that would hold the event loop for seconds.
 */
export const maxCallsPerFrame = callLimits.perFrame;

type CallId = string | number;
type ProcedureType = "query" | "mutation" | "subscription";
type ConnectionParams = TRPCRequestInfo["connectionParams"];
/**
 * What `createContext` may return. The app's server always makes a {@link Context}; the protocol
 * itself, like tRPC's adapter, passes on whatever it gets, none included.
 */
type MaybeContext = Context | null | undefined;

/** What a failure is reported with (the server logs it). */
export type ProtocolFailure = {
  error: TRPCError;
  /** Absent when the failure concerns the connection (a bad frame, failed setup), not one procedure. */
  path: string | undefined;
  ctx: Context | undefined;
};

export type SocketProtocolOptions = {
  router: AnyRouter;
  /**
   * Makes the connection's context, once: at accept, or from its connectionParams message. What it
   * throws is answered (`id: null`) and given to `onSetupFailed`; every call on the connection then
   * fails with that same error, as with tRPC's adapter.
   */
  createContext(socket: WebSocket, connectionParams: ConnectionParams): Promise<MaybeContext>;
  /**
   * The context could not be made; the error has been answered and the socket should be closed.
   * Calls that arrived meanwhile are answered with the same error while the socket is still open
   * (tRPC's adapter closes it in the next tick, so they are); closed at once, they are dropped.
   */
  onSetupFailed(socket: WebSocket, error: TRPCError): void;
  onError(failure: ProtocolFailure): void;
  /** Live subscriptions one connection may hold; the next one is refused with TOO_MANY_REQUESTS. */
  maxSubscriptions: number;
  /**
   * Unsent bytes a connection may queue. Past it, nothing more is written to it (answers, replays,
   * PONGs alike) and `onSlowConsumer` is told: a client that stops reading cannot make the server
   * hold its answers without bound.
   */
  maxBuffered: number;
  onSlowConsumer(socket: WebSocket): void;
};

/**
 * A subscription by its own abort controller (from the moment its frame arrived until it ends or
 * hands over), or the detached part it handed over to. Each entry is unique to one subscription, so
 * a late failure of a stopped one can never remove a newer subscription that reused its id.
 */
type LiveSubscription = AbortController | DetachedSubscription;

/** One connection's protocol state: one small object per socket and no closures of its own. */
class ProtocolConnection {
  /** Settles once making the context has ended, either way; unset while connectionParams are awaited. */
  ready: Promise<void> | null = null;
  /** Whether making the context has ended (`ctx` alone cannot say: it may be undefined). */
  settled = false;
  /** What createContext returned. */
  ctx: MaybeContext = undefined;
  /** What createContext threw; every call then fails with it. */
  setupError: TRPCError | null = null;
  /** Live subscriptions by the id the client gave them; made with the first one. */
  subscriptions: Map<CallId, LiveSubscription> | null = null;
  /** When the last frame arrived, and when a heartbeat PING went out unanswered (0: none). */
  lastInboundAt = Date.now();
  pingSentAt = 0;
  /** Calls received before the connection authenticated (see callLimits.perUnauthenticatedConnection). */
  unauthenticatedCalls = 0;

  constructor(
    readonly socket: WebSocket,
    readonly protocol: SocketProtocol,
  ) {}
}

const connectionOf = new WeakMap<WebSocket, ProtocolConnection>();

/** The one message listener of every socket (`this`), shared rather than a closure per socket. */
function onSocketMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  const connection = connectionOf.get(this);
  connection?.protocol.receive(connection, data, isBinary);
}

/** The one close listener of every socket (`this`): ends its subscriptions. */
function onSocketClose(this: WebSocket): void {
  const connection = connectionOf.get(this);
  connection?.protocol.closed(connection);
}

/**
 * The one error listener of every socket (`this`). ws reports protocol violations (an oversize
 * frame, invalid UTF-8, bad framing) as an `error` event and closes the socket with the matching
 * code itself; without a listener the event would bring the whole process down.
 */
function onSocketError(this: WebSocket, cause: Error): void {
  const connection = connectionOf.get(this);
  connection?.protocol.failed(connection, cause);
}

/**
 * tRPC's WebSocket protocol, as `wsLink` speaks it, on sockets the server has already accepted.
 *
 * It stands in for `applyWSSHandler` from `@trpc/server/adapters/ws` and reuses tRPC's own message
 * parsing, procedure calls and error shapes. What it does differently, and why (measured, see
 * docs/architecture.md):
 * - A subscription may hand over to a {@link SubscriptionHandover} and go on with no generator, abort
 *   signal or promise race behind it; the stock adapter keeps all three per subscription.
 * - The heartbeat is one sweep over all connections instead of two timers per connection, re-armed
 *   with new closures on every inbound frame.
 * - The subscription limit and duplicate ids are settled when a frame arrives, before anything runs.
 */
export class SocketProtocol {
  /** Every connection still open, for the heartbeat and the reconnect notification. */
  private readonly open = new Set<ProtocolConnection>();
  private heartbeat: NodeJS.Timeout | null = null;
  private readonly config: AnyRouter["_def"]["_config"];
  /** Looked up once: every inbound frame counts here. */
  private readonly framesIn = metrics().messagesIn;

  constructor(private readonly options: SocketProtocolOptions) {
    this.config = options.router._def._config;
  }

  /**
   * Starts speaking the protocol on a socket. With `expectConnectionParams` (the client connected
   * with `?connectionParams=1`) its first message must carry them; otherwise the context is made now.
   */
  accept(socket: WebSocket, expectConnectionParams: boolean): void {
    const connection = new ProtocolConnection(socket, this);
    connectionOf.set(socket, connection);
    this.open.add(connection);
    socket.on("message", onSocketMessage);
    socket.once("close", onSocketClose);
    socket.on("error", onSocketError);
    if (!expectConnectionParams) connection.ready = this.setUp(connection, null);
  }

  /**
   * Sends PING to connections silent for `pingMs` and terminates those that then stay silent for
   * `pongWaitMs` (any frame counts as the answer). One timer for every connection; it ticks at a
   * quarter of the shorter interval, so a dead peer is found within pingMs + pongWaitMs + two ticks.
   */
  startHeartbeat(pingMs: number, pongWaitMs: number): void {
    this.stopHeartbeat();
    const tick = Math.max(25, Math.min(pingMs, pongWaitMs) / 4);
    this.heartbeat = setInterval(() => this.sweep(pingMs, pongWaitMs), tick);
    this.heartbeat.unref();
  }

  stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  /** Asks every client to reconnect (wsLink does so with its own backoff); sent when draining. */
  broadcastReconnectNotification(): void {
    const frame = JSON.stringify({ id: null, method: "reconnect" });
    for (const connection of this.open) this.send(connection, frame);
  }

  /** Live subscriptions of one socket. */
  subscriptionCount(socket: WebSocket): number {
    return connectionOf.get(socket)?.subscriptions?.size ?? 0;
  }

  private sweep(pingMs: number, pongWaitMs: number): void {
    const now = Date.now();
    for (const connection of this.open) {
      const socket = connection.socket;
      if (connection.pingSentAt !== 0) {
        if (now - connection.pingSentAt >= pongWaitMs) socket.terminate();
      } else if (now - connection.lastInboundAt >= pingMs && socket.readyState === socket.OPEN) {
        socket.send("PING");
        connection.pingSentAt = now;
      }
    }
  }

  /** @internal The socket closed: every subscription ends, nothing more is sent. */
  closed(connection: ProtocolConnection): void {
    this.open.delete(connection);
    const subscriptions = connection.subscriptions;
    if (!subscriptions) return;
    connection.subscriptions = null;
    for (const live of subscriptions.values()) endSubscription(live);
  }

  /** @internal A protocol violation on the socket; ws is closing it already. */
  failed(connection: ProtocolConnection, cause: Error): void {
    this.options.onError({ error: getTRPCErrorFromUnknown(cause), path: undefined, ctx: contextOf(connection) });
  }

  /** @internal One inbound frame. */
  receive(connection: ProtocolConnection, data: RawData, isBinary: boolean): void {
    this.framesIn.inc();
    connection.lastInboundAt = Date.now();
    connection.pingSentAt = 0;
    // ws hands a Buffer unless told otherwise; text frames are valid UTF-8 by the time they get here.
    const text = !isBinary && Buffer.isBuffer(data) ? data.toString("utf8") : null;
    if (text === "PONG") return;
    if (text === "PING") {
      this.send(connection, "PONG");
      return;
    }
    if (connection.ready === null) {
      connection.ready = this.setUp(connection, () => readConnectionParams(text));
      return;
    }
    if (!connection.settled) {
      // Who is calling decides the frame's limits, so frames that come while the context is being
      // made wait for it; callbacks on one promise run in order, so frame order holds.
      void connection.ready.then(() => this.receiveCalls(connection, text));
      return;
    }
    this.receiveCalls(connection, text);
  }

  /** The calls of one frame, once the connection's context is settled. */
  private receiveCalls(connection: ProtocolConnection, text: string | null): void {
    // A connection that is no one's (anonymous, or its setup failed) gets small frames, and only so
    // many calls in all.
    const authenticated = Boolean(contextOf(connection)?.user);
    let messages: TRPCClientOutgoingMessage[];
    try {
      messages = parseFrame(
        text,
        this.config,
        authenticated ? callLimits.perFrame : callLimits.perUnauthenticatedFrame,
      );
    } catch (cause) {
      const error = toParseError(cause);
      this.options.onError({ error, path: undefined, ctx: contextOf(connection) });
      const shape = this.errorShape(connection, error);
      if (authenticated && cause instanceof TooManyCalls && cause.ids.length <= 10 * callLimits.perFrame) {
        // A client's link packs every call of one tick into one frame: answering each call by its
        // id settles them all (an answer with id null would leave them waiting forever). Strangers,
        // and frames far beyond what any link sends, get the one answer: no amplification.
        for (const id of new Set(cause.ids)) this.respond(connection, { id, error: shape });
        return;
      }
      this.respond(connection, { id: null, error: shape });
      return;
    }
    if (!authenticated) {
      connection.unauthenticatedCalls += messages.length;
      if (connection.unauthenticatedCalls > callLimits.perUnauthenticatedConnection) {
        connection.socket.close(closeCodes.notAuthenticated.code, closeCodes.notAuthenticated.reason);
        return;
      }
    }
    // Subscriptions take their places now, in frame order, so a frame cannot overrun the limit.
    for (let index = 0; index < messages.length; index++) {
      this.handle(connection, messages[index] as TRPCClientOutgoingMessage, index);
    }
  }

  private async setUp(connection: ProtocolConnection, readParams: (() => ConnectionParams) | null): Promise<void> {
    try {
      connection.ctx = await this.options.createContext(connection.socket, readParams ? readParams() : null);
      connection.settled = true;
    } catch (cause) {
      const error = getTRPCErrorFromUnknown(cause);
      connection.setupError = error;
      connection.settled = true;
      this.options.onError({ error, path: undefined, ctx: undefined });
      this.respond(connection, { id: null, error: this.errorShape(connection, error) });
      this.options.onSetupFailed(connection.socket, error);
    }
  }

  private handle(connection: ProtocolConnection, message: TRPCClientOutgoingMessage, batchIndex: number): void {
    const { id, jsonrpc } = message;
    if (id === null) {
      const error = new TRPCError({ code: "PARSE_ERROR", message: "`id` is required" });
      this.options.onError({ error, path: undefined, ctx: contextOf(connection) });
      this.respond(connection, { id, jsonrpc, error: this.errorShape(connection, error) });
      return;
    }
    if (message.method === "subscription.stop") {
      this.stopSubscription(connection, id, jsonrpc);
      return;
    }
    const { path, lastEventId } = message.params;
    const type = message.method;
    let input = message.params.input;
    // wsLink sends the last tracked id beside the input on resubscribe; procedures read it from the input.
    if (lastEventId !== undefined) {
      input = isPlainObject(input) ? { ...input, lastEventId } : (input ?? { lastEventId });
    }
    const call: Call = { id, jsonrpc, type, path, input };
    let controller: AbortController | undefined;
    if (type === "subscription") {
      const place = this.takePlace(connection, id);
      if (place instanceof TRPCError) {
        this.fail(connection, call, place);
        return;
      }
      controller = place;
    }
    this.call(connection, call, batchIndex, controller).catch((cause: unknown) => {
      // A subscription stopped meanwhile has had its answer ("stopped").
      if (controller?.signal.aborted) return;
      if (controller) this.release(connection, id, controller);
      this.fail(connection, call, getTRPCErrorFromUnknown(cause));
    });
  }

  /** Reserves a subscription place for `id` under the subscription's abort controller, or says why not. */
  private takePlace(connection: ProtocolConnection, id: CallId): AbortController | TRPCError {
    if (connection.subscriptions === null) connection.subscriptions = new Map();
    const subscriptions = connection.subscriptions;
    if (subscriptions.has(id)) return new TRPCError({ code: "BAD_REQUEST", message: `Duplicate id ${id}` });
    if (subscriptions.size >= this.options.maxSubscriptions) {
      return new TRPCError({
        code: "TOO_MANY_REQUESTS",
        message: `At most ${this.options.maxSubscriptions} subscriptions per connection`,
      });
    }
    const controller = new AbortController();
    subscriptions.set(id, controller);
    return controller;
  }

  /** Frees `id`'s place if `owner` still holds it. */
  private release(connection: ProtocolConnection, id: CallId, owner: LiveSubscription): void {
    if (connection.subscriptions?.get(id) === owner) connection.subscriptions.delete(id);
  }

  private async call(
    connection: ProtocolConnection,
    call: Call,
    batchIndex: number,
    controller: AbortController | undefined,
  ): Promise<void> {
    await connection.ready;
    if (connection.setupError) {
      // A failed setup fails every call with its own error, as in tRPC's adapter, while the socket
      // is open. Once onSetupFailed has closed it there is no one to answer, and the failure has
      // been reported already: once, not again for every call that came with it.
      if (connection.socket.readyState !== connection.socket.OPEN) return;
      throw connection.setupError;
    }
    const ctx = connection.ctx;
    if (controller === undefined) {
      const data: unknown = await callTRPCProcedure({
        router: this.options.router,
        path: call.path,
        getRawInput: async () => call.input,
        ctx,
        type: call.type,
        signal: undefined,
        batchIndex,
      });
      if (isAsyncIterable(data) || isObservable(data)) {
        throw new TRPCError({
          code: "UNSUPPORTED_MEDIA_TYPE",
          message: `Cannot return an async iterable or observable from a ${call.type} procedure with WebSockets`,
        });
      }
      this.respond(connection, { id: call.id, jsonrpc: call.jsonrpc, result: { type: "data", data } });
      return;
    }
    // Stopped (or the socket closed) while the context was being made: it never starts.
    if (controller.signal.aborted) return;
    const result: unknown = await callTRPCProcedure({
      router: this.options.router,
      path: call.path,
      getRawInput: async () => call.input,
      ctx,
      type: "subscription",
      signal: controller.signal,
      batchIndex,
    });
    // An observable becomes an async iterable the way tRPC's adapter makes it one: its teardown runs
    // when the subscription's signal aborts (stop, close) or the iterable is ended.
    const iterable = isObservable(result)
      ? observableToAsyncIterable(result, controller.signal)
      : isAsyncIterable(result)
        ? result
        : null;
    if (iterable === null) {
      throw new TRPCError({
        code: "INTERNAL_SERVER_ERROR",
        message: `Subscription ${call.path} did not return an observable or a AsyncGenerator`,
      });
    }
    const iterator = iterable[Symbol.asyncIterator]();
    if (controller.signal.aborted || connection.socket.readyState !== connection.socket.OPEN) {
      // Stopped or disconnected while the procedure started: it never runs.
      finish(iterator);
      return;
    }
    this.respond(connection, { id: call.id, jsonrpc: call.jsonrpc, result: { type: "started" } });
    await this.iterate(connection, call, controller, iterator);
  }

  /**
   * Sends a generator subscription's events until it completes, fails, is stopped, or hands over.
   * Stopping does not race the generator: the stop answers at once, and the generator is ended
   * when it next yields (this server's generators also watch their signal and end promptly).
   */
  private async iterate(
    connection: ProtocolConnection,
    call: Call,
    controller: AbortController,
    iterator: AsyncIterator<unknown>,
  ): Promise<void> {
    const { id, jsonrpc } = call;
    // Outside the loop, and cleared once its event is sent: while the loop waits for the next event
    // the suspended function must not keep the last one alive (tRPC fixed the same leak, #6156).
    // The event itself is handled in `deliver`, so no temporary of this frame holds it either.
    let next: IteratorResult<unknown> | null = null;
    for (;;) {
      try {
        next = await iterator.next();
      } catch (cause) {
        if (controller.signal.aborted) return;
        this.release(connection, id, controller);
        this.fail(connection, call, getTRPCErrorFromUnknown(cause));
        // As the stock adapter does: a subscription that failed once started also says it stopped.
        this.respond(connection, { id, jsonrpc, result: { type: "stopped" } });
        return;
      }
      if (controller.signal.aborted) {
        if (!next.done) {
          if (next.value instanceof SubscriptionHandover) next.value.cancel();
          finish(iterator);
        }
        return;
      }
      if (next.done) break;
      const handedOver = this.deliver(connection, call, next);
      next = null;
      if (handedOver) {
        // Ends the generator; its cleanup must leave alone what it handed over.
        finish(iterator);
        return;
      }
      // The socket is closing (a slow consumer, say): reading more of the generator would be wasted.
      if (connection.socket.readyState !== connection.socket.OPEN) {
        finish(iterator);
        return;
      }
    }
    this.release(connection, id, controller);
    this.respond(connection, { id, jsonrpc, result: { type: "stopped" } });
  }

  /** Sends one event of a subscription, or attaches the handover it yielded (then says true). */
  private deliver(connection: ProtocolConnection, call: Call, next: IteratorYieldResult<unknown>): boolean {
    const { id, jsonrpc } = call;
    const value = next.value;
    if (value instanceof SubscriptionHandover) {
      connection.subscriptions?.set(id, value.attach(framePrefix(id, jsonrpc)));
      return true;
    }
    const result = isTrackedEnvelope(value)
      ? { type: "data" as const, id: value[0], data: { id: value[0], data: value[1] } }
      : { type: "data" as const, data: value };
    this.respond(connection, { id, jsonrpc, result });
    return false;
  }

  private stopSubscription(connection: ProtocolConnection, id: CallId, jsonrpc: Call["jsonrpc"]): void {
    const live = connection.subscriptions?.get(id);
    if (live === undefined) return;
    connection.subscriptions?.delete(id);
    endSubscription(live);
    this.respond(connection, { id, jsonrpc, result: { type: "stopped" } });
  }

  private fail(connection: ProtocolConnection, call: Call, error: TRPCError): void {
    this.options.onError({ error, path: call.path, ctx: contextOf(connection) });
    this.respond(connection, {
      id: call.id,
      jsonrpc: call.jsonrpc,
      error: getErrorShape({
        config: this.config,
        error,
        type: call.type,
        path: call.path,
        input: call.input,
        ctx: contextOf(connection),
      }),
    });
  }

  private errorShape(connection: ProtocolConnection, error: TRPCError) {
    return getErrorShape({
      config: this.config,
      error,
      type: "unknown",
      path: undefined,
      input: undefined,
      ctx: contextOf(connection),
    });
  }

  private respond(connection: ProtocolConnection, message: TRPCResponseMessage): void {
    if (connection.socket.readyState !== connection.socket.OPEN) return;
    this.send(connection, serializeResponse(this.config, message));
  }

  /** Every frame this module writes goes through here, under the buffer limit. */
  private send(connection: ProtocolConnection, frame: string): void {
    const socket = connection.socket;
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > this.options.maxBuffered) {
      this.options.onSlowConsumer(socket);
      return;
    }
    socket.send(frame);
  }
}

type Call = {
  id: CallId;
  jsonrpc: "2.0" | undefined;
  type: ProcedureType;
  path: string;
  input: unknown;
};

/** The exact text of a response frame; the direct fan-out's frames match it byte for byte. */
export function serializeResponse(config: AnyRouter["_def"]["_config"], message: TRPCResponseMessage): string {
  return JSON.stringify(transformTRPCResponse(config, message));
}

/** Ends a generator that will not be read again; what its cleanup throws is of no one's concern now. */
function finish(iterator: AsyncIterator<unknown>): void {
  iterator.return?.().catch(ignore);
}

function ignore(): void {}

function endSubscription(live: LiveSubscription): void {
  if (live instanceof AbortController) live.abort();
  else live.stop();
}

/** A frame as calls: one JSON object or an array of at most `maxCalls`; any bad call refuses the frame. */
function parseFrame(
  text: string | null,
  config: AnyRouter["_def"]["_config"],
  maxCalls: number,
): TRPCClientOutgoingMessage[] {
  if (text === null) throw new Error("Binary frames are not part of the protocol");
  const json: unknown = JSON.parse(text);
  const raw = Array.isArray(json) ? json : [json];
  if (raw.length > maxCalls) {
    const ids = raw.flatMap((message) =>
      isPlainObject(message) && (typeof message.id === "number" || typeof message.id === "string") ? [message.id] : [],
    );
    throw new TooManyCalls(maxCalls, ids);
  }
  return raw.map((message) => parseTRPCMessage(message, config.transformer));
}

/** A frame with more calls than allowed, with the calls' ids so that each can be answered. */
class TooManyCalls extends Error {
  constructor(
    max: number,
    readonly ids: readonly (number | string)[],
  ) {
    super(`At most ${max} calls per frame`);
  }
}

function readConnectionParams(text: string | null): ConnectionParams {
  let message: unknown;
  try {
    if (text === null) throw new Error("Binary frames are not part of the protocol");
    message = JSON.parse(text);
    if (!isPlainObject(message)) throw new Error("Message was not an object");
  } catch (cause) {
    throw new TRPCError({ code: "PARSE_ERROR", message: "Malformed TRPCConnectionParamsMessage", cause });
  }
  return parseConnectionParamsFromUnknown(message.data);
}

function toParseError(cause: unknown): TRPCError {
  return new TRPCError({ code: "PARSE_ERROR", cause });
}

/** The connection's context, for error shapes and reports; undefined until made, or if it is none. */
function contextOf(connection: ProtocolConnection): Context | undefined {
  return connection.ctx ?? undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

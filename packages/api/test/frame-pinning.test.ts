import { createTRPCClient, createWSClient, TRPCClientError, wsLink } from "@trpc/client";
import { initTRPC, TRPCError, tracked } from "@trpc/server";
import { applyWSSHandler } from "@trpc/server/adapters/ws";
import type { TRPCRequestInfo } from "@trpc/server/http";
import { observable } from "@trpc/server/observable";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { z } from "zod";
import type { Context } from "../src/context";
import { SocketProtocol } from "../src/server/socket-protocol";
import { listen, serveProtocol, until } from "./support/ws-server";

/*
 * The same router behind tRPC's stock adapter (`applyWSSHandler`) and behind our SocketProtocol,
 * driven by the same client calls; every frame either side sends is compared as text. This is what
 * keeps socket-protocol.ts speaking tRPC's protocol, and what docs/architecture.md points at.
 *
 * Nothing is normalised except what no server controls: how many keep-alive pings fit in a wait.
 * Data is deterministic, and `isDev: false` keeps stack traces (which differ by implementation) out
 * of error shapes. Where the servers differ, the test says so: the key order of tracked events is
 * mapped by `inOurKeyOrder` and nothing else, and every other difference is a "DIFF" test that
 * asserts each server's frames in full, with why.
 */

const t = initTRPC.context<Context>().create({ isDev: false });

/** Resolves once `signal` aborts: a subscription that lives until it is stopped. */
const untilAborted = (signal: AbortSignal | undefined) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) resolve();
    signal?.addEventListener("abort", () => resolve(), { once: true });
  });

/** A generator that ignores its signal until the test lets it go. */
const deaf = { release: () => {} };

const router = t.router({
  greet: t.procedure
    .input(z.object({ name: z.string() }))
    .query(({ input, ctx }) => `Hallo ${input.name}, ${ctx.user?.name ?? "Gast"}`),
  whoami: t.procedure.query(({ ctx }) => ctx.user?.name ?? null),
  save: t.procedure.input(z.object({ word: z.string().min(1) })).mutation(({ input }) => ({ saved: input.word })),
  refuse: t.procedure.mutation(() => {
    throw new TRPCError({ code: "CONFLICT", message: "Schon vorhanden" });
  }),
  crash: t.procedure.query(() => {
    throw new Error("Datenbank weg");
  }),
  /** Tracked events up to `upTo`, resuming after `lastEventId`; then completes. */
  numbers: t.procedure
    .input(z.object({ upTo: z.number(), lastEventId: z.string().optional() }))
    .subscription(async function* ({ input }) {
      for (let n = Number(input.lastEventId ?? 0) + 1; n <= input.upTo; n++) yield tracked(String(n), { n });
    }),
  /** Three tracked events after `lastEventId`, then stays open until stopped. */
  feed: t.procedure.input(z.object({ lastEventId: z.string().nullish() }).optional()).subscription(async function* ({
    input,
    signal,
  }) {
    const from = Number(input?.lastEventId ?? 0);
    for (let n = from + 1; n <= from + 3; n++) yield tracked(String(n), { n });
    await untilAborted(signal);
  }),
  /** Untracked events, then completes. */
  words: t.procedure.subscription(async function* () {
    yield "eins";
    yield "zwei";
  }),
  /** One event, then fails. */
  broken: t.procedure.subscription(async function* () {
    yield "eins";
    throw new TRPCError({ code: "PRECONDITION_FAILED", message: "Kaputt" });
  }),
  forever: t.procedure.subscription(async function* ({ signal }) {
    yield "first";
    await untilAborted(signal);
  }),
  /** The same kinds of subscription as observables (tRPC's adapter turns them into async iterables). */
  observedWords: t.procedure.subscription(() =>
    observable<string>((emit) => {
      emit.next("eins");
      emit.next("zwei");
      emit.complete();
    }),
  ),
  observedBroken: t.procedure.subscription(() =>
    observable<string>((emit) => {
      emit.next("eins");
      emit.error(new TRPCError({ code: "PRECONDITION_FAILED", message: "Kaputt" }));
    }),
  ),
  observedForever: t.procedure.subscription(() =>
    observable<string>((emit) => {
      emit.next("first");
    }),
  ),
  stubborn: t.procedure.subscription(async function* () {
    yield "first";
    await new Promise<void>((resolve) => {
      deaf.release = resolve;
    });
    yield "second";
  }),
});

/** The one context rule both servers share: the token names the user; "anon" is nobody, "bad" fails. */
async function makeContext(params: TRPCRequestInfo["connectionParams"]): Promise<Context> {
  if (params?.token === "bad") throw new TRPCError({ code: "UNAUTHORIZED", message: "Bad token" });
  const name = params?.token ?? "cookie";
  return {
    user: name === "anon" ? null : { id: name, name, email: `${name}@example.org` },
    credential: null,
    instanceId: "pinning",
    clientAddress: "127.0.0.1",
    transport: "ws",
    connection: null,
  };
}

type Side = "stock" | "ours";
type Mount = {
  url: string;
  /** The server's end of every open socket. */
  sockets: Set<WebSocket>;
  broadcastReconnectNotification(): void;
  close(): void;
};

async function mountStock(): Promise<Mount> {
  const { wss, sockets, url, close } = await listen((wss, req, ws) => wss.emit("connection", ws, req));
  const handler = applyWSSHandler({
    wss,
    router,
    createContext: ({ info }) => makeContext(info.connectionParams),
  });
  return { url, sockets, close, broadcastReconnectNotification: handler.broadcastReconnectNotification };
}

async function mountOurs(): Promise<Mount> {
  const protocol = new SocketProtocol({
    router,
    createContext: (_socket, params) => makeContext(params),
    // As the app's server does for a bad token (closeFailedSetup); the stock adapter closes without a code.
    onSetupFailed: (socket) => socket.close(4400, "Invalid connectionParams"),
    onError: () => {},
    maxSubscriptions: 10,
    maxBuffered: 1_048_576,
    onSlowConsumer: (socket) => socket.close(1013, "Slow consumer"),
  });
  const { sockets, url, close } = await serveProtocol(protocol);
  return { url, sockets, close, broadcastReconnectNotification: () => protocol.broadcastReconnectNotification() };
}

const mounts = {} as Record<Side, Mount>;

beforeAll(async () => {
  mounts.stock = await mountStock();
  mounts.ours = await mountOurs();
});

afterAll(() => {
  mounts.stock.close();
  mounts.ours.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * What one side of a scenario saw, in order: `> frame` sent, `< frame` received (exact text),
 * `connect ?query`, `close code`, and `= outcome` for what a tRPC client call resolved to.
 */
type Transcript = string[];

/** Keep-alive frames, which come on timers of their own and never let a log go quiet. */
const isHeartbeat = (line: string) => / [<>] P[IO]NG$/.test(line);

/**
 * Waits until `log` holds at least `min` received frames more than `from` (heartbeats aside), then
 * for a quiet spell.
 */
async function settle(log: Transcript, from: number, min = 0, quietMs = 60): Promise<void> {
  const received = () => log.slice(from).filter((line) => /^(#\d+ )?< /.test(line) && !isHeartbeat(line)).length;
  const lines = () => log.filter((line) => !isHeartbeat(line)).length;
  await until(() => received() >= min);
  let seen = lines();
  for (;;) {
    await sleep(quietMs);
    if (lines() === seen) return;
    seen = lines();
  }
}

/** A raw `ws` client that records every frame and close, and answers nothing on its own. */
async function rawSession(mount: Mount, query = "") {
  const log: Transcript = [];
  const socket = new WebSocket(mount.url + query);
  socket.on("message", (data, isBinary) => log.push(`< ${isBinary ? "(binary)" : data.toString()}`));
  const closed = new Promise<void>((resolve) =>
    socket.once("close", (code) => {
      log.push(`close ${code}`);
      resolve();
    }),
  );
  await new Promise((resolve) => socket.once("open", resolve));
  return {
    log,
    closed,
    /** Sends one frame (a string as it is, anything else as JSON) and waits for `min` answers and quiet. */
    async send(frame: unknown, min = 1, options?: { binary: boolean }) {
      const text = typeof frame === "string" ? frame : JSON.stringify(frame);
      const from = log.length;
      log.push(`> ${options?.binary ? "(binary) " : ""}${text}`);
      socket.send(options?.binary ? Buffer.from(text) : text, { binary: options?.binary ?? false });
      await settle(log, from + 1, min);
    },
    /** Waits for `min` more frames and quiet. */
    async wait(min = 1) {
      await settle(log, log.length, min);
    },
    /** Drops the connection from the client's end and waits for its close. */
    async end() {
      socket.terminate();
      await closed;
      return log;
    },
  };
}

/** Runs one scenario against the stock adapter, then against ours, and returns both transcripts. */
async function both(scenario: (mount: Mount, side: Side) => Promise<Transcript>) {
  const stock = await scenario(mounts.stock, "stock");
  const ours = await scenario(mounts.ours, "ours");
  return { stock, ours };
}

/** A `ws` WebSocket class for wsLink that records into `log` what its sockets send and receive. */
function recordingWebSocket(log: Transcript): typeof globalThis.WebSocket {
  let sockets = 0;
  class RecordingWebSocket extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols);
      // Lines carry their socket's number: a closing socket and its successor may interleave.
      const n = ++sockets;
      log.push(`#${n} connect ${new URL(String(address)).search}`);
      this.on("message", (data) => log.push(`#${n} < ${data.toString()}`));
      this.on("close", (code) => log.push(`#${n} close ${code}`));
      const send = this.send.bind(this) as (...args: unknown[]) => void;
      this.send = ((data: unknown, ...rest: unknown[]) => {
        log.push(`#${n} > ${String(data)}`);
        send(data, ...rest);
      }) as WebSocket["send"];
    }
  }
  return RecordingWebSocket as unknown as typeof globalThis.WebSocket;
}

type ClientOptions = Omit<Parameters<typeof createWSClient>[0], "url" | "WebSocket">;

/** tRPC's own client over wsLink, recording its frames, connects and closes, and call outcomes. */
function linkClient(mount: Mount, log: Transcript, options: ClientOptions = {}) {
  const wsClient = createWSClient({
    url: mount.url,
    WebSocket: recordingWebSocket(log),
    retryDelayMs: () => 20,
    keepAlive: { enabled: false },
    ...options,
  });
  const client = createTRPCClient<typeof router>({ links: [wsLink({ client: wsClient })] });
  /** Awaits a call and records what it resolved or rejected with. */
  const outcome = async (call: Promise<unknown>) => {
    try {
      log.push(`= ${JSON.stringify({ data: await call })}`);
    } catch (cause) {
      const error = cause as TRPCClientError<typeof router>;
      expect(error).toBeInstanceOf(TRPCClientError);
      log.push(`= ${JSON.stringify({ error: error.message, code: error.data?.code ?? null })}`);
    }
  };
  return { wsClient, client, outcome };
}

const subscribe = (id: number | string, path: string, input?: unknown, lastEventId?: string) => ({
  id,
  method: "subscription",
  params: { path, input, lastEventId },
});
const stop = (id: number | string) => ({ id, method: "subscription.stop" });
const query = (id: number | string, path: string, input?: unknown) => ({
  id,
  method: "query",
  params: { path, input },
});
const mutation = (id: number | string, path: string, input?: unknown) => ({
  id,
  method: "mutation",
  params: { path, input },
});

/**
 * The one difference in ordinary frames: a tracked event's result is `{type, id, data}` in ours
 * (socket-protocol.ts builds it so, and the direct fan-out writes the same bytes) and
 * `{type, data, id}` in the stock adapter. Same JSON value, so wsLink cannot tell; the test pins the
 * text anyway, so this maps the stock adapter's frames to ours and nothing else.
 */
function inOurKeyOrder(line: string): string {
  const match = /^(#\d+ )?< (\{.*\})$/.exec(line);
  if (!match) return line;
  const frame = JSON.parse(match[2] as string) as { result?: { type?: string; id?: unknown; data?: unknown } };
  if (frame.result?.type !== "data" || frame.result.id === undefined) return line;
  const { type, id, data } = frame.result;
  return `${match[1] ?? ""}< ${JSON.stringify({ ...frame, result: { type, id, data } })}`;
}

/** Asserts that ours sent what the stock adapter sent, frame for frame, text for text. */
function expectSameFrames({ stock, ours }: { stock: Transcript; ours: Transcript }): void {
  expect(ours).toEqual(stock.map(inOurKeyOrder));
}

describe("raw frames: the same answers from both servers", () => {
  it("queries, mutations and their errors", async () => {
    const transcripts = await both(async (mount) => {
      const raw = await rawSession(mount);
      await raw.send(query(1, "greet", { name: "Ben" }));
      await raw.send({ ...query("zwei", "whoami"), jsonrpc: "2.0" });
      await raw.send(mutation(3, "save", { word: "Haus" }));
      // zod refuses the input; a procedure throws a TRPCError; another throws a plain Error.
      await raw.send(mutation(4, "save", { word: "" }));
      await raw.send(query(5, "greet", { name: 5 }));
      await raw.send(mutation(6, "refuse"));
      await raw.send(query(7, "crash"));
      // No such procedure, and a mutation called as a query.
      await raw.send(query(8, "nope"));
      await raw.send(query(9, "save", { word: "Maus" }));
      // A frame of several calls.
      await raw.send([query(10, "whoami"), mutation(11, "save", { word: "Baum" }), query(12, "greet", {})], 3);
      return raw.end();
    });
    expect(transcripts.stock).toHaveLength(23);
    expect(transcripts.stock).toContain(
      '< {"id":6,"error":{"message":"Schon vorhanden","code":-32009,"data":{"code":"CONFLICT","httpStatus":409,"path":"refuse"}}}',
    );
    expectSameFrames(transcripts);
  });

  it("frames that are not calls, and PING", async () => {
    const transcripts = await both(async (mount) => {
      const raw = await rawSession(mount);
      await raw.send("{not json");
      await raw.send({ id: 1, method: "nonsense", params: {} });
      await raw.send({ ...query(1, "whoami"), id: null });
      await raw.send("PING");
      // Still usable afterwards.
      await raw.send(query(2, "whoami"));
      return raw.end();
    });
    expect(transcripts.stock).toHaveLength(11);
    expect(transcripts.stock).toContain("< PONG");
    expectSameFrames(transcripts);
  });

  it("subscriptions: started, data, stopped; tracked ids; resume from lastEventId; stop", async () => {
    const transcripts = await both(async (mount) => {
      const raw = await rawSession(mount);
      await raw.send(subscribe(1, "numbers", { upTo: 2 }), 4);
      await raw.send({ ...subscribe("b", "numbers", { upTo: 4 }, "2"), jsonrpc: "2.0" }, 4);
      await raw.send(subscribe(3, "words"), 4);
      await raw.send(subscribe(4, "forever"), 2);
      await raw.send(stop(4), 1);
      // A stop for an id that is not live is not answered.
      await raw.send(stop(99), 0);
      // The stopped id is free again; lastEventId without an input becomes the input.
      await raw.send(subscribe(4, "feed", undefined, "7"), 4);
      await raw.send(stop(4), 1);
      return raw.end();
    });
    expect(transcripts.stock).toHaveLength(29);
    expect(transcripts.stock).toContain(
      '< {"id":"b","jsonrpc":"2.0","result":{"type":"data","data":{"id":"3","data":{"n":3}},"id":"3"}}',
    );
    expect(transcripts.ours).toContain(
      '< {"id":"b","jsonrpc":"2.0","result":{"type":"data","id":"3","data":{"id":"3","data":{"n":3}}}}',
    );
    expectSameFrames(transcripts);
  });

  it("subscriptions that return an observable: values, completion, error, stop", async () => {
    const transcripts = await both(async (mount) => {
      const raw = await rawSession(mount);
      await raw.send(subscribe(1, "observedWords"), 4);
      await raw.send(subscribe(2, "observedBroken"), 4);
      await raw.send(subscribe(3, "observedForever"), 2);
      await raw.send(stop(3), 1);
      return raw.end();
    });
    expect(transcripts.stock).toEqual([
      `> ${JSON.stringify(subscribe(1, "observedWords"))}`,
      '< {"id":1,"result":{"type":"started"}}',
      '< {"id":1,"result":{"type":"data","data":"eins"}}',
      '< {"id":1,"result":{"type":"data","data":"zwei"}}',
      '< {"id":1,"result":{"type":"stopped"}}',
      `> ${JSON.stringify(subscribe(2, "observedBroken"))}`,
      '< {"id":2,"result":{"type":"started"}}',
      '< {"id":2,"result":{"type":"data","data":"eins"}}',
      '< {"id":2,"error":{"message":"Kaputt","code":-32012,"data":{"code":"PRECONDITION_FAILED","httpStatus":412,"path":"observedBroken"}}}',
      '< {"id":2,"result":{"type":"stopped"}}',
      `> ${JSON.stringify(subscribe(3, "observedForever"))}`,
      '< {"id":3,"result":{"type":"started"}}',
      '< {"id":3,"result":{"type":"data","data":"first"}}',
      `> ${JSON.stringify(stop(3))}`,
      '< {"id":3,"result":{"type":"stopped"}}',
      "close 1006",
    ]);
    expectSameFrames(transcripts);
  });

  it("subscriptions that cannot start: bad input, no such procedure, a query called as one", async () => {
    const transcripts = await both(async (mount) => {
      const raw = await rawSession(mount);
      await raw.send(subscribe(1, "numbers", { upTo: "drei" }));
      await raw.send(subscribe(2, "nope"));
      await raw.send(subscribe(3, "whoami"));
      await raw.send(query(4, "words"));
      return raw.end();
    });
    expect(transcripts.stock).toHaveLength(9);
    expectSameFrames(transcripts);
  });

  it("connectionParams: the context comes from the first message", async () => {
    const transcripts = await both(async (mount) => {
      const raw = await rawSession(mount, "?connectionParams=1");
      await raw.send({ method: "connectionParams", data: { token: "Clara" } }, 0);
      await raw.send(query(1, "greet", { name: "Dora" }));
      return raw.end();
    });
    expect(transcripts.stock).toContain('< {"id":1,"result":{"type":"data","data":"Hallo Dora, Clara"}}');
    expectSameFrames(transcripts);
  });

  it("the server's reconnect notification", async () => {
    const transcripts = await both(async (mount) => {
      const raw = await rawSession(mount);
      mount.broadcastReconnectNotification();
      await raw.wait(1);
      return raw.end();
    });
    expect(transcripts.stock).toEqual(['< {"id":null,"method":"reconnect"}', "close 1006"]);
    expectSameFrames(transcripts);
  });

  it("a subscription that throws after it started: its error, then stopped", async () => {
    const transcripts = await both(async (mount) => {
      const raw = await rawSession(mount);
      await raw.send(subscribe(1, "broken"), 3);
      return raw.end();
    });
    const error =
      '< {"id":1,"error":{"message":"Kaputt","code":-32012,"data":{"code":"PRECONDITION_FAILED","httpStatus":412,"path":"broken"}}}';
    const sent = `> ${JSON.stringify(subscribe(1, "broken"))}`;
    const opening = [
      sent,
      '< {"id":1,"result":{"type":"started"}}',
      '< {"id":1,"result":{"type":"data","data":"eins"}}',
    ];
    // A client may wait for "stopped" to free the id; both servers send it after the error.
    expect(transcripts.stock).toEqual([...opening, error, '< {"id":1,"result":{"type":"stopped"}}', "close 1006"]);
    expectSameFrames(transcripts);
  });
});

describe("raw frames: where the servers differ, pinned", () => {
  it("DIFF more calls in one frame than callLimits allow: the stock adapter runs them all, ours refuses each call", async () => {
    const whoamis = (count: number) => Array.from({ length: count }, (_, i) => query(i + 1, "whoami"));
    const transcripts = await both(async (mount) => {
      const signedIn = await rawSession(mount);
      await signedIn.send(whoamis(101), 101);
      const anonymous = await rawSession(mount, "?connectionParams=1");
      await anonymous.send({ method: "connectionParams", data: { token: "anon" } }, 0);
      await anonymous.send(whoamis(11), 1);
      return [...(await signedIn.end()), ...(await anonymous.end())];
    });
    const answers = (count: number, name: string | null) =>
      Array.from(
        { length: count },
        (_, i) => `< {"id":${i + 1},"result":{"type":"data","data":${JSON.stringify(name)}}}`,
      );
    const tooMany = (limit: number, id: number | null = null) =>
      `< {"id":${id},"error":{"message":"At most ${limit} calls per frame","code":-32700,"data":{"code":"PARSE_ERROR","httpStatus":400}}}`;
    const frame101 = `> ${JSON.stringify(whoamis(101))}`;
    const params = `> ${JSON.stringify({ method: "connectionParams", data: { token: "anon" } })}`;
    const frame11 = `> ${JSON.stringify(whoamis(11))}`;
    expect(transcripts.stock).toEqual([
      frame101,
      ...answers(101, "cookie"),
      "close 1006",
      params,
      frame11,
      ...answers(11, null),
      "close 1006",
    ]);
    // Deliberate (call-limits.ts): 100 calls per frame, 10 before the connection has a user. A
    // signed-in client hears the refusal once per call, so every call it made settles; a stranger
    // gets one answer for the frame.
    expect(transcripts.ours).toEqual([
      frame101,
      ...Array.from({ length: 101 }, (_, i) => tooMany(100, i + 1)),
      "close 1006",
      params,
      frame11,
      tooMany(10),
      "close 1006",
    ]);
  });

  it("DIFF duplicate subscription ids", async () => {
    const transcripts = await both(async (mount) => {
      const raw = await rawSession(mount);
      // Twice in one frame, then once more while the first is live.
      await raw.send([subscribe(7, "forever"), subscribe(7, "forever")], 3);
      await raw.send(subscribe(7, "forever"), 1);
      return raw.end();
    });
    const twice = `> ${JSON.stringify([subscribe(7, "forever"), subscribe(7, "forever")])}`;
    const once = `> ${JSON.stringify(subscribe(7, "forever"))}`;
    const duplicate =
      '< {"id":7,"error":{"message":"Duplicate id 7","code":-32600,"data":{"code":"BAD_REQUEST","httpStatus":400,"path":"forever"}}}';
    const started = '< {"id":7,"result":{"type":"started"}}';
    const first = '< {"id":7,"result":{"type":"data","data":"first"}}';
    // Both refuse the second with the same error and keep the first. The stock adapter finds the
    // duplicate only once the first has started; ours when the frame arrives (deliberate: places
    // are settled before anything runs), so its refusal comes first.
    expect(transcripts.stock).toEqual([twice, started, duplicate, first, once, duplicate, "close 1006"]);
    expect(transcripts.ours).toEqual([twice, duplicate, started, first, once, duplicate, "close 1006"]);
  });

  it("DIFF a stop is answered at once by ours, by the stock adapter once the generator ends", async () => {
    const transcripts = await both(async (mount) => {
      const raw = await rawSession(mount);
      await raw.send(subscribe(1, "stubborn"), 2);
      await raw.send(stop(1), 0);
      raw.log.push("(the generator goes on)");
      deaf.release();
      await raw.wait(0);
      return raw.end();
    });
    const opening = [
      `> ${JSON.stringify(subscribe(1, "stubborn"))}`,
      '< {"id":1,"result":{"type":"started"}}',
      '< {"id":1,"result":{"type":"data","data":"first"}}',
      `> ${JSON.stringify(stop(1))}`,
    ];
    const stopped = '< {"id":1,"result":{"type":"stopped"}}';
    // Deliberate: ours does not wait for a generator that ignores its signal. Neither sends "second".
    expect(transcripts.stock).toEqual([...opening, "(the generator goes on)", stopped, "close 1006"]);
    expect(transcripts.ours).toEqual([...opening, stopped, "(the generator goes on)", "close 1006"]);
  });

  it("DIFF a stop in the same frame as its subscription", async () => {
    const transcripts = await both(async (mount) => {
      const raw = await rawSession(mount);
      await raw.send([subscribe(1, "forever"), stop(1)], 1);
      return raw.end();
    });
    const sent = `> ${JSON.stringify([subscribe(1, "forever"), stop(1)])}`;
    // Deliberate (contract.md): the stock adapter ignores a stop for a subscription still starting,
    // which then runs until the socket closes; ours answers it and never starts the subscription.
    expect(transcripts.stock).toEqual([
      sent,
      '< {"id":1,"result":{"type":"started"}}',
      '< {"id":1,"result":{"type":"data","data":"first"}}',
      "close 1006",
    ]);
    expect(transcripts.ours).toEqual([sent, '< {"id":1,"result":{"type":"stopped"}}', "close 1006"]);
  });

  it("DIFF binary frames and failed connection setup", async () => {
    const transcripts = await both(async (mount) => {
      const binary = await rawSession(mount);
      await binary.send(query(1, "whoami"), 1, { binary: true });
      const refused = await rawSession(mount, "?connectionParams=1");
      await refused.send({ method: "connectionParams", data: { token: "bad" } }, 1);
      await refused.closed;
      const notParams = await rawSession(mount, "?connectionParams=1");
      await notParams.send(query(1, "whoami"), 1);
      await notParams.closed;
      return [...(await binary.end()), ...refused.log, ...notParams.log];
    });
    const parseError = (message: string) =>
      `< {"id":null,"error":{"message":"${message}","code":-32700,"data":{"code":"PARSE_ERROR","httpStatus":400}}}`;
    const setup = (close: number) => [
      `> ${JSON.stringify({ method: "connectionParams", data: { token: "bad" } })}`,
      '< {"id":null,"error":{"message":"Bad token","code":-32001,"data":{"code":"UNAUTHORIZED","httpStatus":401}}}',
      `close ${close}`,
      `> ${JSON.stringify(query(1, "whoami"))}`,
      parseError("Invalid connection params shape"),
      `close ${close}`,
    ];
    const binary = `> (binary) ${JSON.stringify(query(1, "whoami"))}`;
    // The same answers with two differences. The binary frame's PARSE_ERROR names its cause in
    // words of its own (not deliberate, harmless: same code, no client reads the message). The
    // failed setup closes the socket the way onSetupFailed chooses (the app's server: 4400, 1011 or
    // 4029, see close-codes.ts), where the stock adapter closes without a code (1005).
    expect(transcripts.stock).toEqual([
      binary,
      parseError("jsonEncoder received binary data. JSON uses text frames. Use a binary encoder for binary data."),
      "close 1006",
      ...setup(1005),
    ]);
    expect(transcripts.ours).toEqual([
      binary,
      parseError("Binary frames are not part of the protocol"),
      "close 1006",
      ...setup(4400),
    ]);
  });
});

/** The lines of socket `n` (without their number), and what the client's calls came to. */
function bySocket(log: Transcript) {
  const sockets: string[][] = [];
  const outcomes: string[] = [];
  for (const line of log) {
    const match = /^#(\d+) (.*)$/.exec(line);
    if (!match) {
      outcomes.push(line);
      continue;
    }
    const n = Number(match[1]) - 1;
    sockets[n] ??= [];
    sockets[n].push(match[2] as string);
  }
  return { sockets, outcomes };
}

/** Asserts the same frames on every socket the client opened, and the same outcomes. */
function expectSameLinkFrames({ stock, ours }: { stock: Transcript; ours: Transcript }): void {
  expect(bySocket(ours)).toEqual(bySocket(stock.map(inOurKeyOrder)));
}

/** Subscribes through wsLink, recording events, errors and completion as outcomes. */
function recordEvents(log: Transcript) {
  return {
    onStarted: () => log.push("= started"),
    onData: (data: unknown) => log.push(`= data ${JSON.stringify(data)}`),
    onError: (error: TRPCClientError<typeof router>) => log.push(`= error ${error.message} ${error.data?.code}`),
    onComplete: () => log.push("= complete"),
  };
}

const dataEvents = (log: Transcript) => log.filter((line) => line.startsWith("= data")).length;

/** Closes a wsClient and waits for its socket's close to be recorded. */
async function closeClient(wsClient: ReturnType<typeof createWSClient>, log: Transcript) {
  const closes = log.filter((line) => / close /.test(line)).length;
  await wsClient.close();
  await until(() => log.filter((line) => / close /.test(line)).length > closes);
}

describe("tRPC's own client (createWSClient + wsLink): the same frames from both servers", () => {
  it("queries, mutations, errors and subscriptions to their end", async () => {
    const transcripts = await both(async (mount) => {
      const log: Transcript = [];
      const { wsClient, client, outcome } = linkClient(mount, log);
      await outcome(client.greet.query({ name: "Ben" }));
      await outcome(client.save.mutate({ word: "" }));
      await outcome(client.refuse.mutate());
      await outcome(client.crash.query());
      // Two calls in the same tick: wsLink packs them into one frame.
      await Promise.all([outcome(client.whoami.query()), outcome(client.save.mutate({ word: "Haus" }))]);
      await new Promise<void>((resolve) => {
        const events = recordEvents(log);
        client.numbers.subscribe({ upTo: 2 }, { ...events, onComplete: () => resolve(void events.onComplete()) });
      });
      await settle(log, log.length);
      await closeClient(wsClient, log);
      return log;
    });
    expect(transcripts.stock.filter((line) => line.startsWith("="))).toEqual([
      '= {"data":"Hallo Ben, cookie"}',
      expect.stringContaining('"code":"BAD_REQUEST"'),
      '= {"error":"Schon vorhanden","code":"CONFLICT"}',
      '= {"error":"Datenbank weg","code":"INTERNAL_SERVER_ERROR"}',
      '= {"data":"cookie"}',
      '= {"data":{"saved":"Haus"}}',
      "= started",
      '= data {"id":"1","data":{"n":1}}',
      '= data {"id":"2","data":{"n":2}}',
      "= complete",
    ]);
    expectSameLinkFrames(transcripts);
  });

  it("reconnects after the server drops the socket: connectionParams asked again, resubscribed from lastEventId", async () => {
    const transcripts = await both(async (mount) => {
      const log: Transcript = [];
      let asked = 0;
      const { wsClient, client, outcome } = linkClient(mount, log, {
        connectionParams: () => {
          asked++;
          log.push(`= connectionParams asked (${asked})`);
          return { token: `Nutzer${asked}` };
        },
      });
      const subscription = client.feed.subscribe(undefined, recordEvents(log));
      await until(() => dataEvents(log) === 3);
      await outcome(client.whoami.query());
      await settle(log, log.length);
      log.push("(the server drops the socket)");
      for (const socket of mount.sockets) socket.terminate();
      await until(() => dataEvents(log) === 6);
      await outcome(client.whoami.query());
      subscription.unsubscribe();
      await settle(log, log.length, 1);
      await closeClient(wsClient, log);
      return log;
    });
    const { sockets, outcomes } = bySocket(transcripts.stock);
    expect(outcomes).toContain('= {"data":"Nutzer2"}');
    expect(sockets[1]).toContain(
      `> ${JSON.stringify({ id: 1, method: "subscription", params: { path: "feed", lastEventId: "3" } })}`,
    );
    expect(sockets[1]).toContain('< {"id":1,"result":{"type":"stopped"}}');
    expectSameLinkFrames(transcripts);
  });

  it("reconnects when the server sends its reconnect notification", async () => {
    const transcripts = await both(async (mount) => {
      const log: Transcript = [];
      let asked = 0;
      const { wsClient, client } = linkClient(mount, log, {
        connectionParams: async () => ({ token: `Nutzer${++asked}` }),
        retryDelayMs: () => 200,
      });
      client.feed.subscribe({ lastEventId: null }, recordEvents(log));
      await until(() => dataEvents(log) === 3);
      await settle(log, log.length);
      log.push("(the server asks every client to reconnect)");
      mount.broadcastReconnectNotification();
      await until(() => dataEvents(log) === 6);
      // What happened up to here, and no further: wsLink (11.19) takes the close of the socket it
      // replaced, when that comes after the new one opened, for a lost connection and reconnects
      // once more, and again, a retry delay apart. It does so against both servers alike.
      const seen = log.slice();
      await closeClient(wsClient, log);
      return seen;
    });
    const { sockets, outcomes } = bySocket(transcripts.stock);
    expect(sockets[0]).toContain('< {"id":null,"method":"reconnect"}');
    expect(sockets[0]).toContain("close 1005");
    expect(sockets[1]).toContain('> {"method":"connectionParams","data":{"token":"Nutzer2"}}');
    expect(sockets[1]).toContain(
      `> ${JSON.stringify({ id: 1, method: "subscription", params: { input: { lastEventId: null }, path: "feed", lastEventId: "3" } })}`,
    );
    expect(outcomes.filter((line) => line.startsWith("= data"))).toHaveLength(6);
    expectSameLinkFrames(transcripts);
  });

  it("lazy mode: connects for a call, closes when idle, connects again for the next", async () => {
    const transcripts = await both(async (mount) => {
      const log: Transcript = [];
      const { wsClient, client, outcome } = linkClient(mount, log, { lazy: { enabled: true, closeMs: 100 } });
      await settle(log, 0);
      log.push("(nothing asked yet)");
      await outcome(client.greet.query({ name: "Ida" }));
      await until(() => log.includes("#1 close 1005"));
      await new Promise<void>((resolve) => {
        const events = recordEvents(log);
        client.words.subscribe(undefined, { ...events, onComplete: () => resolve(void events.onComplete()) });
      });
      await until(() => log.includes("#2 close 1005"));
      await outcome(client.whoami.query());
      await closeClient(wsClient, log);
      return log;
    });
    expect(transcripts.stock[0]).toBe("(nothing asked yet)");
    expect(bySocket(transcripts.stock).sockets).toHaveLength(3);
    expectSameLinkFrames(transcripts);
  });

  it("keep-alive: the client's pings are answered, so it keeps its connection", async () => {
    const transcripts = await both(async (mount) => {
      const log: Transcript = [];
      const { wsClient, client, outcome } = linkClient(mount, log, {
        keepAlive: { enabled: true, intervalMs: 40, pongTimeoutMs: 200 },
      });
      const subscription = client.feed.subscribe(undefined, recordEvents(log));
      await until(() => dataEvents(log) === 3);
      await until(() => log.filter((line) => line === "#1 < PONG").length >= 3);
      await outcome(client.whoami.query());
      subscription.unsubscribe();
      await settle(log, log.length, 1);
      await closeClient(wsClient, log);
      return log;
    });
    for (const log of [transcripts.stock, transcripts.ours]) {
      const { sockets } = bySocket(log);
      // One connection throughout: no PING went unanswered past pongTimeoutMs.
      expect(sockets).toHaveLength(1);
      const count = (frame: string) => sockets[0]?.filter((line) => line === frame).length ?? 0;
      expect(count("< PONG")).toBeGreaterThanOrEqual(3);
      expect(count("< PONG")).toBeLessThanOrEqual(count("> PING"));
    }
    // How many pings fit in the wait is up to the timers; everything else is compared as it is.
    const withoutHeartbeats = (log: Transcript) => log.filter((line) => !isHeartbeat(line));
    expectSameLinkFrames({ stock: withoutHeartbeats(transcripts.stock), ours: withoutHeartbeats(transcripts.ours) });
  });
});

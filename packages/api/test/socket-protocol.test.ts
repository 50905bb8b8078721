import { initTRPC, TRPCError, tracked } from "@trpc/server";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { z } from "zod";
import type { Context } from "../src/context";
import { type DetachedSubscription, SubscriptionHandover } from "../src/server/handover";
import { maxCallsPerFrame, type ProtocolFailure, SocketProtocol } from "../src/server/socket-protocol";
import { type Listening, rawSocket as rawClient, serveProtocol, until, wsLinkClient } from "./support/ws-server";

// A router of its own, so each protocol rule is visible in one place; the app's router runs over the
// same protocol in the realtime-server and web integration tests.
const t = initTRPC.context<Context>().create();

/** What the handover-based subscription did, for the assertions. */
const handovers = { attached: [] as string[], stopped: 0, cancelled: 0, generatorEnded: 0 };
/** Generators that ignore their abort signal, to show a stop does not wait for them. */
const stubborn = { ended: 0, release: () => {} };

class TestHandover extends SubscriptionHandover {
  attach(framePrefix: string): DetachedSubscription {
    handovers.attached.push(framePrefix);
    return { stop: () => void handovers.stopped++ };
  }
  cancel(): void {
    handovers.cancelled++;
  }
}

const router = t.router({
  hello: t.procedure
    .input(z.object({ name: z.string() }))
    .query(({ input, ctx }) => `Hallo ${input.name}, ${ctx.user?.name ?? "anon"}`),
  fail: t.procedure.mutation(() => {
    throw new TRPCError({ code: "CONFLICT", message: "Nope" });
  }),
  counter: t.procedure
    .input(z.object({ upTo: z.number(), lastEventId: z.string().optional() }))
    .subscription(async function* ({ input }) {
      for (let n = Number(input.lastEventId ?? 0) + 1; n <= input.upTo; n++) yield tracked(String(n), n);
    }),
  forever: t.procedure.subscription(async function* ({ signal }) {
    yield "first";
    await new Promise<void>((resolve) => signal?.addEventListener("abort", () => resolve()));
  }),
  deaf: t.procedure.subscription(async function* () {
    try {
      yield "first";
      // Ignores its signal: only the test's release lets it go on.
      await new Promise<void>((resolve) => {
        stubborn.release = resolve;
      });
      yield "second";
    } finally {
      stubborn.ended++;
    }
  }),
  detached: t.procedure.subscription(async function* () {
    try {
      yield "replayed";
      yield new TestHandover() as unknown as string;
    } finally {
      handovers.generatorEnded++;
    }
  }),
});

let served: Listening;
let protocol: SocketProtocol;
let url: string;
const failures: ProtocolFailure[] = [];
const setupFailures: string[] = [];

beforeAll(async () => {
  protocol = new SocketProtocol({
    router,
    maxSubscriptions: 3,
    maxBuffered: 1_048_576,
    onSlowConsumer: (socket) => socket.close(1013, "Slow consumer"),
    async createContext(_socket, params) {
      if (params?.token === "bad") throw new TRPCError({ code: "UNAUTHORIZED", message: "Bad token" });
      const name = params?.token ?? "cookie";
      return {
        user: { id: name, name, email: `${name}@example.org` },
        credential: null,
        instanceId: "test",
        clientAddress: "127.0.0.1",
        transport: "ws",
        connection: null,
      };
    },
    onSetupFailed(socket, error) {
      setupFailures.push(error.code);
      socket.close(4400, "Invalid connectionParams");
    },
    onError: (failure) => failures.push(failure),
  });
  protocol.startHeartbeat(200, 100);
  served = await serveProtocol(protocol);
  url = served.url;
});

afterAll(() => {
  protocol.stopHeartbeat();
  served.close();
});

const clients: Array<() => void> = [];
afterEach(() => {
  for (const close of clients.splice(0)) close();
});

function typedClient(token?: string) {
  const { client, close } = wsLinkClient<typeof router>(url, token, { keepAlive: { enabled: false } });
  clients.push(close);
  return client;
}

/** A raw socket that keeps every frame it receives, parsed, and answers the heartbeat like wsLink. */
const rawSocket = (query = "") => rawClient(url + query, (text): unknown => JSON.parse(text), clients);

const subscribe = (id: number | string, path: string, input?: unknown, lastEventId?: string) =>
  JSON.stringify({ id, method: "subscription", params: { path, input, lastEventId } });

describe("calls from tRPC's own wsLink", () => {
  it("answers queries with the connection's context, and mutations' errors in tRPC's shape", async () => {
    const client = typedClient("Anna");
    expect(await client.hello.query({ name: "Ben" })).toBe("Hallo Ben, Anna");
    await expect(client.fail.mutate()).rejects.toMatchObject({ message: "Nope", data: { code: "CONFLICT" } });
    await expect(client.hello.query({ name: 3 as unknown as string })).rejects.toMatchObject({
      data: { code: "BAD_REQUEST" },
    });
  });

  it("delivers tracked events, then completes; on resubscribe the last id comes back as input", async () => {
    const client = typedClient();
    const seen: Array<{ id: string; data: number }> = [];
    await new Promise<void>((resolve, reject) => {
      client.counter.subscribe(
        { upTo: 5, lastEventId: "2" },
        { onData: (event) => seen.push(event), onComplete: resolve, onError: reject },
      );
    });
    expect(seen).toEqual([
      { id: "3", data: 3 },
      { id: "4", data: 4 },
      { id: "5", data: 5 },
    ]);
  });
});

describe("the wire, from a raw socket", () => {
  it("answers started, data and stopped, with the client's id and jsonrpc", async () => {
    const raw = await rawSocket();
    raw.socket.send(
      JSON.stringify({
        id: "a",
        jsonrpc: "2.0",
        method: "subscription",
        params: { path: "counter", input: { upTo: 1 } },
      }),
    );
    expect(await raw.received(3)).toEqual([
      { id: "a", jsonrpc: "2.0", result: { type: "started" } },
      { id: "a", jsonrpc: "2.0", result: { type: "data", id: "1", data: { id: "1", data: 1 } } },
      { id: "a", jsonrpc: "2.0", result: { type: "stopped" } },
    ]);
  });

  it("passes lastEventId from the params into the input", async () => {
    const raw = await rawSocket();
    raw.socket.send(subscribe(1, "counter", { upTo: 3 }, "2"));
    const frames = (await raw.received(3)) as Array<{ result: { id?: string } }>;
    expect(frames[1]?.result.id).toBe("3");
  });

  it("refuses a second subscription under a live id, within one frame too, and keeps the first", async () => {
    const raw = await rawSocket();
    raw.socket.send(`[${subscribe(7, "forever")},${subscribe(7, "forever")}]`);
    const frames = (await raw.received(3)) as Array<{
      id: number;
      error?: { data: { code: string } };
      result?: unknown;
    }>;
    const errors = frames.filter((f) => f.error);
    expect(errors.map((f) => f.error?.data.code)).toEqual(["BAD_REQUEST"]);
    expect(frames).toContainEqual({ id: 7, result: { type: "data", data: "first" } });
    expect(protocol.subscriptionCount([...served.sockets].at(-1) as WebSocket)).toBe(1);
  });

  it("holds at most maxSubscriptions per connection, and frees a place when one stops", async () => {
    const raw = await rawSocket();
    raw.socket.send(`[${[1, 2, 3, 4].map((id) => subscribe(id, "forever")).join(",")}]`);
    await raw.received(7);
    const refused = raw.frames.filter((f) => (f as { error?: unknown }).error) as Array<{
      id: number;
      error: { data: { code: string } };
    }>;
    expect(refused.map((f) => [f.id, f.error.data.code])).toEqual([[4, "TOO_MANY_REQUESTS"]]);
    raw.socket.send(JSON.stringify({ id: 2, method: "subscription.stop" }));
    raw.socket.send(subscribe(5, "forever"));
    await until(() => raw.frames.some((f) => (f as { id: number; result?: { type: string } }).id === 5));
    expect(raw.frames).toContainEqual({ id: 2, result: { type: "stopped" } });
    expect(raw.frames).toContainEqual({ id: 5, result: { type: "started" } });
  });

  it("answers a stop at once even when the generator ignores its signal, and ends it at its next yield", async () => {
    const raw = await rawSocket();
    const endedBefore = stubborn.ended;
    raw.socket.send(subscribe(1, "deaf"));
    await raw.received(2);
    raw.socket.send(JSON.stringify({ id: 1, method: "subscription.stop" }));
    expect((await raw.received(3))[2]).toEqual({ id: 1, result: { type: "stopped" } });
    stubborn.release();
    await until(() => stubborn.ended === endedBefore + 1);
    // Nothing after the stop: "second" was never sent.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(raw.frames).toHaveLength(3);
  });

  it("answers a stop that arrives before its subscription started, which then never starts", async () => {
    const raw = await rawSocket();
    raw.socket.send(`[${subscribe(1, "forever")},${JSON.stringify({ id: 1, method: "subscription.stop" })}]`);
    expect(await raw.received(1)).toEqual([{ id: 1, result: { type: "stopped" } }]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(raw.frames).toHaveLength(1);
    expect(protocol.subscriptionCount([...served.sockets].at(-1) as WebSocket)).toBe(0);
  });

  it("lets a new subscription reuse the id of a stopped one that failed later", async () => {
    const raw = await rawSocket();
    const stop = JSON.stringify({ id: 1, method: "subscription.stop" });
    // The first fails (no such procedure) only after the stop; it must not free the newcomer's place.
    raw.socket.send(`[${subscribe(1, "nope")},${stop},${subscribe(1, "forever")}]`);
    await raw.received(3);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(raw.frames).toEqual([
      { id: 1, result: { type: "stopped" } },
      { id: 1, result: { type: "started" } },
      { id: 1, result: { type: "data", data: "first" } },
    ]);
    expect(protocol.subscriptionCount([...served.sockets].at(-1) as WebSocket)).toBe(1);
  });

  it("refuses a frame of more than maxCallsPerFrame calls whole, running none, and answers each call by its id", async () => {
    const raw = await rawSocket();
    const calls = Array.from({ length: maxCallsPerFrame + 1 }, (_, i) => subscribe(i + 1, "forever"));
    raw.socket.send(`[${calls.join(",")}]`);
    const answers = (await raw.received(maxCallsPerFrame + 1)) as Array<{
      id: number;
      error: { message: string; data: { code: string } };
    }>;
    // Every call is settled (a client waiting on any of them hears why), and none of them ran.
    expect(answers.map((answer) => answer.id).sort((x, y) => x - y)).toEqual(calls.map((_, i) => i + 1));
    for (const answer of answers) {
      expect(answer.error).toMatchObject({
        message: `At most ${maxCallsPerFrame} calls per frame`,
        data: { code: "PARSE_ERROR" },
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(raw.frames).toHaveLength(maxCallsPerFrame + 1);
  });

  it("answers garbage, binary frames and calls without an id with PARSE_ERROR and stays usable", async () => {
    const raw = await rawSocket();
    raw.socket.send("{not json");
    raw.socket.send(
      Buffer.from(JSON.stringify({ id: 1, method: "query", params: { path: "hello", input: { name: "x" } } })),
      { binary: true },
    );
    raw.socket.send(JSON.stringify({ id: null, method: "query", params: { path: "hello", input: { name: "x" } } }));
    raw.socket.send(JSON.stringify({ id: 2, method: "query", params: { path: "hello", input: { name: "x" } } }));
    const frames = (await raw.received(4)) as Array<{
      id: number | null;
      error?: { data: { code: string } };
      result?: { data: string };
    }>;
    expect(frames.slice(0, 3).map((f) => f.error?.data.code)).toEqual(["PARSE_ERROR", "PARSE_ERROR", "PARSE_ERROR"]);
    expect(frames[3]).toEqual({ id: 2, result: { type: "data", data: "Hallo x, cookie" } });
    expect(raw.socket.readyState).toBe(WebSocket.OPEN);
  });

  it("answers PING with PONG, and sends PING to a silent client", async () => {
    const raw = await rawSocket();
    raw.socket.send("PING");
    await until(() => raw.texts.includes("PONG"));
    await until(() => raw.texts.includes("PING"));
    expect(raw.socket.readyState).toBe(WebSocket.OPEN);
  });

  it("terminates a client that does not answer the heartbeat", async () => {
    const raw = await rawSocket();
    raw.socket.removeAllListeners("message");
    // Heartbeat 200 ms + pong wait 100 ms + two ticks of 25 ms.
    const started = Date.now();
    expect(await raw.closed).toBe(1006);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("asks every client to reconnect", async () => {
    const raw = await rawSocket();
    protocol.broadcastReconnectNotification();
    expect(await raw.received(1)).toEqual([{ id: null, method: "reconnect" }]);
  });
});

describe("connectionParams", () => {
  it("makes the context from the first message and answers calls sent right behind it", async () => {
    const raw = await rawSocket("?connectionParams=1");
    raw.socket.send(JSON.stringify({ method: "connectionParams", data: { token: "Clara" } }));
    raw.socket.send(JSON.stringify({ id: 1, method: "query", params: { path: "hello", input: { name: "y" } } }));
    expect(await raw.received(1)).toEqual([{ id: 1, result: { type: "data", data: "Hallo y, Clara" } }]);
  });

  it("answers a failed setup with its error and leaves the close to the server", async () => {
    const raw = await rawSocket("?connectionParams=1");
    raw.socket.send(JSON.stringify({ method: "connectionParams", data: { token: "bad" } }));
    expect(await raw.received(1)).toMatchObject([{ id: null, error: { data: { code: "UNAUTHORIZED" } } }]);
    expect(await raw.closed).toBe(4400);
    expect(setupFailures.at(-1)).toBe("UNAUTHORIZED");
  });

  it("refuses a first message that is not connectionParams", async () => {
    const raw = await rawSocket("?connectionParams=1");
    raw.socket.send(JSON.stringify({ id: 1, method: "query", params: { path: "hello", input: { name: "y" } } }));
    expect(await raw.received(1)).toMatchObject([{ id: null, error: { data: { code: "PARSE_ERROR" } } }]);
    expect(await raw.closed).toBe(4400);
  });
});

describe("handover", () => {
  it("attaches with the subscription's frame prefix, ends the generator, and stops the detached part", async () => {
    const before = { ...handovers, attached: handovers.attached.length };
    const raw = await rawSocket();
    raw.socket.send(JSON.stringify({ id: "h1", jsonrpc: "2.0", method: "subscription", params: { path: "detached" } }));
    await raw.received(2);
    await until(() => handovers.generatorEnded === before.generatorEnded + 1);
    expect(handovers.attached.slice(before.attached)).toEqual(['{"id":"h1","jsonrpc":"2.0"']);
    // The handover itself is never sent.
    expect(raw.frames).toHaveLength(2);
    const socket = [...served.sockets].at(-1) as WebSocket;
    expect(protocol.subscriptionCount(socket)).toBe(1);

    raw.socket.send(JSON.stringify({ id: "h1", method: "subscription.stop" }));
    expect((await raw.received(3))[2]).toEqual({ id: "h1", result: { type: "stopped" } });
    expect(handovers.stopped).toBe(before.stopped + 1);
    expect(protocol.subscriptionCount(socket)).toBe(0);
  });

  it("stops detached subscriptions when the socket closes", async () => {
    const stoppedBefore = handovers.stopped;
    const raw = await rawSocket();
    raw.socket.send(subscribe(1, "detached"));
    raw.socket.send(subscribe(2, "detached"));
    await until(() => handovers.stopped === stoppedBefore && raw.frames.length >= 4);
    await new Promise((resolve) => setTimeout(resolve, 20));
    raw.socket.close();
    await until(() => handovers.stopped === stoppedBefore + 2);
  });
});

describe("failures", () => {
  it("reports procedure errors with their path, and connection errors without one", async () => {
    failures.length = 0;
    const raw = await rawSocket();
    raw.socket.send("{");
    raw.socket.send(JSON.stringify({ id: 1, method: "mutation", params: { path: "fail" } }));
    await raw.received(2);
    expect(failures.map((f) => [f.path, f.error.code])).toEqual([
      [undefined, "PARSE_ERROR"],
      ["fail", "CONFLICT"],
    ]);
  });
});

import { EventEmitter, on } from "node:events";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { initTRPC, TRPCError } from "@trpc/server";
import { observable } from "@trpc/server/observable";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type WebSocket from "ws";
import type { Context } from "../src/context";
import { type ProtocolFailure, SocketProtocol, type SocketProtocolOptions } from "../src/server/socket-protocol";
import { rawSocket as rawClient, serveProtocol, until, wsLinkClient } from "./support/ws-server";

/*
 * Where SocketProtocol does what tRPC's adapter does and once did not (tRPC's own WebSocket tests
 * found these; docs/architecture.md, "tRPC's own WebSocket tests against ours"): subscriptions that
 * return an observable, createContext's error for every call, a context of null or undefined, and
 * no event kept alive by a subscription waiting for its next one.
 */

const t = initTRPC.context<Context>().create({ isDev: false });

/** What the observables did: subscribed and torn down, by name. */
const observed = { subscribed: 0, tornDown: 0 };
const emitter = new EventEmitter();

const router = t.router({
  /** Two values, then completes. */
  counted: t.procedure.subscription(() =>
    observable<number>((emit) => {
      observed.subscribed++;
      emit.next(1);
      emit.next(2);
      emit.complete();
      return () => void observed.tornDown++;
    }),
  ),
  /** One value, then fails. */
  failing: t.procedure.subscription(() =>
    observable<string>((emit) => {
      emit.next("eins");
      emit.error(new TRPCError({ code: "PRECONDITION_FAILED", message: "Kaputt" }));
    }),
  ),
  /** Whatever the emitter sends, until stopped. */
  listening: t.procedure.subscription(() =>
    observable<string>((emit) => {
      observed.subscribed++;
      const onWord = (word: string) => emit.next(word);
      emitter.on("word", onWord);
      return () => {
        observed.tornDown++;
        emitter.off("word", onWord);
      };
    }),
  ),
  /** An observable where a value belongs: refused, as tRPC's adapter refuses it. */
  notAQuery: t.procedure.query(() => observable<number>((emit) => emit.next(1))),
  /** What the connection's context is. */
  context: t.procedure.query(({ ctx }) => (ctx === null ? "null" : ctx === undefined ? "undefined" : "a context")),
  greeting: t.procedure.query(() => "hallo"),
  /** The emitter's payloads, as node's `on` iterates them (as in tRPC's own memory test). */
  payloads: t.procedure.subscription(({ signal }) => on(emitter, "payload", { signal })),
});

const closers: Array<() => void> = [];
afterAll(() => {
  for (const close of closers.splice(0)) close();
});
const clientClosers: Array<() => void> = [];
afterEach(() => {
  for (const close of clientClosers.splice(0)) close();
});

const namedContext = (name: string): Context => ({
  user: null,
  credential: null,
  instanceId: name,
  clientAddress: "127.0.0.1",
  transport: "ws",
  connection: null,
});

/** A SocketProtocol on a port of its own; options as a test needs them. */
async function serve(options: Partial<SocketProtocolOptions> = {}) {
  const failures: ProtocolFailure[] = [];
  const protocol = new SocketProtocol({
    router,
    maxSubscriptions: 10,
    maxBuffered: 1_048_576,
    onSlowConsumer: (socket) => socket.close(1013, "Slow consumer"),
    createContext: async () => namedContext("test"),
    onSetupFailed: (socket) => socket.close(4400, "Invalid connectionParams"),
    onError: (failure) => failures.push(failure),
    ...options,
  });
  const { url, sockets, close } = await serveProtocol(protocol);
  closers.push(close);
  return { url, protocol, failures, sockets };
}

/** A raw socket that keeps the frames it receives as text: the frames' exact text is what is compared here. */
const rawSocket = (url: string) => rawClient(url, (text) => text, clientClosers);

const subscribe = (id: number, path: string) => JSON.stringify({ id, method: "subscription", params: { path } });
const query = (id: number, path: string) => JSON.stringify({ id, method: "query", params: { path } });

describe("subscriptions that return an observable", () => {
  it("are served as tRPC's adapter serves them: started, each value, stopped when it completes", async () => {
    const { url } = await serve();
    const before = { ...observed };
    const raw = await rawSocket(url);
    raw.socket.send(subscribe(1, "counted"));
    expect(await raw.received(4)).toEqual([
      '{"id":1,"result":{"type":"started"}}',
      '{"id":1,"result":{"type":"data","data":1}}',
      '{"id":1,"result":{"type":"data","data":2}}',
      '{"id":1,"result":{"type":"stopped"}}',
    ]);
    expect(observed.subscribed).toBe(before.subscribed + 1);
    expect(observed.tornDown).toBe(before.tornDown + 1);
  });

  it("answer an observable's error with the error, then stopped", async () => {
    const { url, failures } = await serve();
    const raw = await rawSocket(url);
    raw.socket.send(subscribe(1, "failing"));
    expect(await raw.received(4)).toEqual([
      '{"id":1,"result":{"type":"started"}}',
      '{"id":1,"result":{"type":"data","data":"eins"}}',
      '{"id":1,"error":{"message":"Kaputt","code":-32012,"data":{"code":"PRECONDITION_FAILED","httpStatus":412,"path":"failing"}}}',
      '{"id":1,"result":{"type":"stopped"}}',
    ]);
    expect(failures.map((f) => [f.path, f.error.code])).toEqual([["failing", "PRECONDITION_FAILED"]]);
  });

  it("tear the observable down on subscription.stop and when the socket closes", async () => {
    const { url, protocol, sockets } = await serve();
    const before = { ...observed };
    const raw = await rawSocket(url);
    raw.socket.send(subscribe(1, "listening"));
    raw.socket.send(subscribe(2, "listening"));
    await until(() => observed.subscribed === before.subscribed + 2 && raw.frames.length === 2);
    emitter.emit("word", "Haus");
    await until(() => raw.frames.length === 4);
    expect(raw.frames).toContain('{"id":2,"result":{"type":"data","data":"Haus"}}');

    raw.socket.send(JSON.stringify({ id: 1, method: "subscription.stop" }));
    await until(() => raw.frames.length === 5);
    expect(raw.frames[4]).toBe('{"id":1,"result":{"type":"stopped"}}');
    expect(observed.tornDown).toBe(before.tornDown + 1);
    expect(protocol.subscriptionCount([...sockets][0] as WebSocket)).toBe(1);

    raw.socket.close();
    await until(() => observed.tornDown === before.tornDown + 2);
    expect(emitter.listenerCount("word")).toBe(0);
  });

  it("work through tRPC's own wsLink", async () => {
    const { url } = await serve();
    const { client, close } = wsLinkClient<typeof router>(url, undefined, { keepAlive: { enabled: false } });
    clientClosers.push(close);
    const seen: number[] = [];
    await new Promise<void>((resolve, reject) => {
      client.counted.subscribe(undefined, { onData: (n) => seen.push(n), onComplete: resolve, onError: reject });
    });
    expect(seen).toEqual([1, 2]);
  });

  it("are refused from a query, as tRPC's adapter refuses them", async () => {
    const { url } = await serve();
    const raw = await rawSocket(url);
    raw.socket.send(query(1, "notAQuery"));
    expect(await raw.received(1)).toEqual([
      '{"id":1,"error":{"message":"Cannot return an async iterable or observable from a query procedure with WebSockets","code":-32015,"data":{"code":"UNSUPPORTED_MEDIA_TYPE","httpStatus":415,"path":"notAQuery"}}}',
    ]);
  });
});

describe("createContext", () => {
  it("fails every call with its own error, answered while the socket is open", async () => {
    const { url, failures } = await serve({
      async createContext() {
        await new Promise((resolve) => setTimeout(resolve, 20));
        throw new TRPCError({ code: "UNAUTHORIZED", message: "Abgelaufen" });
      },
      // As tRPC's adapter does: close in the next tick, so calls already queued are answered.
      onSetupFailed: (socket) => setImmediate(() => socket.close()),
    });
    const raw = await rawSocket(url);
    raw.socket.send(query(1, "greeting"));
    raw.socket.send(subscribe(2, "counted"));
    expect(await raw.closed).toBe(1005);
    expect(raw.frames).toEqual([
      '{"id":null,"error":{"message":"Abgelaufen","code":-32001,"data":{"code":"UNAUTHORIZED","httpStatus":401}}}',
      '{"id":1,"error":{"message":"Abgelaufen","code":-32001,"data":{"code":"UNAUTHORIZED","httpStatus":401,"path":"greeting"}}}',
      '{"id":2,"error":{"message":"Abgelaufen","code":-32001,"data":{"code":"UNAUTHORIZED","httpStatus":401,"path":"counted"}}}',
    ]);
    expect(failures.map((f) => [f.path, f.error.message])).toEqual([
      [undefined, "Abgelaufen"],
      ["greeting", "Abgelaufen"],
      ["counted", "Abgelaufen"],
    ]);
  });

  it("leaves closing to onSetupFailed: a server that closes at once answers and reports only the failure", async () => {
    const { url, failures } = await serve({
      async createContext() {
        await new Promise((resolve) => setTimeout(resolve, 20));
        throw new TRPCError({ code: "UNAUTHORIZED", message: "Abgelaufen" });
      },
    });
    const raw = await rawSocket(url);
    raw.socket.send(query(1, "greeting"));
    raw.socket.send(subscribe(2, "counted"));
    expect(await raw.closed).toBe(4400);
    expect(raw.frames).toEqual([
      '{"id":null,"error":{"message":"Abgelaufen","code":-32001,"data":{"code":"UNAUTHORIZED","httpStatus":401}}}',
    ]);
    expect(failures.map((f) => [f.path, f.error.message])).toEqual([[undefined, "Abgelaufen"]]);
  });

  it.each([null, undefined])("may make a context of %s: calls run with it", async (made) => {
    const { url, failures } = await serve({ createContext: async () => made });
    const raw = await rawSocket(url);
    raw.socket.send(query(1, "context"));
    raw.socket.send(subscribe(2, "counted"));
    await raw.received(5);
    expect(raw.frames).toContain(`{"id":1,"result":{"type":"data","data":"${String(made)}"}}`);
    expect(raw.frames).toContain('{"id":2,"result":{"type":"stopped"}}');
    expect(failures).toEqual([]);
  });
});

describe("memory", () => {
  // node's gc() without --expose-gc on the command line.
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;

  it("keeps no event of a subscription alive while it waits for the next (tRPC's #6156)", async () => {
    const { url } = await serve();
    const raw = await rawSocket(url);
    raw.socket.send(subscribe(1, "payloads"));
    await until(() => raw.frames.length === 1 && emitter.listenerCount("payload") === 1);
    const emit = (): WeakRef<object> => {
      const payload = { words: ["Haus", "Baum"] };
      emitter.emit("payload", payload);
      return new WeakRef(payload);
    };
    const refs = [emit(), emit()];
    await until(() => raw.frames.length === 3);
    // The subscription is now suspended, waiting for a third event.
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
    expect(refs.map((ref) => ref.deref())).toEqual([undefined, undefined]);
    raw.socket.send(JSON.stringify({ id: 1, method: "subscription.stop" }));
    await until(() => raw.frames.length === 4);
  });
});

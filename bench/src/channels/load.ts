/**
 * One load process of the channels benchmark: raw `ws` connections that speak just enough of
 * Plauder's tRPC WebSocket protocol or of Socket.IO's to authenticate, subscribe (join), publish with
 * acknowledgements, and count deliveries. Controlled over IPC by run.ts (see ./protocol.ts).
 *
 * It stays cheap so the servers, not the load, set the figures: frames are never parsed as JSON
 * (ids and send times are read out of the bytes), except on connections asked to verify order.
 * Plauder calls made in one tick go out as one frame (an array of at most 100 calls), as tRPC's
 * wsLink sends them; Socket.IO sends one packet per frame, as socket.io-client does.
 */
import * as hdr from "hdr-histogram-js";
import WebSocket from "ws";
import { nowMs, payload, scheduledTime } from "../protocol";
import type * as ipc from "./protocol";

const maxCallsPerFrame = 100;
/** Plauder call ids: subscriptions count from 1, the auth probe is 999, publishes start at 1000. */
const authProbeId = 999;
const firstPublishId = 1000;

type Pending = { started: number };

type Conn = {
  system: ipc.ChannelSystem;
  ws: WebSocket;
  spec: ipc.ConnectionSpec;
  nextId: number;
  pending: Map<number, Pending>;
  outbox: string[];
  flushScheduled: boolean;
  publishCursor: number;
  offsets: Map<string, number> | null;
  /** Set while connecting: settles the connect promise. */
  settle: ((error: Error | null) => void) | null;
  waitingFor: number;
};

const newHistogram = () =>
  hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });

const conns: Conn[] = [];
const deliveries = newHistogram();
const acks = newHistogram();
let received = 0;
let ackCount = 0;
let errorCount = 0;
let firstError: string | null = null;
let counting = false;
const order = { checked: 0, gaps: 0, duplicates: 0, outOfOrder: 0, firstOffset: 0, last: 0 };
let cpuMark = process.cpuUsage();
let timeMark = performance.now();

/** Called when a publish is answered (closed loop: issue the next one). */
let onAnswered: ((conn: Conn) => void) | null = null;

function noteError(text: string): void {
  if (!counting) return;
  errorCount++;
  firstError ??= text.slice(0, 300);
}

function recordAck(started: number): void {
  if (!counting) return;
  ackCount++;
  acks.recordValue(Math.max(1, Math.round((nowMs() - started) * 1000)));
}

function recordDelivery(conn: Conn, frame: Buffer): void {
  const sent = scheduledTime(frame);
  if (sent === null) return;
  received++;
  deliveries.recordValue(Math.max(1, Math.round((nowMs() - sent) * 1000)));
  if (conn.offsets) verify(conn, frame);
}

/** Checks that durable offsets arrive as 1, 2, 3, … per channel on a verifying connection. */
function verify(conn: Conn, frame: Buffer): void {
  const message = JSON.parse(frame.toString()) as {
    result?: { data?: { data?: { type?: string; kind?: string; channel?: string; offset?: number } } };
  };
  const event = message.result?.data?.data;
  if (event?.type !== "publication" || event.kind !== "durable" || !event.channel || event.offset === undefined) return;
  const offsets = conn.offsets as Map<string, number>;
  const last = offsets.get(event.channel);
  order.checked++;
  if (last === undefined) order.firstOffset = event.offset;
  else if (event.offset === last) order.duplicates++;
  else if (event.offset < last) order.outOfOrder++;
  else if (event.offset > last + 1) order.gaps += event.offset - last - 1;
  if (last === undefined || event.offset > last) offsets.set(event.channel, event.offset);
  order.last = Math.max(order.last, event.offset);
}

/** Reads the number right after `from` in a frame (ids), or -1. */
function readInt(frame: Buffer, from: number): { value: number; end: number } {
  let value = 0;
  let i = from;
  for (; i < frame.length; i++) {
    const c = frame[i] as number;
    if (c < 48 || c > 57) break;
    value = value * 10 + (c - 48);
  }
  return { value: i === from ? -1 : value, end: i };
}

const idPrefix = Buffer.from('{"id":');
const errorMark = Buffer.from(',"error"');

function onPlauderFrame(conn: Conn, frame: Buffer): void {
  if (frame.length === 4 && frame.toString() === "PING") {
    conn.ws.send("PONG");
    return;
  }
  if (!frame.subarray(0, idPrefix.length).equals(idPrefix)) return;
  const { value: id, end } = readInt(frame, idPrefix.length);
  const isError = frame.subarray(end, end + errorMark.length).equals(errorMark);
  if (id < 0) {
    // `"id":null`: the server refused a whole frame.
    noteError(frame.toString());
    conn.settle?.(new Error(frame.toString().slice(0, 300)));
    return;
  }
  if (id >= firstPublishId) {
    answered(conn, id, isError, frame);
    return;
  }
  if (conn.settle) {
    if (isError) {
      conn.settle(new Error(frame.toString().slice(0, 300)));
      return;
    }
    // The auth probe's answer, then each subscription's first event (always `sync`).
    if (id === authProbeId || frame.includes('"type":"sync"')) {
      conn.waitingFor--;
      if (conn.waitingFor === 0) conn.settle(null);
    }
    return;
  }
  if (isError) noteError(frame.toString());
  else recordDelivery(conn, frame);
}

function onSocketIoFrame(conn: Conn, frame: Buffer): void {
  const kind = frame[0];
  // Engine.IO: "0{…}" open, "2" ping; Socket.IO: "40{…}" connected, "44{…}" refused, "42[…]" event, "43<id>[…]" ack.
  if (kind === 0x32 && frame.length === 1) {
    conn.ws.send("3");
    return;
  }
  if (kind === 0x30) {
    conn.ws.send(`40${JSON.stringify({ token: conn.spec.token })}`);
    return;
  }
  if (kind !== 0x34) return;
  const type = frame[1];
  if (type === 0x30) {
    if (conn.spec.subscribe.length === 0) {
      conn.settle?.(null);
      return;
    }
    conn.ws.send(`420${JSON.stringify(["join", conn.spec.subscribe])}`);
    return;
  }
  if (type === 0x34) {
    conn.settle?.(new Error(`refused: ${frame.toString().slice(0, 300)}`));
    return;
  }
  if (type === 0x33) {
    const { value: id, end } = readInt(frame, 2);
    const isError = frame.includes('"error"', end);
    if (id === 0) {
      conn.settle?.(isError ? new Error(frame.toString().slice(0, 300)) : null);
      return;
    }
    answered(conn, id, isError, frame);
    return;
  }
  if (type === 0x32) recordDelivery(conn, frame);
}

/** The answer to publish `id`, either system's: an ack timed from its send, or an error noted; then the loop goes on. */
function answered(conn: Conn, id: number, isError: boolean, frame: Buffer): void {
  const pending = conn.pending.get(id);
  if (!pending) return;
  conn.pending.delete(id);
  if (isError) noteError(frame.toString());
  else recordAck(pending.started);
  onAnswered?.(conn);
}

function flush(conn: Conn): void {
  conn.flushScheduled = false;
  const calls = conn.outbox;
  conn.outbox = [];
  if (conn.ws.readyState !== WebSocket.OPEN) return;
  for (let i = 0; i < calls.length; i += maxCallsPerFrame) {
    const part = calls.slice(i, i + maxCallsPerFrame);
    conn.ws.send(part.length === 1 ? (part[0] as string) : `[${part.join(",")}]`);
  }
}

/** Queues one Plauder call; calls queued in one tick leave together (wsLink's batching). */
function call(conn: Conn, text: string): void {
  conn.outbox.push(text);
  if (!conn.flushScheduled) {
    conn.flushScheduled = true;
    setImmediate(flush, conn);
  }
}

function publish(conn: Conn, sentAt: number, bytes: number, ephemeral: boolean): void {
  const channels = conn.spec.publish;
  const channel = channels[conn.publishCursor++ % channels.length] as string;
  const text = payload(sentAt, bytes);
  const id = conn.nextId++;
  conn.pending.set(id, { started: sentAt });
  if (conn.system === "plauder") {
    const input = ephemeral ? { channel, text, ephemeral: true } : { channel, text };
    call(conn, JSON.stringify({ id, method: "mutation", params: { path: "channels.publish", input } }));
  } else {
    conn.ws.send(`42${id}${JSON.stringify(["publish", { room: channel, text }])}`);
  }
}

function open(system: ipc.ChannelSystem, spec: ipc.ConnectionSpec): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const target =
      system === "plauder"
        ? `${spec.url}/api/trpc-ws?connectionParams=1`
        : `${spec.url}/socket.io/?EIO=4&transport=websocket`;
    const ws = new WebSocket(target, { perMessageDeflate: false });
    const conn: Conn = {
      system,
      ws,
      spec,
      nextId: system === "plauder" ? firstPublishId : 1,
      pending: new Map(),
      outbox: [],
      flushScheduled: false,
      publishCursor: 0,
      offsets: spec.verify ? new Map() : null,
      settle: null,
      waitingFor: 0,
    };
    const timer = setTimeout(() => conn.settle?.(new Error("no answer within 60 s")), 60_000);
    conn.settle = (error) => {
      conn.settle = null;
      clearTimeout(timer);
      if (error) {
        ws.terminate();
        reject(error);
      } else resolve(conn);
    };
    ws.on("error", (error) => conn.settle?.(error));
    ws.on("close", (code, reason) => {
      conn.settle?.(new Error(`closed (${code} ${reason.toString()}) before it was ready`));
      if (counting) noteError(`connection closed: ${code} ${reason.toString()}`);
    });
    ws.on("message", (data: Buffer, isBinary) => {
      if (isBinary) return;
      if (system === "plauder") onPlauderFrame(conn, data);
      else onSocketIoFrame(conn, data);
    });
    ws.on("open", () => {
      if (ws.extensions !== "") return conn.settle?.(new Error(`deflate negotiated: ${ws.extensions}`));
      if (system !== "plauder") return;
      ws.send(JSON.stringify({ method: "connectionParams", data: { token: spec.token } }));
      const calls = [JSON.stringify({ id: authProbeId, method: "query", params: { path: "auth.me", input: {} } })];
      spec.subscribe.forEach((channel, index) => {
        calls.push(
          JSON.stringify({
            id: index + 1,
            method: "subscription",
            params: { path: "channels.subscribe", input: { channel } },
          }),
        );
      });
      conn.waitingFor = calls.length;
      ws.send(`[${calls.join(",")}]`);
    });
  });
}

/** Subscribes an open Plauder connection to the channels of its `later` list; resolves once each has its sync. */
function subscribeLater(conn: Conn): Promise<void> {
  const channels = conn.spec.later ?? [];
  if (channels.length === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => conn.settle?.(new Error("no sync within 60 s")), 60_000);
    conn.settle = (error) => {
      conn.settle = null;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve();
    };
    conn.waitingFor = channels.length;
    const first = conn.spec.subscribe.length + 1;
    const calls = channels.map((channel, index) =>
      JSON.stringify({
        id: first + index,
        method: "subscription",
        params: { path: "channels.subscribe", input: { channel } },
      }),
    );
    conn.ws.send(`[${calls.join(",")}]`);
  });
}

async function subscribeAll(concurrency: number): Promise<ipc.SubscribeResult> {
  const started = performance.now();
  let failed = 0;
  let error: string | null = null;
  let next = 0;
  const list = conns.filter((c) => c.system === "plauder" && (c.spec.later?.length ?? 0) > 0);
  const worker = async () => {
    while (next < list.length) {
      const conn = list[next++] as Conn;
      try {
        await subscribeLater(conn);
      } catch (cause) {
        failed++;
        error ??= (cause as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { type: "subscribed", ok: list.length - failed, failed, firstError: error, ms: performance.now() - started };
}

async function connect(command: Extract<ipc.LoadCommand, { type: "connect" }>): Promise<ipc.ConnectResult> {
  const started = performance.now();
  let failed = 0;
  let error: string | null = null;
  let next = 0;
  const worker = async () => {
    while (next < command.connections.length) {
      const spec = command.connections[next++] as ipc.ConnectionSpec;
      try {
        conns.push(await open(command.system, spec));
      } catch (cause) {
        failed++;
        error ??= (cause as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: command.concurrency }, worker));
  return {
    type: "connected",
    ok: command.connections.length - failed,
    failed,
    firstError: error,
    ms: performance.now() - started,
  };
}

function startCounting(): void {
  acks.reset();
  deliveries.reset();
  ackCount = 0;
  errorCount = 0;
  firstError = null;
  received = 0;
  counting = true;
  cpuMark = process.cpuUsage();
  timeMark = performance.now();
}

function cpuShare(): number {
  const used = process.cpuUsage(cpuMark);
  return (used.user + used.system) / 1000 / Math.max(1, performance.now() - timeMark);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const publishers = () => conns.filter((c) => c.spec.publish.length > 0);

async function drain(): Promise<number> {
  const until = performance.now() + 10_000;
  const open = () => publishers().reduce((sum, c) => sum + c.pending.size, 0);
  while (open() > 0 && performance.now() < until) await sleep(20);
  return open();
}

function result(seconds: number, cpu: number, maxLagMs: number, unanswered: number): ipc.PublishResult {
  return {
    type: "published",
    acks: ackCount,
    errors: errorCount,
    firstError,
    seconds,
    p50: acks.getValueAtPercentile(50) / 1000,
    p99: acks.getValueAtPercentile(99) / 1000,
    max: acks.maxValue / 1000,
    maxLagMs,
    unanswered,
    cpu,
  };
}

/** Closed loop: every publisher keeps `depth` publishes in flight; an answer sends the next. */
async function closedLoop(command: Extract<ipc.LoadCommand, { type: "closed" }>): Promise<ipc.PublishResult> {
  let running = true;
  onAnswered = (conn) => {
    if (running) publish(conn, nowMs(), command.bytes, command.ephemeral);
  };
  const active = publishers();
  if (active.length === 0) throw new Error("no publisher connections");
  for (const conn of active) {
    for (let i = 0; i < command.depth; i++) publish(conn, nowMs(), command.bytes, command.ephemeral);
  }
  await sleep(command.warmupSeconds * 1000);
  startCounting();
  const from = performance.now();
  await sleep(command.seconds * 1000);
  const snapshot = result((performance.now() - from) / 1000, cpuShare(), 0, 0);
  counting = false;
  running = false;
  snapshot.unanswered = await drain();
  onAnswered = null;
  return snapshot;
}

/** Open loop: `rate` publishes per second on a fixed schedule across the publishers, whatever the answers do. */
async function openLoop(command: Extract<ipc.LoadCommand, { type: "open" }>): Promise<ipc.PublishResult> {
  const active = publishers();
  if (active.length === 0) throw new Error("no publisher connections");
  const interval = 1000 / command.rate;
  const start = nowMs() + 20;
  const measureFrom = start + command.warmupSeconds * 1000;
  const end = measureFrom + command.seconds * 1000;
  const total = Math.round((end - start) / interval);
  let sent = 0;
  let maxLagMs = 0;
  let measuring = false;
  while (sent < total) {
    const now = nowMs();
    if (!measuring && now >= measureFrom) {
      measuring = true;
      startCounting();
    }
    const due = Math.min(total, Math.floor((now - start) / interval) + 1);
    for (; sent < due; sent++) {
      const scheduled = start + sent * interval;
      if (measuring && scheduled >= measureFrom) maxLagMs = Math.max(maxLagMs, now - scheduled);
      publish(active[sent % active.length] as Conn, scheduled, command.bytes, command.ephemeral);
    }
    const wait = start + sent * interval - nowMs();
    await sleep(Math.max(1, wait));
  }
  // Answers for the last publishes still count.
  const unanswered = await drain();
  const snapshot = result((end - measureFrom) / 1000, cpuShare(), maxLagMs, unanswered);
  counting = false;
  return snapshot;
}

function report(): ipc.DeliveryReport {
  return {
    type: "report",
    connections: conns.filter((c) => c.ws.readyState === WebSocket.OPEN).length,
    received,
    p50: deliveries.getValueAtPercentile(50) / 1000,
    p99: deliveries.getValueAtPercentile(99) / 1000,
    max: deliveries.maxValue / 1000,
    order: { ...order },
    cpu: cpuShare(),
  };
}

async function handle(command: ipc.LoadCommand): Promise<object> {
  switch (command.type) {
    case "connect":
      return connect(command);
    case "closed":
      return closedLoop(command);
    case "open":
      return openLoop(command);
    case "subscribe":
      return subscribeAll(command.concurrency);
    case "reset":
      startCounting();
      counting = false;
      return { type: "reset" };
    case "report":
      return report();
    case "close":
      for (const conn of conns.splice(0)) conn.ws.terminate();
      Object.assign(order, { checked: 0, gaps: 0, duplicates: 0, outOfOrder: 0, firstOffset: 0, last: 0 });
      startCounting();
      counting = false;
      return { type: "closed" };
  }
}

process.on("message", (command: ipc.LoadCommand) => {
  handle(command).then(
    (answer) => process.send?.(answer),
    (error: Error) => process.send?.({ type: "failed", message: error.message }),
  );
});
process.send?.({ type: "ready" });

/**
 * The tutor benchmark's load client: raw `ws` connections that speak just enough of Plauder's tRPC
 * WebSocket protocol to authenticate, start conversations, follow their channels and send, stop
 * and time answers. One process, controlled over IPC by run.ts (see ./protocol.ts).
 *
 * It times what a client sees: when a `tutor.send` frame left, when each delta arrived (read on
 * the socket's message event, before anything else is done with it), when the end came. It keeps
 * its own costs visible (`stats`: CPU and event-loop delay), so the report can tell when the
 * client, not the server, set a figure.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import WebSocket from "ws";
import { nowMs } from "../protocol";
import {
  type ConnSpec,
  type DirectRecord,
  type LoadCommand,
  type LoadStats,
  learnerLine,
  type SendRecord,
  type StopRecord,
  tokenLength,
} from "./protocol";

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

/** The answer a connection is waiting for, as it arrives. */
type Answer = SendRecord & { answerId: string | null; early: unknown[]; done: () => void; received: number };

type Conn = {
  ws: WebSocket;
  nextId: number;
  pending: Map<number, Pending>;
  conversationId: string | null;
  subscriptionId: number | null;
  answer: Answer | null;
  /** Deltas seen for the current answer (the stop loop waits for a few). */
  onDelta: (() => void) | null;
};

const conns: Conn[] = [];
const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
let cpuMark = process.cpuUsage();
let timeMark = performance.now();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function call(
  conn: Conn,
  method: "query" | "mutation" | "subscription",
  path: string,
  input: unknown,
): Promise<unknown> {
  const id = conn.nextId++;
  return new Promise((resolve, reject) => {
    conn.pending.set(id, { resolve, reject });
    conn.ws.send(JSON.stringify({ id, method, params: { path, input } }));
  });
}

type Frame = {
  id?: number | null;
  result?: { type?: string; data?: unknown };
  error?: { message?: string; data?: { code?: string } };
};
type Publication = { type: "publication"; text: string; sender: { id: string } } | { type: "sync" } | { type: "other" };
type TutorEvent = {
  type: string;
  messageId?: string;
  at?: number;
  text?: string;
  status?: string;
  length?: number;
};

function onFrame(conn: Conn, raw: Buffer, at: number): void {
  if (raw.length === 4 && raw.toString() === "PING") {
    conn.ws.send("PONG");
    return;
  }
  const frame = JSON.parse(raw.toString()) as Frame;
  if (typeof frame.id !== "number") return;
  if (frame.id === conn.subscriptionId) {
    // A tracked event: `data` is `{ id, data }` (the position and the channel event).
    const data = (frame.result?.data as { data?: Publication } | undefined)?.data;
    if (!data) return;
    if (data.type === "sync") {
      conn.pending.get(frame.id)?.resolve(null);
      conn.pending.delete(frame.id);
      return;
    }
    if (data.type !== "publication" || data.sender.id !== "tutor") return;
    onEvent(conn, JSON.parse(data.text) as TutorEvent, at);
    return;
  }
  const pending = conn.pending.get(frame.id);
  if (!pending) return;
  conn.pending.delete(frame.id);
  if (frame.error) pending.reject(new Error(`${frame.error.data?.code ?? "ERROR"}: ${frame.error.message}`));
  else pending.resolve(frame.result?.data);
}

function onEvent(conn: Conn, event: TutorEvent, at: number): void {
  const answer = conn.answer;
  if (!answer) return;
  if (answer.answerId === null) {
    // The send's reply (which names the answer) may come after its first events.
    if (event.type === "delta" || event.type === "end") answer.early.push({ event, at });
    return;
  }
  if (event.messageId !== answer.answerId) return;
  if (event.type === "delta") {
    const text = event.text ?? "";
    const from = event.at ?? 0;
    answer.deltas++;
    if (from !== answer.received) answer.misplaced++;
    answer.received = Math.max(answer.received, from + text.length);
    answer.firstDeltaAt ??= at;
    const first = Math.floor(from / tokenLength);
    const last = Math.floor((from + text.length) / tokenLength) - 1;
    if (last > first) answer.merged++;
    if (answer.arrivals) for (let token = first; token <= last; token++) answer.arrivals[token] = at;
    conn.onDelta?.();
  } else if (event.type === "end") {
    answer.endAt = at;
    answer.status = event.status ?? null;
    answer.length = event.length ?? 0;
    answer.done();
  }
}

function open(spec: ConnSpec): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${spec.url.replace(/^http/, "ws")}/api/trpc-ws?connectionParams=1`, {
      perMessageDeflate: false,
    });
    const conn: Conn = {
      ws,
      nextId: 1,
      pending: new Map(),
      conversationId: null,
      subscriptionId: null,
      answer: null,
      onDelta: null,
    };
    const timer = setTimeout(() => reject(new Error("no connection within 30 s")), 30_000);
    ws.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    ws.on("close", (code, reason) => {
      for (const pending of conn.pending.values()) pending.reject(new Error(`closed: ${code} ${reason.toString()}`));
      conn.pending.clear();
    });
    ws.on("message", (data: Buffer, isBinary) => {
      const at = nowMs();
      if (!isBinary) onFrame(conn, data, at);
    });
    ws.on("open", () => {
      ws.send(JSON.stringify({ method: "connectionParams", data: { token: spec.token } }));
      call(conn, "query", "auth.me", {}).then(
        () => {
          clearTimeout(timer);
          resolve(conn);
        },
        (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  });
}

/** Runs `work` over `items` with at most `concurrency` at a time. */
async function pool<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

const connAt = (index: number): Conn => {
  const conn = conns[index];
  if (!conn) throw new Error(`no connection ${index}`);
  return conn;
};

async function startConversation(conn: Conn, level: string): Promise<void> {
  const started = (await call(conn, "mutation", "tutor.start", { level })) as {
    conversation: { id: string; channel: string };
  };
  conn.conversationId = started.conversation.id;
  await subscribe(conn, started.conversation.channel);
}

/** Subscribes to the conversation's channel; resolves on its first `sync`. */
function subscribe(conn: Conn, channel: string): Promise<void> {
  const id = conn.nextId++;
  conn.subscriptionId = id;
  return new Promise((resolve, reject) => {
    conn.pending.set(id, { resolve: () => resolve(), reject });
    conn.ws.send(
      JSON.stringify({ id, method: "subscription", params: { path: "channels.subscribe", input: { channel } } }),
    );
  });
}

/** Sends one line and resolves with what arrived once its answer ended (or `timeoutMs` passed). */
async function send(
  conn: Conn,
  tag: string,
  tokens: number,
  keepArrivals: boolean,
  onAck?: () => void,
  timeoutMs = 120_000,
): Promise<SendRecord> {
  if (!conn.conversationId) throw new Error("no conversation on this connection");
  let done = () => {};
  const ended = new Promise<void>((resolve) => {
    done = resolve;
  });
  const answer: Answer = {
    tag,
    sentAt: 0,
    ackAt: 0,
    position: 0,
    firstDeltaAt: null,
    endAt: null,
    status: null,
    length: 0,
    deltas: 0,
    merged: 0,
    misplaced: 0,
    received: 0,
    answerId: null,
    early: [],
    done,
    ...(keepArrivals ? { arrivals: [] } : {}),
  };
  conn.answer = answer;
  answer.sentAt = nowMs();
  const reply = (await call(conn, "mutation", "tutor.send", {
    conversationId: conn.conversationId,
    text: learnerLine(tag, tokens),
  })) as { answerId: string; position: number };
  answer.ackAt = nowMs();
  answer.position = reply.position;
  answer.answerId = reply.answerId;
  for (const early of answer.early.splice(0) as { event: TutorEvent; at: number }[])
    onEvent(conn, early.event, early.at);
  onAck?.();
  const timer = setTimeout(done, timeoutMs);
  await ended;
  clearTimeout(timer);
  conn.answer = null;
  const { answerId: _id, early: _early, done: _done, received: _received, ...record } = answer;
  return record;
}

async function sequential(command: Extract<LoadCommand, { type: "sequential" }>): Promise<SendRecord[]> {
  const records: SendRecord[] = [];
  for (let n = 0; n < command.sends; n++) {
    const conn = connAt(command.conns[n % command.conns.length] as number);
    records.push(await send(conn, `${command.tagPrefix}${n}`, command.tokens, false));
    // A breath between sends, so each one finds the server idle.
    await sleep(20);
  }
  return records;
}

async function streams(command: Extract<LoadCommand, { type: "streams" }>): Promise<SendRecord[]> {
  let acknowledged = 0;
  const total = command.conns.length;
  const step = total > 1 ? command.spreadMs / (total - 1) : 0;
  const started = performance.now();
  const all = command.conns.map(async (index, n) => {
    const wait = started + n * step - performance.now();
    if (wait > 0) await sleep(wait);
    return send(connAt(index), `${command.tagPrefix}${n}`, command.tokens, command.keepArrivals, () => {
      acknowledged++;
      if (acknowledged === total) process.send?.({ type: "streams-started", at: nowMs() });
    });
  });
  return Promise.all(all);
}

async function stops(command: Extract<LoadCommand, { type: "stops" }>): Promise<StopRecord[]> {
  const records: StopRecord[] = [];
  await Promise.all(
    command.pairs.map(async (pair, p) => {
      const owner = connAt(pair.owner);
      const stopper = connAt(pair.stopper);
      for (let round = 0; round < command.rounds; round++) {
        const tag = `${command.tagPrefix}${p}x${round}`;
        let deltas = 0;
        let stopped: Promise<{ stopAt: number; stopAckAt: number }> | null = null;
        owner.onDelta = () => {
          deltas++;
          if (deltas !== command.afterDeltas || stopped) return;
          const stopAt = nowMs();
          stopped = call(stopper, "mutation", "tutor.stop", { conversationId: owner.conversationId }).then(() => ({
            stopAt,
            stopAckAt: nowMs(),
          }));
        };
        const record = await send(owner, tag, command.tokens, false);
        owner.onDelta = null;
        if (!stopped)
          throw new Error(`${tag}: the answer ended before ${command.afterDeltas} deltas (${record.status})`);
        const stop = await (stopped as Promise<{ stopAt: number; stopAckAt: number }>);
        records.push({ tag, ...stop, endAt: record.endAt, status: record.status });
      }
    }),
  );
  return records;
}

/** The fake straight from this process: what the same client measures without Plauder in between. */
async function direct(command: Extract<LoadCommand, { type: "direct" }>): Promise<DirectRecord[]> {
  const records: DirectRecord[] = [];
  for (let n = 0; n < command.sends; n++) {
    const tag = `${command.tagPrefix}${n}`;
    const sentAt = nowMs();
    const response = await fetch(`${command.url}/api/chat`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: command.model,
        stream: true,
        messages: [{ role: "user", content: learnerLine(tag, command.tokens) }],
      }),
    });
    if (!response.ok || !response.body) throw new Error(`the fake answered ${response.status}`);
    let firstTokenAt = 0;
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (firstTokenAt === 0 && decoder.decode(value, { stream: true }).includes('"content":" t'))
        firstTokenAt = nowMs();
    }
    records.push({ tag, sentAt, firstTokenAt });
    await sleep(20);
  }
  return records;
}

function stats(): LoadStats {
  const used = process.cpuUsage(cpuMark);
  const elapsed = performance.now() - timeMark;
  const result: LoadStats = {
    type: "stats",
    cpu: (used.user + used.system) / 1000 / Math.max(1, elapsed),
    eventLoopP50: delay.percentile(50) / 1e6,
    eventLoopP99: delay.percentile(99) / 1e6,
    eventLoopMax: delay.max / 1e6,
  };
  cpuMark = process.cpuUsage();
  timeMark = performance.now();
  delay.reset();
  return result;
}

async function handle(command: LoadCommand): Promise<object> {
  switch (command.type) {
    case "connect": {
      const opened: Conn[] = new Array(command.conns.length);
      const indexes = command.conns.map((_, index) => index);
      await pool(indexes, command.concurrency, async (index) => {
        opened[index] = await open(command.conns[index] as ConnSpec);
      });
      const first = conns.length;
      conns.push(...opened);
      return { type: "connected", first, count: opened.length };
    }
    case "start":
      await pool(command.conns, command.concurrency, (index) => startConversation(connAt(index), command.level));
      return { type: "started" };
    case "sequential":
      return { type: "sequential", records: await sequential(command) };
    case "streams":
      return { type: "streams", records: await streams(command) };
    case "stops":
      return { type: "stops", records: await stops(command) };
    case "direct":
      return { type: "direct", records: await direct(command) };
    case "stats":
      return stats();
    case "close":
      for (const conn of conns.splice(0)) conn.ws.terminate();
      return { type: "closed" };
  }
}

process.on("message", (command: LoadCommand) => {
  handle(command).then(
    (answer) => process.send?.(answer),
    (error: Error) => process.send?.({ type: "failed", message: error.stack ?? error.message }),
  );
});
process.send?.({ type: "ready" });

/**
 * The one load client for all three systems: raw `ws` connections that speak each protocol just
 * enough to subscribe, answer heartbeats, and time every delivery into an HDR histogram.
 * Controlled over IPC by the orchestrator (see protocol.ts).
 */
import * as hdr from "hdr-histogram-js";
import WebSocket from "ws";
import { type ClientCommand, type ClientReport, nowMs, type System, scheduledTime } from "./protocol";

const histogram = hdr.build({
  lowestDiscernibleValue: 1,
  highestTrackableValue: 120_000_000,
  numberOfSignificantValueDigits: 3,
});
const sockets: WebSocket[] = [];
let received = 0;
let cpuMark = process.cpuUsage();
let timeMark = performance.now();

function record(frame: Buffer): void {
  const scheduled = scheduledTime(frame);
  if (scheduled === null) return;
  received++;
  // Microseconds; a frame can only be early through clock noise, which counts as 1 µs.
  histogram.recordValue(Math.max(1, Math.round((nowMs() - scheduled) * 1000)));
}

/** Opens one connection and resolves once it is subscribed (or rejects on refusal). */
function open(system: System, url: string, token: string | undefined): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const target =
      system === "plauder"
        ? `${url}/api/trpc-ws?connectionParams=1`
        : system === "socketio"
          ? `${url}/socket.io/?EIO=4&transport=websocket`
          : url;
    const ws = new WebSocket(target, { perMessageDeflate: false });
    let subscribed = false;
    const done = () => {
      if (subscribed) return;
      subscribed = true;
      if (ws.extensions !== "") reject(new Error(`deflate negotiated: ${ws.extensions}`));
      else resolve(ws);
    };
    ws.on("error", (error) => {
      if (!subscribed) reject(error);
    });
    ws.on("close", () => {
      if (!subscribed) reject(new Error("closed before subscribing"));
    });
    ws.on("open", () => {
      if (system === "raw") done();
      if (system === "plauder") {
        ws.send(JSON.stringify({ method: "connectionParams", data: { token } }));
        ws.send(JSON.stringify({ id: 1, method: "subscription", params: { path: "realtime.broadcast", input: {} } }));
      }
    });
    ws.on("message", (data: Buffer, isBinary) => {
      if (isBinary) return;
      if (system === "plauder") {
        if (data.length === 4 && data.toString() === "PING") return void ws.send("PONG");
        if (!subscribed && data.includes('"started"')) return done();
      } else if (system === "socketio") {
        // Engine.IO: "0{...}" open, "2" ping; Socket.IO: "40{...}" connected, "42[...]" event.
        const kind = data[0];
        if (kind === 0x32 && data.length === 1) return void ws.send("3");
        if (kind === 0x30) return void ws.send("40");
        if (kind === 0x34 && data[1] === 0x30) return done();
      }
      record(data);
    });
  });
}

async function connect(command: Extract<ClientCommand, { type: "connect" }>): Promise<void> {
  const started = performance.now();
  let failed = 0;
  let next = 0;
  // A bounded number of handshakes in flight, as a crowd of real clients would arrive.
  const worker = async () => {
    while (next < command.count) {
      const index = next++;
      const url = command.urls[index % command.urls.length] as string;
      try {
        sockets.push(await open(command.system, url, command.token));
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  process.send?.({ type: "connected", ok: command.count - failed, failed, ms: performance.now() - started });
}

function report(): ClientReport {
  const cpu = process.cpuUsage(cpuMark);
  const elapsedMs = performance.now() - timeMark;
  return {
    type: "report",
    connections: sockets.filter((s) => s.readyState === WebSocket.OPEN).length,
    received,
    p50: histogram.getValueAtPercentile(50) / 1000,
    p99: histogram.getValueAtPercentile(99) / 1000,
    max: histogram.maxValue / 1000,
    cpu: (cpu.user + cpu.system) / 1000 / Math.max(1, elapsedMs),
  };
}

process.on("message", (command: ClientCommand) => {
  switch (command.type) {
    case "connect":
      void connect(command);
      return;
    case "disconnect": {
      const removed = sockets.splice(command.keep);
      for (const socket of removed) socket.terminate();
      process.send?.({ type: "disconnected", remaining: sockets.length });
      return;
    }
    case "reset":
      histogram.reset();
      received = 0;
      cpuMark = process.cpuUsage();
      timeMark = performance.now();
      process.send?.({ type: "reset" });
      return;
    case "report":
      process.send?.(report());
      return;
    case "slow": {
      // Stop reading on a share of the sockets: their server-side send buffers can only grow.
      const count = Math.max(1, Math.round(sockets.length * command.fraction));
      for (const socket of sockets.slice(0, count)) {
        (socket as unknown as { _socket: { pause(): void } })._socket.pause();
      }
      process.send?.({ type: "slowed", count });
      return;
    }
  }
});
process.send?.({ type: "ready" });

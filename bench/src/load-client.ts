/**
 * The one load client for all three systems. Controlled over IPC by the orchestrator (see protocol.ts).
 *
 * It must stay much cheaper per delivery than the servers it measures, or a sweep ends at the load
 * client's limit instead of the server's. So it is a minimal WebSocket client of its own over
 * node:net (RFC 6455 handshake and framing, nothing more), speaking each system's protocol just
 * enough to subscribe and answer heartbeats:
 * - every connection reads into one shared buffer (net's `onread`, no stream and no allocation per
 *   read) and counts each delivery from its frame header: a text frame at least as long as the
 *   broadcast text. Its payload is not looked at, nor parsed;
 * - every `timedEvery`-th connection also reads the scheduled send time out of each delivery and
 *   records receive time − send time in an HDR histogram, so latency percentiles come from a fixed
 *   sample of connections spread evenly over the connection order (and every broadcast they get);
 * - each connection counts its own deliveries, so the orchestrator checks that every client got
 *   every broadcast exactly once, not only the total.
 */
import { createHash, randomBytes } from "node:crypto";
import { connect as netConnect, type Socket } from "node:net";
import * as hdr from "hdr-histogram-js";
import { type ClientCommand, type ClientReport, nowMs, payloadBytes, type System, scheduledTime } from "./protocol";

/** One connection in this many records latency (see above). */
const timedEvery = Number(process.env.BENCH_TIME_EVERY ?? 10);

const histogram = hdr.build({
  lowestDiscernibleValue: 1,
  highestTrackableValue: 120_000_000,
  numberOfSignificantValueDigits: 3,
});
const connections: Connection[] = [];
let received = 0;
let malformed = 0;
let unexpected = 0;
let cpuMark = process.cpuUsage();
let timeMark = performance.now();

/** Every connection reads into this buffer; what a read leaves unfinished is copied out. */
const readBuffer = Buffer.allocUnsafe(256 * 1024);
const websocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const headerEnd = Buffer.from("\r\n\r\n");

/** A client frame: text or pong, masked as RFC 6455 requires of clients. */
function encode(text: string | Buffer, opcode = 0x1): Buffer {
  const payload = typeof text === "string" ? Buffer.from(text) : text;
  const n = payload.length;
  const header = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + 4 + n);
  frame[0] = 0x80 | opcode;
  if (n < 126) frame[1] = 0x80 | n;
  else if (n < 65_536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(n), 2);
  }
  const mask = randomBytes(4);
  mask.copy(frame, header);
  for (let i = 0; i < n; i++) frame[header + 4 + i] = (payload[i] as number) ^ (mask[i & 3] as number);
  return frame;
}

class Connection {
  /** Deliveries since the last reset. */
  count = 0;
  subscribed = false;
  reading = true;
  readonly socket: Socket;
  private handshake: Buffer | null = Buffer.alloc(0);
  private readonly key = randomBytes(16).toString("base64");
  /** Unprocessed bytes of an unfinished frame (header or a payload that is read). */
  private partial: Buffer | null = null;
  /** Payload bytes still to come of a delivery that is counted but not read. */
  private skip = 0;

  constructor(
    readonly system: System,
    readonly timed: boolean,
    url: URL,
    private readonly token: string,
    private readonly settle: (error: Error | null) => void,
  ) {
    const path =
      system === "plauder"
        ? "/api/trpc-ws?connectionParams=1"
        : system === "socketio"
          ? "/socket.io/?EIO=4&transport=websocket"
          : "/";
    this.socket = netConnect({
      host: url.hostname,
      port: Number(url.port),
      onread: {
        buffer: readBuffer,
        callback: (n: number, buffer: Uint8Array) => {
          this.onRead(buffer as Buffer, n);
          return true;
        },
      },
    });
    this.socket.setNoDelay(true);
    this.socket.on("connect", () =>
      this.socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${this.key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    this.socket.on("error", (error) => this.fail(error));
    this.socket.on("close", () => this.fail(new Error("closed before subscribing")));
  }

  get open(): boolean {
    return !this.socket.destroyed;
  }

  send(text: string): void {
    this.socket.write(encode(text));
  }

  private fail(error: Error): void {
    if (this.subscribed) return;
    this.subscribed = true; // settled
    this.socket.destroy();
    this.settle(error);
  }

  private ready(): void {
    if (this.subscribed) return;
    this.subscribed = true;
    this.settle(null);
  }

  private onRead(buffer: Buffer, n: number): void {
    if (this.handshake === null) {
      this.frames(buffer, 0, n);
      return;
    }
    const head = Buffer.concat([this.handshake, buffer.subarray(0, n)]);
    const end = head.indexOf(headerEnd);
    if (end < 0) {
      this.handshake = head;
      return;
    }
    this.handshake = null;
    const lines = head.toString("latin1", 0, end).split("\r\n");
    const headers = new Map(
      lines.slice(1).map((line) => {
        const colon = line.indexOf(":");
        return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as const;
      }),
    );
    const accept = createHash("sha1")
      .update(this.key + websocketGuid)
      .digest("base64");
    // Deflate must be off everywhere: a server that negotiates it fails the connection.
    const refusal = !/^HTTP\/1\.1 101/.test(lines[0] ?? "")
      ? `refused: ${lines[0]}`
      : headers.get("sec-websocket-accept") !== accept
        ? "bad Sec-WebSocket-Accept"
        : headers.has("sec-websocket-extensions")
          ? `extension negotiated: ${headers.get("sec-websocket-extensions")}`
          : null;
    if (refusal) {
      this.fail(new Error(refusal));
      return;
    }
    this.opened();
    if (head.length > end + 4) this.frames(head, end + 4, head.length);
  }

  /** The handshake is done: say what the protocol needs to subscribe. */
  private opened(): void {
    if (this.system === "raw") this.ready();
    else if (this.system === "plauder") {
      this.send(JSON.stringify({ method: "connectionParams", data: { token: this.token } }));
      this.send(JSON.stringify({ id: 1, method: "subscription", params: { path: "realtime.broadcast", input: {} } }));
    }
  }

  /** Walks the frames in data[start, end); keeps what is unfinished for the next read. */
  private frames(chunk: Buffer, start: number, end: number): void {
    let data = chunk;
    let i = start;
    if (this.skip > 0) {
      const n = Math.min(this.skip, end - i);
      this.skip -= n;
      i += n;
      if (this.skip > 0) return;
      this.delivered();
    }
    if (this.partial) {
      data = Buffer.concat([this.partial, chunk.subarray(i, end)]);
      this.partial = null;
      i = 0;
      end = data.length;
    }
    while (i < end) {
      const available = end - i;
      if (available < 2) break;
      const b0 = data[i] as number;
      const b1 = data[i + 1] as number;
      let length = b1 & 0x7f;
      let header = 2;
      if (length === 126) {
        if (available < 4) break;
        length = data.readUInt16BE(i + 2);
        header = 4;
      } else if (length === 127) {
        if (available < 10) break;
        length = data.readUInt32BE(i + 2) * 2 ** 32 + data.readUInt32BE(i + 6);
        header = 10;
      }
      if (b1 & 0x80) {
        // A server never masks its frames.
        unexpected++;
        this.socket.destroy();
        return;
      }
      const payload = i + header;
      // The common case: a whole delivery on a connection that does not time it. Counted by its
      // header once all of it is in, its bytes skipped.
      if (b0 === 0x81 && length >= payloadBytes && !this.timed) {
        if (end - payload < length) {
          this.skip = length - (end - payload);
          return;
        }
        this.delivered();
        i = payload + length;
        continue;
      }
      if (end - payload < length) break;
      this.frame(b0, data, payload, payload + length);
      i = payload + length;
    }
    // The read buffer is shared: keep a copy of what is left.
    if (i < end) this.partial = Buffer.from(data.subarray(i, end));
  }

  private delivered(): void {
    this.count++;
    received++;
  }

  /** A whole frame whose payload is data[start, end). */
  private frame(b0: number, data: Buffer, start: number, end: number): void {
    const opcode = b0 & 0x0f;
    if (opcode === 0x9) return void this.socket.write(encode(data.subarray(start, end), 0xa));
    if (opcode === 0xa) return;
    if (opcode === 0x8) return void this.socket.destroy();
    if (b0 !== 0x81) {
      // Binary, fragmented or reserved: none of the systems sends those here.
      unexpected++;
      return;
    }
    if (end - start >= payloadBytes) {
      // A delivery on a timed connection.
      this.delivered();
      const scheduled = scheduledTime(data, start, end);
      if (scheduled === null) malformed++;
      // Microseconds; a frame can only be early through clock noise, which counts as 1 µs.
      else histogram.recordValue(Math.max(1, Math.round((nowMs() - scheduled) * 1000)));
      return;
    }
    this.chatter(data, start, end);
  }

  /** A short text frame: the protocol's own traffic (subscribing, heartbeats). */
  private chatter(data: Buffer, start: number, end: number): void {
    const n = end - start;
    if (this.system === "plauder") {
      if (n === 4 && data.toString("latin1", start, end) === "PING") this.send("PONG");
      else if (!this.subscribed && data.subarray(start, end).includes('"started"')) this.ready();
      else if (this.subscribed) unexpected++;
    } else if (this.system === "socketio") {
      // Engine.IO: "0{...}" open, "2" ping; Socket.IO: "40{...}" connected.
      const kind = data[start];
      if (kind === 0x32 && n === 1) this.send("3");
      else if (kind === 0x30) this.send("40");
      else if (kind === 0x34 && data[start + 1] === 0x30) this.ready();
      else if (this.subscribed) unexpected++;
    } else if (this.subscribed) unexpected++;
  }
}

/** Opens one connection and resolves once it is subscribed (or rejects on refusal). */
function open(system: System, url: string, token: string, timed: boolean): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const connection: Connection = new Connection(system, timed, new URL(url), token, (error) =>
      error ? reject(error) : resolve(connection),
    );
  });
}

async function connect(command: Extract<ClientCommand, { type: "connect" }>): Promise<void> {
  const started = performance.now();
  let failed = 0;
  let next = 0;
  // A bounded number of handshakes in flight, as a crowd of real clients would arrive.
  const worker = async () => {
    while (next < command.count) {
      const n = command.firstIndex + next++;
      const servers = command.urls.length;
      const url = command.urls[n % servers] as string;
      const user = Math.floor(n / command.perUser) % Math.max(1, command.tokens.length);
      // Every timedEvery-th connection of each server is timed.
      const timed = Math.floor(n / servers) % timedEvery === 0;
      try {
        connections.push(await open(command.system, url, command.tokens[user] ?? "", timed));
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
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  let reading = 0;
  for (const connection of connections) {
    if (!connection.open || !connection.reading) continue;
    reading++;
    min = Math.min(min, connection.count);
    max = Math.max(max, connection.count);
  }
  return {
    type: "report",
    connections: connections.filter((c) => c.open).length,
    received,
    minPerClient: reading ? min : 0,
    maxPerClient: max,
    readingClients: reading,
    timed: histogram.totalCount,
    malformed,
    unexpected,
    p50: histogram.getValueAtPercentile(50) / 1000,
    p99: histogram.getValueAtPercentile(99) / 1000,
    max: histogram.maxValue / 1000,
    cpu: (cpu.user + cpu.system) / 1000 / Math.max(1, elapsedMs),
    cpuMicros: cpu.user + cpu.system,
  };
}

process.on("message", (command: ClientCommand) => {
  switch (command.type) {
    case "connect":
      void connect(command);
      return;
    case "disconnect": {
      const removed = connections.splice(command.keep);
      for (const connection of removed) connection.socket.destroy();
      process.send?.({ type: "disconnected", remaining: connections.length });
      return;
    }
    case "reset":
      histogram.reset();
      received = 0;
      malformed = 0;
      unexpected = 0;
      for (const connection of connections) connection.count = 0;
      cpuMark = process.cpuUsage();
      timeMark = performance.now();
      process.send?.({ type: "reset" });
      return;
    case "report":
      process.send?.(report());
      return;
    case "slow": {
      // Stop reading on a share of the sockets: their server-side send buffers can only grow.
      const count = Math.max(1, Math.round(connections.length * command.fraction));
      for (const connection of connections.slice(0, count)) {
        connection.reading = false;
        connection.socket.pause();
      }
      process.send?.({ type: "slowed", count });
      return;
    }
  }
});
process.send?.({ type: "ready" });
process.on("SIGTERM", () => process.exit(0));

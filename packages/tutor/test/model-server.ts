import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import { testModelFile } from "../src/testing";

/** What the server does with one request for the file. */
export type ServeBehaviour =
  /** The bytes asked for (all, or from the Range's start), at once. */
  | { kind: "serve" }
  /** Announces the whole length, sends `afterBytes` bytes, then drops the connection. */
  | { kind: "cut"; afterBytes: number }
  /** `chunkBytes` every `everyMs` ms until the end or until the client leaves. */
  | { kind: "slow"; chunkBytes: number; everyMs: number }
  /** 404. */
  | { kind: "missing" };

export interface ServedRequest {
  path: string;
  range: string | undefined;
  status: number;
  bytesSent: number;
  /** The client closed the connection before the response ended. */
  closedByClient: boolean;
}

export interface ModelServer {
  /** The file's URL: `http://127.0.0.1:<port>/models/<name>`. */
  url: string;
  bytes: Buffer;
  requests: ServedRequest[];
  /** The next requests behave like this, in order; then `serve` (or `options.behaviour`). */
  plan(...behaviours: ServeBehaviour[]): void;
  close(): Promise<void>;
}

/**
 * A local HTTP server for one model file, on 127.0.0.1 at a free port: answers GET with the file,
 * honours `Range: bytes=N-` with 206 (unless `ranges: false`), and 404 for other paths.
 */
export async function startModelServer(
  file: string,
  options: { ranges?: boolean; behaviour?: ServeBehaviour } = {},
): Promise<ModelServer> {
  const bytes = readFileSync(file);
  const path = `/models/${basename(file)}`;
  const planned: ServeBehaviour[] = [];
  const requests: ServedRequest[] = [];
  const ranges = options.ranges ?? true;

  const server = createServer((req, res) => {
    const record: ServedRequest = {
      path: req.url ?? "",
      range: req.headers.range,
      status: 0,
      bytesSent: 0,
      closedByClient: false,
    };
    requests.push(record);
    const behaviour = planned.shift() ?? options.behaviour ?? { kind: "serve" };
    if (req.url !== path || behaviour.kind === "missing") {
      record.status = 404;
      res.writeHead(404, { "content-type": "text/plain" }).end("Entry not found");
      return;
    }
    let start = 0;
    const match = ranges ? /^bytes=(\d+)-$/.exec(req.headers.range ?? "") : null;
    if (match) {
      start = Number(match[1]);
      if (start >= bytes.length) {
        record.status = 416;
        res.writeHead(416, { "content-range": `bytes */${bytes.length}` }).end();
        return;
      }
      record.status = 206;
      res.writeHead(206, {
        "content-length": String(bytes.length - start),
        "content-range": `bytes ${start}-${bytes.length - 1}/${bytes.length}`,
        "accept-ranges": "bytes",
        "content-type": "application/octet-stream",
      });
    } else {
      record.status = 200;
      res.writeHead(200, {
        "content-length": String(bytes.length),
        ...(ranges ? { "accept-ranges": "bytes" } : {}),
        "content-type": "application/octet-stream",
      });
    }
    res.on("close", () => {
      if (!res.writableFinished) record.closedByClient = true;
    });
    send(res, bytes.subarray(start), behaviour, record);
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    bytes,
    requests,
    plan: (...behaviours) => planned.push(...behaviours),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(res: ServerResponse, body: Buffer, behaviour: ServeBehaviour, record: ServedRequest): void {
  switch (behaviour.kind) {
    case "cut": {
      const piece = body.subarray(0, behaviour.afterBytes);
      record.bytesSent = piece.length;
      res.write(piece, () => res.socket?.destroy());
      return;
    }
    case "slow": {
      let offset = 0;
      const tick = () => {
        if (res.destroyed) return;
        const piece = body.subarray(offset, offset + behaviour.chunkBytes);
        offset += piece.length;
        record.bytesSent = offset;
        if (offset >= body.length) res.end(piece);
        else res.write(piece, () => setTimeout(tick, behaviour.everyMs));
      };
      tick();
      return;
    }
    default:
      record.bytesSent = body.length;
      res.end(body);
  }
}

/** The test model served for a file of tests, and a folder of its own for each test to download into. */
export interface ServedTestModel {
  /** The model file (`testModelFile()`), its bytes and their SHA-256. */
  file: string;
  bytes: Buffer;
  sha256: string;
  /** Started before the file's tests, closed after them; its `requests` are emptied before each test. */
  readonly server: ModelServer;
  /** A new temporary folder for each test, removed after it. */
  readonly dir: string;
  /** Where a test downloads the model to: `<dir>/models/tiny.gguf`. */
  target(): string;
}

/** Registers the hooks that serve the test model for the calling test file (see `ServedTestModel`). */
export function serveTestModel(): ServedTestModel {
  const file = testModelFile() as string;
  const bytes = readFileSync(file);
  let server: ModelServer | undefined;
  let dir: string | undefined;

  beforeAll(async () => {
    server = await startModelServer(file);
  });
  afterAll(async () => {
    await server?.close();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "plauder-model-"));
    if (server) server.requests.length = 0;
  });
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`The test model's ${what} is there only inside a test.`);
    return value;
  };
  return {
    file,
    bytes,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    get server() {
      return started(server, "server");
    },
    get dir() {
      return started(dir, "folder");
    },
    target: () => join(started(dir, "folder"), "models", "tiny.gguf"),
  };
}

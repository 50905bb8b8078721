import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createTRPCClient, createWSClient, type TRPCClient, wsLink } from "@trpc/client";
import type { AnyRouter } from "@trpc/server";
import WebSocket, { WebSocketServer } from "ws";
import type { SocketProtocol } from "../../src/server/socket-protocol";

/** A WebSocket server on a port of its own, and what a test needs to reach and end it. */
export type Listening = {
  wss: WebSocketServer;
  /** The sockets open now. */
  sockets: Set<WebSocket>;
  url: string;
  /** Ends every socket and stops listening. */
  close(): void;
};

/** Listens on a free port and hands every upgraded socket to `onUpgrade`. */
export async function listen(
  onUpgrade: (wss: WebSocketServer, req: IncomingMessage, ws: WebSocket) => void,
): Promise<Listening> {
  const wss = new WebSocketServer({ noServer: true });
  const sockets = new Set<WebSocket>();
  const server: Server = createServer((_req, res) => res.end());
  server.on("upgrade", (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.once("close", () => sockets.delete(ws));
      onUpgrade(wss, req, ws);
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const close = () => {
    for (const socket of sockets) socket.terminate();
    server.close();
  };
  return { wss, sockets, url, close };
}

/** `protocol` on a port of its own, as the app's server hands it sockets (`?connectionParams=1` included). */
export function serveProtocol(protocol: SocketProtocol): Promise<Listening> {
  return listen((_wss, req, ws) =>
    protocol.accept(ws, new URL(req.url ?? "/", "http://x").searchParams.get("connectionParams") === "1"),
  );
}

/**
 * tRPC's own wsLink client of `Router` at `url`, with `token` in its connectionParams if given. It
 * does not reconnect within a test; `options` adds what a test wants of createWSClient.
 */
export function wsLinkClient<Router extends AnyRouter>(
  url: string,
  token?: string,
  options: Partial<Parameters<typeof createWSClient>[0]> = {},
): { client: TRPCClient<Router>; close(): void } {
  const wsClient = createWSClient({
    url,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    connectionParams: token === undefined ? undefined : { token },
    retryDelayMs: () => 60_000,
    ...options,
  });
  // The routers of these tests have no transformer; a generic Router cannot say so itself.
  const client = createTRPCClient<Router>({ links: [wsLink<AnyRouter>({ client: wsClient })] });
  return { client, close: () => wsClient.close() };
}

/** Resolves once `condition` holds; rejects after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("Timed out waiting for a condition");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * A raw client socket that keeps what it receives: every frame's text (heartbeats included) and,
 * heartbeats aside, each frame as `read` makes it (its text as it is, or parsed). It answers PING
 * as wsLink does; its termination goes into `closers`, for the test's cleanup.
 */
export async function rawSocket<Frame>(url: string, read: (text: string) => Frame, closers: Array<() => void>) {
  const socket = new WebSocket(url);
  const frames: Frame[] = [];
  const texts: string[] = [];
  socket.on("message", (data) => {
    const text = data.toString();
    texts.push(text);
    if (text === "PING") socket.send("PONG");
    else if (text !== "PONG") frames.push(read(text));
  });
  const closed = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)));
  await new Promise((resolve) => socket.once("open", resolve));
  closers.push(() => socket.terminate());
  /** Resolves once `count` frames (heartbeats aside) have arrived. */
  const received = async (count: number) => {
    await until(() => frames.length >= count);
    return frames.slice(0, count);
  };
  return { socket, frames, texts, closed, received };
}

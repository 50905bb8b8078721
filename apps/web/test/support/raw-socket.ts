import WebSocket from "ws";

/** Outcome of a raw WebSocket handshake: the open socket, or the HTTP status of the refusal. */
export type Handshake = { socket?: WebSocket; status?: number; body?: string };

/** Opens a WebSocket without any tRPC client, to speak (or misbehave) on the wire directly. */
export function rawSocket(
  baseUrl: string,
  options: { origin?: string; connectionParams?: boolean; cookie?: string; localAddress?: string } = {},
): Promise<Handshake> {
  const headers: Record<string, string> = {};
  if (options.origin) headers.origin = options.origin;
  if (options.cookie) headers.cookie = options.cookie;
  const query = options.connectionParams ? "?connectionParams=1" : "";
  return handshake(`${socketUrl(baseUrl)}${query}`, headers, options.localAddress);
}

/** The WebSocket endpoint of an instance at `baseUrl`. */
export const socketUrl = (baseUrl: string) => `${baseUrl.replace(/^http/, "ws")}/api/trpc-ws`;

/**
 * A handshake with exactly the URL and headers given (a query, a cookie, an Origin), as a browser
 * or a script would make it. Another loopback address (127.0.0.0/8) as `localAddress` plays
 * another client's address.
 */
export function handshake(url: string, headers: Record<string, string>, localAddress?: string): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, { headers, localAddress });
    socket.once("open", () => resolve({ socket }));
    socket.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    socket.once("error", () => undefined);
  });
}

/** Resolves with the close code once the socket closes. */
export function closed(socket: WebSocket): Promise<number> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve(-1);
  return new Promise((resolve) => socket.once("close", (code) => resolve(code)));
}

/** Resolves with the next JSON message that matches. */
export function nextMessage(socket: WebSocket, match: (message: Record<string, unknown>) => boolean = () => true) {
  return new Promise<Record<string, unknown>>((resolve) => {
    const onMessage = (data: WebSocket.RawData) => {
      const text = data.toString();
      if (text === "PING" || text === "PONG") return;
      const message = JSON.parse(text) as Record<string, unknown>;
      if (!match(message)) return;
      socket.off("message", onMessage);
      resolve(message);
    };
    socket.on("message", onMessage);
  });
}

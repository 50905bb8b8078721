import WebSocket from "ws";
import { rawSocket } from "../../support/raw-socket";

/**
 * A well-behaved client on the bare wire: it authenticates with connectionParams and answers the
 * server's heartbeat, and nothing else. Cheap enough to open by the thousand.
 */
export async function authenticatedSocket(baseUrl: string, token: string): Promise<WebSocket> {
  const { socket, status } = await rawSocket(baseUrl, { connectionParams: true });
  if (!socket) throw new Error(`handshake refused with HTTP ${status}`);
  answerHeartbeat(socket);
  socket.send(JSON.stringify({ method: "connectionParams", data: { token } }));
  return socket;
}

/** Replies PONG to the server's PING, as wsLink does; without it the server drops the socket. */
export function answerHeartbeat(socket: WebSocket): void {
  socket.on("message", (data) => {
    if (data.toString() === "PING") socket.send("PONG");
  });
}

/** Starts a broadcast subscription with the given tRPC id; resolves when the server confirms it. */
export function subscribeBroadcasts(socket: WebSocket, id: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (data: WebSocket.RawData) => {
      const text = data.toString();
      if (text === "PING" || text === "PONG") return;
      const message = JSON.parse(text) as { id?: number; result?: { type?: string }; error?: { message: string } };
      if (message.id !== id) return;
      socket.off("message", onMessage);
      if (message.error) reject(new Error(message.error.message));
      else resolve();
    };
    socket.on("message", onMessage);
    socket.send(JSON.stringify({ id, method: "subscription", params: { path: "realtime.broadcast", input: {} } }));
  });
}

/** Closes a socket and waits until it is closed. */
export function closeSocket(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    socket.once("close", () => resolve());
    socket.close();
  });
}

/**
 * Stops reading from the TCP socket: everything the server sends this client piles up first in the
 * kernel's buffers and then in the server's. `_socket` is ws's net.Socket; there is no public way
 * to pause a client's reads.
 */
export function stopReading(socket: WebSocket): void {
  (socket as unknown as { _socket: { pause(): void } })._socket.pause();
}

import WebSocket from "ws";
import { nextMessage, socketUrl } from "../../support/raw-socket";
import { answerHeartbeat } from "./raw-client";
import type { BrowserSession } from "./session-cookie";

/** How a socket closed: the code, the reason, and when (epoch ms), to measure how soon after a logout. */
export type Close = { code: number; reason: string; at: number };

/** A socket and its close, watched from the moment it was handed over. */
export type Watched = { socket: WebSocket; closedWith: Promise<Close> };

/** Sockets a test file opens on the bare wire and watches for their close; terminated together at its end. */
export class WatchedSockets {
  private readonly sockets: WebSocket[] = [];

  watch(socket: WebSocket): Watched {
    this.sockets.push(socket);
    const closedWith = new Promise<Close>((resolve) =>
      socket.once("close", (code, reason) => resolve({ code, reason: reason.toString(), at: Date.now() })),
    );
    return { socket, closedWith };
  }

  /** A socket opened with a browser's cookie (no Origin: not a browser page) that answers the heartbeat. */
  async withCookie(baseUrl: string, session: BrowserSession): Promise<Watched> {
    const socket = new WebSocket(socketUrl(baseUrl), { headers: { cookie: session.cookie } });
    answerHeartbeat(socket);
    const watched = this.watch(socket);
    await new Promise((resolve, reject) => {
      socket.once("open", resolve);
      socket.once("error", reject);
    });
    return watched;
  }

  terminateAll(): void {
    for (const socket of this.sockets.splice(0)) socket.terminate();
  }
}

/** Asks auth.me on the socket; resolves with the user id, or the error code. */
export async function whoIs(socket: WebSocket): Promise<string> {
  const id = Math.floor(Math.random() * 1e9);
  const answer = nextMessage(socket, (m) => m.id === id);
  socket.send(JSON.stringify({ id, method: "query", params: { path: "auth.me" } }));
  const message = (await answer) as { result?: { data: { id: string } }; error?: { data: { code: string } } };
  return message.result?.data.id ?? message.error?.data.code ?? "no answer";
}

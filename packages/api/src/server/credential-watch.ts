import { revokedAmong } from "@plauder/auth";
import type { Logger } from "@plauder/runtime";
import type { WebSocket } from "ws";
import { onSessionEnded } from "../sessions/end-session";
import { closeCodes } from "./close-codes";

export type CredentialWatchOptions = {
  /** Every open socket (the WebSocket server's clients), for the expiry sweep. */
  sockets: () => Iterable<WebSocket>;
  /** When the credential a socket was opened with expires (epoch ms; 0: not known yet). */
  expiresAt: (socket: WebSocket) => number;
  /** Whether a socket is closing itself after answering its own logout (then the logout passes it by). */
  closesItself: (socket: WebSocket) => boolean;
  /** How often to ask the revocation record about the sessions in use (the bound when the bus lost a logout). */
  revocationSweepMs: number;
  log: Logger;
  /** For log lines: which connection a socket is. */
  describe: (socket: WebSocket) => string | undefined;
};

/**
 * Keeps every socket within the life of the credential it was opened with: a logout anywhere closes
 * the sockets of that session or token (4001 Signed out) at once through the bus, or at the next
 * sweep of the revocation record if the announcement was lost; an expired credential closes its
 * sockets (4001 Session expired) within a second.
 *
 * One sweep per interval for all sockets rather than a timer per socket: each timer with its own
 * duration costs a Timeout object and a timer list per connection.
 */
export class CredentialWatch {
  /** Sockets by the session or token they were opened with, so a logout closes exactly those. */
  private readonly bySession = new Map<string, Set<WebSocket>>();
  private readonly stopHearingEnds: () => void;
  private readonly revocationSweep: NodeJS.Timeout;
  private readonly expirySweep: NodeJS.Timeout;

  constructor(private readonly options: CredentialWatchOptions) {
    this.stopHearingEnds = onSessionEnded((sessionId) => this.closeSession(sessionId));
    this.revocationSweep = setInterval(() => this.sweepRevoked(), options.revocationSweepMs);
    this.revocationSweep.unref();
    this.expirySweep = setInterval(() => this.sweepExpired(), 1_000);
    this.expirySweep.unref();
  }

  track(socket: WebSocket, sessionId: string): void {
    let sockets = this.bySession.get(sessionId);
    if (!sockets) {
      sockets = new Set();
      this.bySession.set(sessionId, sockets);
    }
    sockets.add(socket);
  }

  untrack(socket: WebSocket, sessionId: string): void {
    const sockets = this.bySession.get(sessionId);
    if (!sockets) return;
    sockets.delete(socket);
    if (sockets.size === 0) this.bySession.delete(sessionId);
  }

  stop(): void {
    clearInterval(this.revocationSweep);
    clearInterval(this.expirySweep);
    this.stopHearingEnds();
  }

  private closeSession(sessionId: string): void {
    for (const socket of this.bySession.get(sessionId) ?? []) {
      if (socket.readyState !== socket.OPEN || this.options.closesItself(socket)) continue;
      this.options.log.info({ session: sessionId.slice(0, 8) }, "closing a connection whose session was ended");
      socket.close(closeCodes.signedOut.code, closeCodes.signedOut.reason);
    }
  }

  private sweepRevoked(): void {
    if (this.bySession.size === 0) return;
    revokedAmong([...this.bySession.keys()])
      .then((ended) => {
        for (const sessionId of ended) this.closeSession(sessionId);
      })
      .catch((error: Error) => this.options.log.warn({ err: error.message }, "revoked-session sweep failed"));
  }

  private sweepExpired(): void {
    const now = Date.now();
    for (const socket of this.options.sockets()) {
      const expiresAt = this.options.expiresAt(socket);
      if (expiresAt === 0 || expiresAt > now || socket.readyState !== socket.OPEN) continue;
      this.options.log.info({ conn: this.options.describe(socket) }, "closing a connection whose credentials expired");
      socket.close(closeCodes.sessionExpired.code, closeCodes.sessionExpired.reason);
    }
  }
}

import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type Credential, readAccessToken, sessionFromCookie } from "@plauder/auth";
import { clientAddressOf, type Logger } from "@plauder/runtime";
import type { WebSocket } from "ws";
import { metrics } from "../metrics";
import { AddressConnections } from "./address-connections";
import { closeCodes } from "./close-codes";
import { isOriginAllowed } from "./origin";
import { UserConnections } from "./user-connections";

export type AdmissionOptions = {
  /** Origins whose pages may open a socket. */
  allowedOrigins: readonly string[];
  /** Open connections this instance accepts; the next upgrade gets HTTP 503. */
  maxConnections: number;
  /** Open connections one user may hold on this instance. */
  maxConnectionsPerUser: number;
  /** Open connections one client address may hold on this instance; the next upgrade gets HTTP 429. */
  maxConnectionsPerAddress: number;
  /** Connections from one address that have not authenticated yet; the next upgrade gets HTTP 429. */
  maxUnauthenticatedPerAddress: number;
  /** How many sockets are open now (the WebSocket server's clients). */
  openConnections: () => number;
  log: Logger;
};

/**
 * What admission keeps of one connection. The server's own per-socket record carries these fields,
 * so a connection costs one record, not one here and one there.
 */
export type Admitted = {
  readonly connectionId: string;
  readonly clientAddress: string;
  /** The browser's session, read from the cookie at the upgrade. */
  cookie: Credential | null;
  /** Whether it has left its address's count of unauthenticated connections. */
  authenticated: boolean;
};

/** What the context of an admitted connection is made with, or why its user was refused. */
export type Authentication = { admitted: true; credential: Credential | null } | { admitted: false };

const refusedForUser: Authentication = { admitted: false };

/** Answers an upgrade that is not admitted with a plain HTTP response, before a socket exists. */
function refuse(socket: Duplex, status: number, reason: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(reason)}\r\n\r\n${reason}`,
  );
}

/**
 * Decides whether a connection may exist, and holds the places it takes: origin, the instance's,
 * each address's and each user's connection ceilings, and who the connection is (session cookie at
 * the upgrade, token in connectionParams later). Most of it is settled before the upgrade, so a
 * refused client costs one HTTP response; token users are settled when their first message arrives.
 */
export class Admission {
  private readonly perUser: UserConnections;
  private readonly perAddress: AddressConnections;
  private accepting = true;
  // Upgrades past the limit check but still reading their cookie: counted against the limit, or a
  // storm of simultaneous upgrades would all pass the check before any of them became a client.
  private upgrading = 0;

  constructor(private readonly options: AdmissionOptions) {
    this.perUser = new UserConnections(options.maxConnectionsPerUser);
    this.perAddress = new AddressConnections(options.maxConnectionsPerAddress, options.maxUnauthenticatedPerAddress);
  }

  /**
   * Settles an upgrade. Refused, it is answered here; admitted, `open` completes the handshake with
   * the connection's record (made by `create`) and says whether a socket came of it. Places taken
   * for an upgrade that opened no socket are given back.
   */
  async admitUpgrade<T extends Admitted>(
    req: IncomingMessage,
    socket: Duplex,
    create: (clientAddress: string) => T,
    open: (admitted: T) => boolean,
  ): Promise<void> {
    const { log } = this.options;
    if (!this.accepting) return refuse(socket, 503, "Server is shutting down");
    if (!isOriginAllowed(req.headers.origin, this.options.allowedOrigins)) {
      log.info({ origin: req.headers.origin }, "refused upgrade from a foreign origin");
      metrics().refusedUpgrades.inc({ reason: "origin" });
      return refuse(socket, 403, "Origin not allowed");
    }
    if (this.options.openConnections() + this.upgrading >= this.options.maxConnections) {
      metrics().refusedUpgrades.inc({ reason: "capacity" });
      return refuse(socket, 503, "Too many connections");
    }
    const clientAddress = clientAddressOf(req);
    // The address's place is taken before the cookie is read, so a storm of upgrades from one
    // address cannot all pass the check first; it is given back below unless a socket opens.
    const addressRefusal = this.perAddress.tryOpen(clientAddress);
    if (addressRefusal) {
      log.info(
        { address: clientAddress, limit: addressRefusal },
        "refused upgrade: too many connections from this address",
      );
      metrics().refusedUpgrades.inc({
        reason: addressRefusal === "address" ? "address_limit" : "unauthenticated_limit",
      });
      return refuse(
        socket,
        429,
        addressRefusal === "address"
          ? "Too many connections from this address"
          : "Too many connections from this address that have not signed in",
      );
    }
    this.upgrading++;
    let opened = false;
    const admitted = create(clientAddress);
    try {
      const cookie = await sessionFromCookie(req.headers.cookie);
      admitted.cookie = cookie;
      if (cookie && !this.perUser.tryAdd(cookie.user.id, admitted.connectionId)) {
        log.info({ user: cookie.user.id }, "refused upgrade: too many connections for this user");
        metrics().refusedUpgrades.inc({ reason: "user_limit" });
        return refuse(socket, 429, closeCodes.tooManyForUser.reason);
      }
      if (cookie) this.markAuthenticated(admitted);
      // ws completes the handshake synchronously (no verifyClient), so the new client is among the
      // open connections before `upgrading` drops.
      opened = open(admitted);
    } finally {
      this.upgrading--;
      // No socket came of it (refused, failed, or the client hung up while its cookie was being
      // read): nothing will ever close it, so nothing else gives its places back.
      if (!opened) {
        this.perUser.remove(admitted.connectionId);
        this.perAddress.release(clientAddress, admitted.authenticated);
      }
    }
  }

  /**
   * Who an open connection is, once, when its context is made: a token in connectionParams (typed
   * clients) wins over the cookie (browsers). A token's user takes a place in that user's count here;
   * past the ceiling the connection is refused.
   */
  async authenticate(admitted: Admitted, socket: WebSocket, token: string | undefined): Promise<Authentication> {
    const credential = token !== undefined ? await readAccessToken(token) : admitted.cookie;
    const user = credential?.user ?? null;
    // A socket that closed while its token was being read has already been counted off: taking a
    // place now would keep it for good.
    const open = socket.readyState === socket.OPEN;
    if (token !== undefined && user && open && !this.perUser.tryAdd(user.id, admitted.connectionId)) {
      this.options.log.info(
        { conn: admitted.connectionId, user: user.id },
        "refused: too many connections for this user",
      );
      return refusedForUser;
    }
    if (user && open) this.markAuthenticated(admitted);
    return { admitted: true, credential };
  }

  /** The connection closed: the places it held are given back. */
  release(admitted: Admitted): void {
    this.perUser.remove(admitted.connectionId);
    this.perAddress.release(admitted.clientAddress, admitted.authenticated);
  }

  /** From now on every upgrade is refused (503): the server is shutting down. */
  stop(): void {
    this.accepting = false;
  }

  /** A connection from an address authenticated: it leaves the address's count of strangers. */
  private markAuthenticated(admitted: Admitted): void {
    if (admitted.authenticated) return;
    admitted.authenticated = true;
    this.perAddress.authenticated(admitted.clientAddress);
  }
}

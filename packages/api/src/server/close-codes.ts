/**
 * WebSocket close codes this server sends (also listed in docs/realtime.md). Plain constants with no
 * imports, so clients (the browser app, the typed client and CLI) read them from here too
 * (`@plauder/api/close-codes`). 1009 (a frame over WS_MAX_PAYLOAD) is not here: ws sends it itself.
 */
export const closeCodes = {
  /** The server is shutting down; reconnect (to another instance). */
  goingAway: { code: 1001, reason: "Server shutting down" },
  /** The client did not read fast enough: its unsent data exceeded WS_MAX_BUFFERED. */
  slowConsumer: { code: 1013, reason: "Slow consumer: too much unsent data" },
  /** The session or token the connection was opened with has expired; reconnect with a fresh one. */
  sessionExpired: { code: 4001, reason: "Session expired" },
  /** The session or token the connection was opened with was ended by logout (same code: sign in again). */
  signedOut: { code: 4001, reason: "Signed out" },
  /** The first message of a `?connectionParams=1` socket was not a valid connectionParams message. */
  badConnectionParams: { code: 4400, reason: "Invalid connectionParams" },
  /** The connection's context could not be made (its credentials could not be read). */
  setupFailed: { code: 1011, reason: "Could not set up the connection" },
  /** No valid session or token within WS_AUTH_TIMEOUT_MS of opening: anonymous sockets do not hold places. */
  notAuthenticated: { code: 4401, reason: "Not authenticated" },
  /** The user already holds MAX_CONNECTIONS_PER_USER connections on this instance. */
  tooManyForUser: { code: 4029, reason: "Too many connections for this user" },
} as const;

/** Codes that mean "sign in again", not "the network hiccupped": the credential ended or never was. */
export const credentialsEndedCodes: ReadonlySet<number> = new Set([
  closeCodes.sessionExpired.code,
  closeCodes.notAuthenticated.code,
]);

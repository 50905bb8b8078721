/**
 * How many calls one request may carry, on every transport. Plain constants with no imports, so the
 * browser app's batch link reads them from here too (`@plauder/api/call-limits`).
 *
 * A batch multiplies what one request costs the server; these bounds keep the largest request close
 * to what real clients send (wsLink and httpBatchLink pack the calls a page makes in one tick).
 */
export const callLimits = {
  /** Calls in one WebSocket frame from an authenticated connection. */
  perFrame: 100,
  /**
   * Calls in one WebSocket frame before the connection has authenticated (including frames that
   * arrive while its token is being read): a stranger's socket gets little work done.
   */
  perUnauthenticatedFrame: 10,
  /**
   * Calls one unauthenticated connection may make in all; the next frame closes it (4401). With the
   * per-address cap on such connections this bounds the work a stranger's address can cause.
   */
  perUnauthenticatedConnection: 20,
  /** Calls in one HTTP batch (`?batch=1`), signed in or not; larger batches get 400. */
  perHttpBatch: 10,
} as const;

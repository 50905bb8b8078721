import { noteRevokedSession, type Revocation, revokeSession, startRevocations, stopRevocations } from "@plauder/auth";
import { getEnv, getLogger } from "@plauder/runtime";
import { z } from "zod";
import { getBus } from "../bus/index";

/** The bus channel on which instances hear that a session ended (its sockets must close). */
export function sessionEndedChannel(): string {
  return `${getEnv().REDIS_KEY_PREFIX}sessions-ended`;
}

const sessionEndedMessage = z.object({
  sessionId: z.string().min(1).max(200),
  /** Until when it stays refused (epoch ms); absent from older instances' announcements. */
  expiresAt: z.number().int().positive().optional(),
});

/**
 * Ends a session or token before its expiry (logout): revoked everywhere, so it opens nothing new,
 * and announced on the bus, so every instance refuses it and closes the sockets it opened at once.
 * The revocation is stored in the database first (queued there if the database is away); an
 * instance that misses the announcement (Redis away) reads it at its next poll of the database
 * and closes the sockets at its next sweep (see realtime-server.ts).
 */
export async function endSession(session: Revocation): Promise<void> {
  await revokeSession(session);
  await getBus()
    .publish(sessionEndedChannel(), JSON.stringify({ sessionId: session.sessionId, expiresAt: session.expiresAt }))
    .catch((error: Error) =>
      getLogger().warn({ err: error.message }, "session end not announced; other instances read it from the database"),
    );
}

/** Calls `listener` with the id of every session ended anywhere; returns the unsubscribe function. */
export function onSessionEnded(listener: (sessionId: string, expiresAt: number | undefined) => void): () => void {
  return getBus().subscribe(sessionEndedChannel(), (payload) => {
    let raw: unknown;
    try {
      raw = JSON.parse(payload);
    } catch {
      return;
    }
    const parsed = sessionEndedMessage.safeParse(raw);
    if (parsed.success) listener(parsed.data.sessionId, parsed.data.expiresAt);
  });
}

/**
 * Loads this process's revocations from the database and keeps them current: from the database's
 * poll, and from the bus for immediacy. Resolves with the stop function once lookups can be
 * answered; the server calls it before it listens.
 */
export async function startRevocationSync(): Promise<() => Promise<void>> {
  await startRevocations();
  const stopHearing = onSessionEnded((sessionId, expiresAt) => {
    // Without an expiry (an older instance) the poll brings the row within REVOCATION_POLL_MS.
    if (expiresAt !== undefined) noteRevokedSession(sessionId, expiresAt);
  });
  return async () => {
    stopHearing();
    await stopRevocations();
  };
}

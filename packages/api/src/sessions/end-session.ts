import { revokeSession } from "@plauder/auth";
import { getEnv, getLogger } from "@plauder/runtime";
import { z } from "zod";
import { getBus } from "../bus/index";

/** The bus channel on which instances hear that a session ended (its sockets must close). */
export function sessionEndedChannel(): string {
  return `${getEnv().REDIS_KEY_PREFIX}sessions-ended`;
}

const sessionEndedMessage = z.object({ sessionId: z.string().min(1).max(200) });

/**
 * Ends a session or token before its expiry (logout): revoked everywhere, so it opens nothing new,
 * and announced on the bus, so every instance closes the sockets it opened. An instance that misses
 * the announcement (Redis away) finds the revocation on its next sweep (see realtime-server.ts).
 */
export async function endSession(sessionId: string, expiresAt: number): Promise<void> {
  await revokeSession(sessionId, expiresAt);
  await getBus()
    .publish(sessionEndedChannel(), JSON.stringify({ sessionId }))
    .catch((error: Error) =>
      getLogger().warn({ err: error.message }, "session end not announced; sweeps will find it"),
    );
}

/** Calls `listener` with the id of every session ended anywhere; returns the unsubscribe function. */
export function onSessionEnded(listener: (sessionId: string) => void): () => void {
  return getBus().subscribe(sessionEndedChannel(), (payload) => {
    let raw: unknown;
    try {
      raw = JSON.parse(payload);
    } catch {
      return;
    }
    const parsed = sessionEndedMessage.safeParse(raw);
    if (parsed.success) listener(parsed.data.sessionId);
  });
}

import { getEnv, getLogger, getSharedRedis, processSingleton } from "@plauder/runtime";

/**
 * Sessions and tokens ended before their expiry (logout). Kept until they would have expired
 * anyway: in Redis when configured, so every instance refuses them; in memory otherwise. Credential
 * readers consult it, so a revoked cookie or token stops working everywhere at once.
 *
 * With Redis configured but unreachable, lookups answer "not revoked" and say so in the log: a
 * Redis outage must not sign everyone out. Revocations made during the outage are still kept in
 * this instance's memory.
 */
type Revoked = Map<string, number>;

const local = (): Revoked => processSingleton("revokedSessions", () => new Map<string, number>());
const key = (sessionId: string) => `${getEnv().REDIS_KEY_PREFIX}revoked-session:${sessionId}`;

function rememberLocally(sessionId: string, expiresAt: number): void {
  const revoked = local();
  revoked.set(sessionId, expiresAt);
  const now = Date.now();
  for (const [id, until] of revoked) if (until <= now) revoked.delete(id);
}

/** Ends a session (or token) for good; it stays refused until `expiresAt` (epoch ms). */
export async function revokeSession(sessionId: string, expiresAt: number): Promise<void> {
  const ttl = Math.ceil(expiresAt - Date.now());
  if (ttl <= 0) return;
  rememberLocally(sessionId, expiresAt);
  const redis = getSharedRedis();
  if (!redis) return;
  try {
    await redis.set(key(sessionId), "1", "PX", ttl);
  } catch (error) {
    getLogger().error({ err: (error as Error).message }, "could not share a revoked session; only this instance knows");
  }
}

/** The subset of `sessionIds` that has been revoked. */
export async function revokedAmong(sessionIds: readonly string[]): Promise<Set<string>> {
  const now = Date.now();
  const revoked = new Set(sessionIds.filter((id) => (local().get(id) ?? 0) > now));
  const redis = getSharedRedis();
  const unknown = sessionIds.filter((id) => !revoked.has(id));
  if (!redis || unknown.length === 0) return revoked;
  if (redis.status !== "ready") {
    // Not waiting for a reconnect: signing in must not stall while Redis is away.
    getLogger().warn("revoked sessions unreadable while Redis is down; accepting credentials");
    return revoked;
  }
  try {
    const answers = await redis.mget(unknown.map(key));
    answers.forEach((answer, i) => {
      if (answer !== null) revoked.add(unknown[i] as string);
    });
  } catch (error) {
    getLogger().warn({ err: (error as Error).message }, "revoked sessions unreadable; accepting credentials");
  }
  return revoked;
}

export async function isSessionRevoked(sessionId: string): Promise<boolean> {
  return (await revokedAmong([sessionId])).has(sessionId);
}

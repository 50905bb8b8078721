import { getDatabase } from "@plauder/db";
import { getEnv, processSingleton } from "@plauder/runtime";
import { type Revocation, RevocationCache } from "./revocation-cache";

export type { Revocation } from "./revocation-cache";

/**
 * The process's revocation cache (see revocation-cache.ts): one per process, shared by the server
 * and the copies of this package Next bundles into its route handlers (see processSingleton).
 */
function cache(): RevocationCache {
  return processSingleton(
    "revocations",
    () => new RevocationCache({ db: () => getDatabase().db, pollMs: getEnv().REVOCATION_POLL_MS }),
  );
}

/** Loads the revocations and starts polling for new ones; the server awaits it before listening. */
export function startRevocations(): Promise<void> {
  return cache().start();
}

/** Stops polling after one last attempt to store queued revocations (on shutdown, before the database closes). */
export function stopRevocations(): Promise<void> {
  return cache().stop();
}

/** Ends a session or token for good: refused here at once, stored for every instance (or queued until it can be). */
export async function revokeSession(revocation: Revocation): Promise<void> {
  await cache().revoke(revocation);
}

/** Records a revocation another instance announced on the bus. */
export function noteRevokedSession(sessionId: string, expiresAt: number): void {
  cache().note(sessionId, expiresAt);
}

/** The subset of `sessionIds` that has been revoked (memory only once loaded). */
export function revokedAmong(sessionIds: readonly string[]): Promise<Set<string>> {
  return cache().revokedAmong(sessionIds);
}

export function isSessionRevoked(sessionId: string): Promise<boolean> {
  return cache().isRevoked(sessionId);
}

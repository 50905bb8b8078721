import { type Database, revokedSessions } from "@plauder/db";
import { describeError, getLogger } from "@plauder/runtime";
import { and, gt, lte, sql } from "drizzle-orm";

/** A session or token ended by logout, and until when (epoch ms) it must stay refused. */
export type Revocation = { sessionId: string; userId: string; expiresAt: number };

export type RevocationCacheOptions = {
  /** The database holding the record of revocations (`revoked_sessions`). */
  db: () => Database;
  /** How often new revocations are read from the database, and queued ones written. */
  pollMs: number;
  /**
   * How far before its cursor each poll reads again (see {@link RevocationCache.poll}). Default one
   * minute: a row's `revoked_at` is its transaction's start, and a row visible later than that
   * (commit delay, a stalled connection) is still found if it became visible within this window.
   */
  overlapMs?: number;
  /** How often rows of revocations that have expired anyway are deleted. */
  purgeEveryMs?: number;
};

type Timers = { tick: NodeJS.Timeout; purge: NodeJS.Timeout };

/**
 * This process's knowledge of revoked sessions and tokens, with Postgres (or PGlite) as the record.
 *
 * - Lookups read memory only, so a connect or a call adds no round trip. The first lookup waits for
 *   the initial load; after that they never wait.
 * - A revocation is written to the database first. When the database cannot take it, it is refused
 *   here at once anyway and queued (the outbox), and retried every poll until written or expired:
 *   it is never lost while the process lives.
 * - Other instances' revocations arrive through `note` (the bus, at once) and through a poll of the
 *   database every `pollMs`, which holds even while the bus is down.
 * - Nothing lives in Redis: an evicted or lost key cannot bring a session back.
 */
export class RevocationCache {
  /** Revoked session id → until when it stays refused (epoch ms). */
  private readonly revoked = new Map<string, number>();
  /** Revocations refused here but not yet in the database. */
  private readonly outbox = new Map<string, Revocation>();
  /** The newest `revoked_at` seen (database clock); null until a row has been seen. */
  private cursor: Date | null = null;
  private loading: Promise<void> | null = null;
  private timers: Timers | null = null;
  private polling = false;
  /** A flush still waiting on an unreachable database must not be joined by the next tick's. */
  private flushing = false;
  /** Set while the database cannot be read, so an outage is logged once, not every poll. */
  private pollFailingSince: number | null = null;
  private readonly overlapMs: number;
  private readonly purgeEveryMs: number;

  constructor(private readonly options: RevocationCacheOptions) {
    this.overlapMs = options.overlapMs ?? 60_000;
    this.purgeEveryMs = options.purgeEveryMs ?? 10 * 60_000;
  }

  /** Loads every unexpired revocation and starts polling; resolves once lookups can be answered. */
  start(): Promise<void> {
    this.loading ??= this.poll({ throwOnFailure: true }).then(
      () => {
        if (!this.timers) {
          this.timers = {
            tick: setInterval(() => void this.tick(), this.options.pollMs).unref(),
            purge: setInterval(() => void this.purge(), this.purgeEveryMs).unref(),
          };
        }
      },
      (error: unknown) => {
        // The next lookup tries again instead of answering from an empty set.
        this.loading = null;
        throw error;
      },
    );
    return this.loading;
  }

  /** Stops the timers, after one last attempt to write what is still queued. */
  async stop(): Promise<void> {
    if (this.timers) {
      clearInterval(this.timers.tick);
      clearInterval(this.timers.purge);
      this.timers = null;
    }
    await this.flushOutbox();
    if (this.outbox.size > 0) {
      getLogger().error({ queued: this.outbox.size }, "stopping with revocations the database never took");
    }
  }

  /**
   * Revokes a session everywhere: refused here at once, written to the database (queued and retried
   * when that fails). Resolves with where it went; it never rejects, since a logout must succeed.
   */
  async revoke(revocation: Revocation): Promise<"stored" | "queued" | "expired"> {
    if (revocation.expiresAt <= Date.now()) return "expired";
    this.note(revocation.sessionId, revocation.expiresAt);
    try {
      await this.write(revocation);
      return "stored";
    } catch (error) {
      this.outbox.set(revocation.sessionId, revocation);
      getLogger().error(
        { err: describeError(error), session: revocation.sessionId.slice(0, 8), queued: this.outbox.size },
        "revocation not stored: refused on this instance now, written to the database once it answers",
      );
      return "queued";
    }
  }

  /** Records a revocation made elsewhere (heard on the bus); memory only, the database has it already. */
  note(sessionId: string, expiresAt: number): void {
    if (expiresAt <= Date.now()) return;
    const known = this.revoked.get(sessionId) ?? 0;
    if (expiresAt > known) this.revoked.set(sessionId, expiresAt);
  }

  /** The subset of `sessionIds` that is revoked. */
  async revokedAmong(sessionIds: readonly string[]): Promise<Set<string>> {
    await this.start();
    const now = Date.now();
    return new Set(sessionIds.filter((id) => (this.revoked.get(id) ?? 0) > now));
  }

  async isRevoked(sessionId: string): Promise<boolean> {
    await this.start();
    return (this.revoked.get(sessionId) ?? 0) > Date.now();
  }

  /** Revocations still waiting to be written to the database. */
  queued(): number {
    return this.outbox.size;
  }

  /** Revocations this process refuses right now. */
  size(): number {
    return this.revoked.size;
  }

  /** One timer tick: write what is queued, then read what is new. */
  async tick(): Promise<void> {
    await this.flushOutbox();
    await this.poll({ throwOnFailure: false });
  }

  /**
   * Reads revocations written since the last poll.
   *
   * Why a cursor with an overlap rather than "newer than the last poll": `revoked_at` is set when
   * the writing transaction starts, but the row becomes visible only at its commit, so a row may
   * appear with a `revoked_at` older than rows an earlier poll already saw. Each poll therefore
   * reads from `overlapMs` before the newest `revoked_at` seen; rows read twice are merged by id
   * (a map), so the overlap costs a few repeated rows, never a duplicate. Both ends of the
   * comparison are the database's clock, so the instances' clocks do not matter.
   */
  async poll({ throwOnFailure }: { throwOnFailure: boolean }): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const since = this.cursor ? new Date(this.cursor.getTime() - this.overlapMs) : null;
      const rows = await this.options
        .db()
        .select({
          sessionId: revokedSessions.sessionId,
          expiresAt: revokedSessions.expiresAt,
          revokedAt: revokedSessions.revokedAt,
        })
        .from(revokedSessions)
        .where(
          since
            ? and(gt(revokedSessions.expiresAt, sql`now()`), gt(revokedSessions.revokedAt, since))
            : gt(revokedSessions.expiresAt, sql`now()`),
        );
      for (const row of rows) {
        this.note(row.sessionId, row.expiresAt.getTime());
        if (!this.cursor || row.revokedAt > this.cursor) this.cursor = row.revokedAt;
      }
      this.forgetExpired();
      if (this.pollFailingSince !== null) {
        getLogger().info({ afterMs: Date.now() - this.pollFailingSince }, "revocations readable again");
        this.pollFailingSince = null;
      }
    } catch (error) {
      if (throwOnFailure) throw error;
      if (this.pollFailingSince === null) {
        this.pollFailingSince = Date.now();
        getLogger().error(
          { err: describeError(error) },
          "revocations unreadable: logouts on other instances reach this one only through the bus until the database answers",
        );
      }
    } finally {
      this.polling = false;
    }
  }

  /** Deletes the rows of revocations whose credentials have expired anyway. */
  async purge(): Promise<void> {
    try {
      await this.options.db().delete(revokedSessions).where(lte(revokedSessions.expiresAt, sql`now()`));
    } catch (error) {
      getLogger().warn({ err: describeError(error) }, "expired revocations not purged; next time");
    }
  }

  /** Writes queued revocations; what fails stays queued, what has expired meanwhile is dropped. */
  async flushOutbox(): Promise<void> {
    if (this.flushing || this.outbox.size === 0) return;
    this.flushing = true;
    try {
      await this.flushQueued();
    } finally {
      this.flushing = false;
    }
  }

  private async flushQueued(): Promise<void> {
    const now = Date.now();
    for (const [sessionId, revocation] of this.outbox) {
      if (revocation.expiresAt <= now) {
        this.outbox.delete(sessionId);
        continue;
      }
      try {
        await this.write(revocation);
        this.outbox.delete(sessionId);
        getLogger().info({ session: sessionId.slice(0, 8), queued: this.outbox.size }, "queued revocation stored");
      } catch {
        // Still unreachable: the rest would fail the same way. Logged when it was queued.
        return;
      }
    }
  }

  /**
   * One row per session. `revoked_at` is left to the database's clock at this write (not the
   * logout's time), so a row written late from the outbox is still newer than every poll's cursor.
   * Revoked twice: the later expiry wins.
   */
  private async write(revocation: Revocation): Promise<void> {
    await this.options
      .db()
      .insert(revokedSessions)
      .values({
        sessionId: revocation.sessionId,
        userId: revocation.userId,
        expiresAt: new Date(revocation.expiresAt),
      })
      .onConflictDoUpdate({
        target: revokedSessions.sessionId,
        set: { expiresAt: sql`greatest(${revokedSessions.expiresAt}, excluded.expires_at)` },
      });
  }

  private forgetExpired(): void {
    const now = Date.now();
    for (const [id, until] of this.revoked) if (until <= now) this.revoked.delete(id);
  }
}

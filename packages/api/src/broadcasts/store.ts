import { broadcasts, type Database, getDatabase, type StoredBroadcast } from "@plauder/db";
import { asc, desc, gt, lt, or, sql } from "drizzle-orm";
import type { Broadcast } from "./types";

// Any constant works; it only has to be the same on every instance.
const publishLockId = 7_120_000_002;

function toBroadcast(row: StoredBroadcast): Broadcast {
  return {
    id: String(row.id),
    text: row.text,
    sender: { id: row.senderId, name: row.senderName },
    sentAt: row.sentAt.getTime(),
    instanceId: row.instanceId,
  };
}

/**
 * The durable log of broadcasts, the source of truth for order and for resume.
 *
 * Ids come from one identity column. Inserts take a transaction-scoped advisory lock, so each id is
 * committed before the next is handed out: whoever reads "every id after N" can never later find a
 * smaller id appearing. That invariant is what lets instances fill gaps from the store without waiting.
 */
export class BroadcastStore {
  constructor(private readonly db: () => Database = () => getDatabase().db) {}

  async append(input: { senderId: string; senderName: string; text: string; instanceId: string }): Promise<Broadcast> {
    return this.db().transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${publishLockId})`);
      const [row] = await tx.insert(broadcasts).values(input).returning();
      if (!row) throw new Error("insert returned no row");
      return toBroadcast(row);
    });
  }

  /** Broadcasts with ids after `afterId` (and below `beforeId` if given), oldest first, at most `limit`. */
  async after(afterId: number, limit: number, beforeId?: number): Promise<Broadcast[]> {
    const rows = await this.db()
      .select()
      .from(broadcasts)
      .where(
        beforeId === undefined
          ? gt(broadcasts.id, afterId)
          : sql`${broadcasts.id} > ${afterId} and ${broadcasts.id} < ${beforeId}`,
      )
      .orderBy(asc(broadcasts.id))
      .limit(limit);
    return rows.map(toBroadcast);
  }

  /** The newest broadcasts below `beforeId` (or the newest of all), newest first, at most `limit`. */
  async before(limit: number, beforeId?: number): Promise<Broadcast[]> {
    const rows = await this.db()
      .select()
      .from(broadcasts)
      .where(beforeId === undefined ? undefined : lt(broadcasts.id, beforeId))
      .orderBy(desc(broadcasts.id))
      .limit(limit);
    return rows.map(toBroadcast);
  }

  /** The newest id, or 0 when there are none. */
  async latestId(): Promise<number> {
    const [row] = await this.db().select({ id: broadcasts.id }).from(broadcasts).orderBy(desc(broadcasts.id)).limit(1);
    return row?.id ?? 0;
  }

  /** Deletes what falls outside retention: beyond the newest `keep`, or older than `maxAgeMs`. */
  async prune(keep: number, maxAgeMs: number): Promise<void> {
    const cutoff = new Date(Date.now() - maxAgeMs);
    const [boundary] = await this.db()
      .select({ id: broadcasts.id })
      .from(broadcasts)
      .orderBy(desc(broadcasts.id))
      .offset(keep)
      .limit(1);
    await this.db()
      .delete(broadcasts)
      .where(
        boundary
          ? or(lt(broadcasts.sentAt, cutoff), sql`${broadcasts.id} <= ${boundary.id}`)
          : lt(broadcasts.sentAt, cutoff),
      );
  }
}

import { channelHeads, channelMessages, type Database, getDatabase, type StoredChannelMessage } from "@plauder/db";
import { and, asc, desc, eq, gt, lt, type SQL, sql } from "drizzle-orm";
import { type ChannelPublication, type PublicationBody, publicationId } from "./types";

export type DurableEntry = { channel: string; senderId: string; senderName: string; text: string; instanceId: string };

/** What one committed batch wrote to one channel: a run of consecutive offsets. */
export type CommittedRun = { channel: string; epoch: string; first: number; bodies: PublicationBody[] };

type Pending = {
  entry: DurableEntry;
  resolve: (publication: ChannelPublication) => void;
  reject: (error: unknown) => void;
};

export type DurableLogOptions = {
  /** Most publications one transaction carries. */
  maxBatch?: number;
  /** Transactions in flight at once from this instance (each holds one pooled connection). */
  maxConcurrentBatches?: number;
  /** Told about each committed run, once, before any publisher's promise resolves (fan-out). */
  onCommit?: (run: CommittedRun) => void;
};

/** Offsets below `beforeOffset`; no condition when there is none. */
function below(beforeOffset: number | undefined): SQL | undefined {
  return beforeOffset === undefined ? undefined : lt(channelMessages.offset, beforeOffset);
}

function toPublication(row: StoredChannelMessage, epoch: string): ChannelPublication {
  return {
    type: "publication",
    channel: row.channel,
    id: publicationId("durable", epoch, row.offset),
    kind: "durable",
    epoch,
    offset: row.offset,
    text: row.text,
    sender: { id: row.senderId, name: row.senderName },
    sentAt: row.sentAt.getTime(),
  };
}

/**
 * The durable logs of all channels but the lobby, in Postgres.
 *
 * Order per channel, without a cluster-wide lock: appending bumps the channel's row in
 * `channel_heads` inside the transaction that inserts the publications, so that row's lock orders
 * writers of one channel and no one else. Offset n is committed before n + 1 is handed out, which
 * lets every instance fill a gap from the table without waiting (see OrderedFeed).
 *
 * Group commit: publications that arrive while a transaction is in flight wait and go together in
 * the next one, so under load one fsync carries many publications, across many channels. Heads are
 * locked in channel-name order, so two instances' batches cannot deadlock.
 */
export class DurableLog {
  private queue: Pending[] = [];
  private inFlight = 0;
  private readonly maxBatch: number;
  private readonly maxConcurrent: number;

  constructor(
    private readonly db: () => Database = () => getDatabase().db,
    private readonly options: DurableLogOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 1_000;
    this.maxConcurrent = options.maxConcurrentBatches ?? 2;
  }

  /** Stores one publication; resolves once it is committed, with its offset. */
  append(entry: DurableEntry): Promise<ChannelPublication> {
    return new Promise((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      this.flush();
    });
  }

  private flush(): void {
    while (this.inFlight < this.maxConcurrent && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight++;
      void this.commit(batch).finally(() => {
        this.inFlight--;
        this.flush();
      });
    }
  }

  private async commit(batch: Pending[]): Promise<void> {
    try {
      const runs = await this.write(batch.map((item) => item.entry));
      this.settle(batch, runs);
    } catch (error) {
      if (batch.length === 1) {
        (batch[0] as Pending).reject(error);
        return;
      }
      // One bad entry (say, a sender deleted meanwhile) must not fail its neighbours: retry alone.
      await Promise.all(batch.map((item) => this.commit([item])));
    }
  }

  private settle(batch: Pending[], runs: CommittedRun[]): void {
    for (const run of runs) this.options.onCommit?.(run);
    const next = new Map(runs.map((run) => [run.channel, { run, offset: run.first }]));
    for (const item of batch) {
      const cursor = next.get(item.entry.channel);
      if (!cursor) {
        item.reject(new Error("a committed batch lost an entry"));
        continue;
      }
      const offset = cursor.offset++;
      const bodyIndex = offset - cursor.run.first;
      const body = cursor.run.bodies[bodyIndex] as PublicationBody;
      item.resolve({
        type: "publication",
        channel: item.entry.channel,
        id: publicationId("durable", cursor.run.epoch, offset),
        kind: "durable",
        epoch: cursor.run.epoch,
        offset,
        ...body,
      });
    }
  }

  /**
   * One statement, so one round trip and one implicit transaction: bump each channel's head by its
   * count (locking the head rows in channel-name order), number the batch's publications per channel
   * in arrival order from the old head, insert them, and return each channel's epoch and new head.
   * Written as SQL over arrays rather than with the query builder: the batch is the hot path, and
   * building a thousand-row insert object by object cost more CPU than the database's work.
   */
  private async write(entries: DurableEntry[]): Promise<CommittedRun[]> {
    const sentAt = new Date();
    const result = await this.db().execute(sql`
      with batch as (
        select * from unnest(
          ${sql.param(entries.map((entry) => entry.channel))}::text[],
          ${sql.param(entries.map((entry) => entry.senderId))}::uuid[],
          ${sql.param(entries.map((entry) => entry.senderName))}::text[],
          ${sql.param(entries.map((entry) => entry.text))}::text[],
          ${sql.param(entries.map((entry) => entry.instanceId))}::text[]
        ) with ordinality as b(channel, sender_id, sender_name, text, instance_id, n)
      ),
      counts as (select channel, count(*)::bigint as c from batch group by channel),
      heads as (
        insert into ${channelHeads} (channel, epoch, head)
        select channel, substr(md5(random()::text || clock_timestamp()::text), 1, 8), c from counts order by channel
        on conflict (channel) do update set head = ${channelHeads}.head + excluded.head
        returning channel, epoch, head
      ),
      stored as (
        insert into ${channelMessages} (channel, "offset", sender_id, sender_name, text, instance_id, sent_at)
        select b.channel, h.head - c.c + row_number() over (partition by b.channel order by b.n),
               b.sender_id, b.sender_name, b.text, b.instance_id, ${sentAt.toISOString()}::timestamptz
        from batch b join heads h using (channel) join counts c using (channel)
        returning 1
      )
      select h.channel, h.epoch, h.head::bigint as head, c.c::int as count, (select count(*) from stored)::int as stored
      from heads h join counts c using (channel)
    `);
    const rows = (
      result as unknown as { rows: { channel: string; epoch: string; head: string | number; count: number }[] }
    ).rows;
    const byChannel = new Map<string, DurableEntry[]>();
    for (const entry of entries) {
      const list = byChannel.get(entry.channel);
      if (list) list.push(entry);
      else byChannel.set(entry.channel, [entry]);
    }
    return rows.map((row) => {
      const list = byChannel.get(row.channel) as DurableEntry[];
      return {
        channel: row.channel,
        epoch: row.epoch,
        first: Number(row.head) - list.length + 1,
        bodies: list.map((entry) => ({
          text: entry.text,
          sender: { id: entry.senderId, name: entry.senderName },
          sentAt: sentAt.getTime(),
        })),
      };
    });
  }

  /** A channel's epoch and newest offset, or null when nothing durable was ever published there. */
  async head(channel: string): Promise<{ epoch: string; head: number } | null> {
    const [row] = await this.db().select().from(channelHeads).where(eq(channelHeads.channel, channel)).limit(1);
    return row ? { epoch: row.epoch, head: row.head } : null;
  }

  /** Publications after `afterOffset` (and below `beforeOffset` if given), oldest first, at most `limit`. */
  after(channel: string, epoch: string, afterOffset: number, limit: number, beforeOffset?: number) {
    const offsets = [gt(channelMessages.offset, afterOffset), below(beforeOffset)];
    return this.select(channel, epoch, offsets, asc(channelMessages.offset), limit);
  }

  /** The newest publications before `beforeOffset` (or the newest of all), newest first. */
  history(channel: string, epoch: string, limit: number, beforeOffset?: number) {
    return this.select(channel, epoch, [below(beforeOffset)], desc(channelMessages.offset), limit);
  }

  /** A channel's publications whose offsets meet every condition of `offsets`, in `order`, at most `limit`. */
  private async select(
    channel: string,
    epoch: string,
    offsets: (SQL | undefined)[],
    order: SQL,
    limit: number,
  ): Promise<ChannelPublication[]> {
    const rows = await this.db()
      .select()
      .from(channelMessages)
      .where(and(eq(channelMessages.channel, channel), ...offsets))
      .orderBy(order)
      .limit(limit);
    return rows.map((row) => toPublication(row, epoch));
  }

  /** Deletes publications older than `maxAgeMs`; resumes from before them report `recovered: false`. */
  async prune(maxAgeMs: number): Promise<void> {
    await this.db()
      .delete(channelMessages)
      .where(lt(channelMessages.sentAt, new Date(Date.now() - maxAgeMs)));
  }
}

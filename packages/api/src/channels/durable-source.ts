import { OrderedFeed } from "../broadcasts/feed";
import type { BroadcastStore } from "../broadcasts/store";
import type { Broadcast } from "../broadcasts/types";
import type { Bus } from "../bus/index";
import type { DurableLog } from "./durable-log";
import { type ChannelPublication, publicationId } from "./types";

/**
 * One channel's durable publications on this instance, in offset order, without gaps: what a
 * channel feed listens to, and where a resume reads what it missed.
 */
export interface DurableSource {
  /** The log's epoch, or "" while the channel has no durable publication yet. */
  epoch(): string;
  /** The newest offset this instance has delivered (after start: at least the log's head then). */
  cursor(): number;
  start(): Promise<void>;
  subscribe(deliver: (publication: ChannelPublication) => void): () => void;
  /** A run another instance (or this one) committed, as read from the bus. */
  ingestRun(epoch: string, publications: ChannelPublication[]): void;
  /**
   * Publications after `afterOffset`, at most `limit`, or `"lost"` when some of them are no longer
   * stored (retention) or the epoch changed.
   */
  replay(epoch: string, afterOffset: number, limit: number): Promise<ChannelPublication[] | "lost">;
  stop(): Promise<void>;
}

export type SourcePolling = { safetyPollMs: number; degradedPollMs: number };

/** A room's, person's or conversation's durable log in `channel_messages`. */
export class ChannelDurableSource implements DurableSource {
  private currentEpoch = "";
  private readonly feed: OrderedFeed<ChannelPublication>;

  constructor(
    private readonly channel: string,
    bus: Bus,
    private readonly log: DurableLog,
    polling: SourcePolling,
  ) {
    this.feed = new OrderedFeed<ChannelPublication>({
      bus,
      ...polling,
      position: (publication) => publication.offset,
      store: {
        after: (afterId, limit, beforeId) => this.log.after(channel, this.currentEpoch, afterId, limit, beforeId),
        latestId: async () => {
          const head = await this.log.head(channel);
          if (head && !this.currentEpoch) this.currentEpoch = head.epoch;
          return head?.head ?? 0;
        },
      },
    });
  }

  epoch(): string {
    return this.currentEpoch;
  }

  cursor(): number {
    return this.feed.lastDeliveredId();
  }

  start(): Promise<void> {
    return this.feed.start();
  }

  subscribe(deliver: (publication: ChannelPublication) => void): () => void {
    return this.feed.subscribe(deliver);
  }

  ingestRun(epoch: string, publications: ChannelPublication[]): void {
    // A channel's durable epoch is fixed when its head row is created and never changes.
    if (!this.currentEpoch) this.currentEpoch = epoch;
    this.feed.ingestAll(publications);
  }

  async replay(epoch: string, afterOffset: number, limit: number) {
    const head = await this.log.head(this.channel);
    if (!head) return afterOffset === 0 ? [] : "lost";
    if (!this.currentEpoch) this.currentEpoch = head.epoch;
    if (afterOffset > 0 && epoch !== head.epoch) return "lost";
    if (head.head - afterOffset > limit) return "lost";
    const page = await this.log.after(this.channel, head.epoch, afterOffset, limit);
    // Offsets have no gaps within an epoch: a first offset past the next one means retention took some.
    if (head.head > afterOffset && page[0]?.offset !== afterOffset + 1) return "lost";
    return page;
  }

  stop(): Promise<void> {
    return this.feed.stop();
  }
}

/** The v1 broadcast log's epoch: its ids have never restarted. */
export const lobbyEpoch = "v1";

export function broadcastToPublication(broadcast: Broadcast): ChannelPublication {
  const offset = Number(broadcast.id);
  return {
    type: "publication",
    channel: "lobby",
    id: publicationId("durable", lobbyEpoch, offset),
    kind: "durable",
    epoch: lobbyEpoch,
    offset,
    text: broadcast.text,
    sender: broadcast.sender,
    sentAt: broadcast.sentAt,
  };
}

/**
 * The lobby's durable log is the v1 broadcast log: the same publications reach `realtime.broadcast`
 * and `channels.subscribe({ channel: "lobby" })`, in the same order, with the broadcast id as offset.
 */
export class LobbyDurableSource implements DurableSource {
  private stopListening: () => void = () => {};
  private readonly listeners = new Set<(publication: ChannelPublication) => void>();

  constructor(
    private readonly feed: OrderedFeed<Broadcast>,
    private readonly store: BroadcastStore,
  ) {}

  epoch(): string {
    return lobbyEpoch;
  }

  cursor(): number {
    return this.feed.lastDeliveredId();
  }

  async start(): Promise<void> {
    await this.feed.start();
    this.stopListening();
    this.stopListening = this.feed.subscribe((broadcast) => {
      const publication = broadcastToPublication(broadcast);
      for (const listener of this.listeners) listener(publication);
    });
  }

  subscribe(deliver: (publication: ChannelPublication) => void): () => void {
    this.listeners.add(deliver);
    return () => this.listeners.delete(deliver);
  }

  ingestRun(): void {
    // Broadcasts travel on their own topic, which the broadcast feed reads.
  }

  async replay(epoch: string, afterOffset: number, limit: number) {
    if (afterOffset > 0 && epoch !== lobbyEpoch) return "lost" as const;
    const page = await this.store.after(afterOffset, limit + 1);
    if (page.length > limit) return "lost" as const;
    // Broadcast ids may skip (a failed insert uses one up), so only the retention edge is checked:
    // if the oldest stored broadcast is past the next one, some were pruned.
    if (afterOffset > 0 && page.length > 0 && Number(page[0]?.id) > afterOffset + 1) {
      const [older] = await this.store.after(afterOffset - 1, 1);
      if (!older || Number(older.id) !== afterOffset) return "lost" as const;
    }
    return page.map(broadcastToPublication);
  }

  async stop(): Promise<void> {
    this.stopListening();
    this.listeners.clear();
  }
}

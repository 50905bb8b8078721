import { describeError, getLogger } from "@plauder/runtime";
import type { Bus } from "../bus/index";
import { notifyEach, parseBusMessage } from "../bus/messages";
import { StartOnce } from "../start-once";
import type { BroadcastStore } from "./store";
import { type Broadcast, broadcastSchema, idNumber } from "./types";

/** A log whose entries have consecutive-or-increasing positions: the broadcast store, a channel's log. */
export type OrderedLog<T> = {
  /** Entries after `afterId` (and below `beforeId` if given), oldest first, at most `limit`. */
  after(afterId: number, limit: number, beforeId?: number): Promise<T[]>;
  /** The newest position, or 0 when there is none. */
  latestId(): Promise<number>;
};

export type OrderedFeedOptions<T> = {
  bus: Bus;
  store: OrderedLog<T>;
  /** The bus topic to listen on; without one, whoever owns the feed hands it entries with `ingest`. */
  channel?: string;
  /** Reads one bus message into entries (required with `channel`). */
  parse?: (payload: string) => T[];
  /** An entry's position in the log. */
  position: (entry: T) => number;
  /** How often to read the store while the bus is down (the store then carries every broadcast). */
  degradedPollMs?: number;
  /** How often to read the store while the bus is up, as a safety net for anything the bus dropped. */
  safetyPollMs?: number;
  /** Called once per entry this instance delivers (metrics). */
  onDeliver?: (entry: T) => void;
};

export type FeedOptions = {
  bus: Bus;
  store: BroadcastStore;
  channel: string;
  degradedPollMs?: number;
  safetyPollMs?: number;
  onDeliver?: (broadcast: Broadcast) => void;
};

const pageSize = 500;
// Out-of-order arrivals held while a gap is filled; past this, the store is the buffer.
const maxPending = 10_000;

/**
 * This instance's single, ordered stream of one log: the broadcasts, or one channel's durable log.
 * It listens to the bus once, delivers each entry to every local subscriber exactly once and in
 * order, and fills any gap from the store: a message that skips positions (another instance wrote
 * concurrently, or Redis was away) triggers a read of the missing ones first. While the bus is down
 * it reads the store on a short interval, so subscribers keep receiving what every instance wrote;
 * when the bus returns it catches up.
 */
export class OrderedFeed<T> {
  private readonly log = getLogger().child({ component: "feed" });
  private readonly subscribers = new Set<(entry: T) => void>();
  private cursor = 0;
  private pending: T[] = [];
  private ready = false;
  private draining = false;
  private catchUpRequested = false;
  // A failed start (the store was unreachable) is forgotten, so the next subscriber tries again.
  private readonly starting = new StartOnce(() => this.begin());
  private timer: NodeJS.Timeout | null = null;
  private stopBus: Array<() => void> = [];

  constructor(private readonly options: OrderedFeedOptions<T>) {}

  /** Starts listening (once); resolves when the feed knows where the log ends. */
  start(): Promise<void> {
    return this.starting.run();
  }

  private async begin(): Promise<void> {
    const { bus, channel, store } = this.options;
    if (this.stopBus.length === 0) {
      const parse = this.options.parse;
      if (channel !== undefined && parse) {
        this.stopBus.push(bus.subscribe(channel, (payload) => this.ingestAll(parse(payload))));
      }
      this.stopBus.push(
        bus.onStateChange((state) => {
          if (state === "up") this.requestCatchUp();
          this.schedulePoll();
        }),
      );
    }
    this.cursor = await store.latestId();
    this.ready = true;
    this.schedulePoll();
    void this.drain();
  }

  /** Adds a local subscriber; returns its removal. Delivery is synchronous: subscribers must not block. */
  subscribe(deliver: (entry: T) => void): () => void {
    this.subscribers.add(deliver);
    return () => this.subscribers.delete(deliver);
  }

  subscriberCount(): number {
    return this.subscribers.size;
  }

  /** The newest id delivered here. */
  lastDeliveredId(): number {
    return this.cursor;
  }

  /** Hands over entries in order (a bus message the owner read, or a batch this instance wrote). */
  ingestAll(entries: readonly T[]): void {
    for (const entry of entries) this.ingest(entry);
  }

  /** Hands over an entry this instance wrote (the bus may be down, or slower than the caller). */
  ingest(entry: T): void {
    const id = this.options.position(entry);
    if (this.ready && !this.draining && this.pending.length === 0) {
      if (id <= this.cursor) return;
      if (id === this.cursor + 1) {
        this.deliver(entry);
        return;
      }
    }
    if (this.pending.length < maxPending) this.pending.push(entry);
    else this.catchUpRequested = true;
    void this.drain();
  }

  /** Reads the store for anything after the last delivered id, e.g. after the bus reconnects. */
  requestCatchUp(): void {
    this.catchUpRequested = true;
    void this.drain();
  }

  async stop(): Promise<void> {
    for (const stop of this.stopBus) stop();
    this.stopBus = [];
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.subscribers.clear();
  }

  private deliver(entry: T): void {
    this.cursor = this.options.position(entry);
    this.options.onDeliver?.(entry);
    notifyEach(this.subscribers, entry, this.log, "feed subscriber");
  }

  private async readAfterCursor(beforeId?: number): Promise<void> {
    for (;;) {
      const page = await this.options.store.after(this.cursor, pageSize, beforeId);
      for (const entry of page) if (this.options.position(entry) > this.cursor) this.deliver(entry);
      if (page.length < pageSize) return;
    }
  }

  /** Delivers pending entries in order, filling gaps from the store. One drain runs at a time. */
  private async drain(): Promise<void> {
    if (!this.ready || this.draining) return;
    this.draining = true;
    try {
      while (this.catchUpRequested || this.pending.length > 0) {
        if (this.catchUpRequested) {
          this.catchUpRequested = false;
          await this.readAfterCursor();
          continue;
        }
        const position = this.options.position;
        this.pending.sort((a, b) => position(a) - position(b));
        const next = this.pending[0] as T;
        const id = position(next);
        if (id > this.cursor + 1) await this.readAfterCursor(id);
        this.pending.shift();
        if (id > this.cursor) this.deliver(next);
      }
    } catch (error) {
      // The store is unreachable: keep what is pending and try again on the next poll.
      this.log.warn({ err: describeError(error) }, "could not read the log; will retry");
    } finally {
      this.draining = false;
    }
  }

  private schedulePoll(): void {
    if (this.timer) clearTimeout(this.timer);
    if (!this.ready) return;
    const degraded = this.options.bus.state() === "down";
    const delay = degraded ? (this.options.degradedPollMs ?? 500) : (this.options.safetyPollMs ?? 5_000);
    this.timer = setTimeout(() => {
      this.requestCatchUp();
      this.schedulePoll();
    }, delay);
    this.timer.unref();
  }
}

/** The broadcasts' feed: the lobby's log, one global order across instances. */
export class BroadcastFeed extends OrderedFeed<Broadcast> {
  constructor(options: FeedOptions) {
    const log = getLogger().child({ component: "feed" });
    super({
      ...options,
      position: idNumber,
      parse: (payload) => {
        const broadcast = parseBusMessage(broadcastSchema, payload, log, "broadcast");
        return broadcast ? [broadcast] : [];
      },
    });
  }
}

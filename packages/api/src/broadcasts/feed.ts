import { describeError, getLogger } from "@plauder/runtime";
import type { Bus } from "../bus/index";
import { notifyEach, parseBusMessage } from "../bus/messages";
import type { BroadcastStore } from "./store";
import { type Broadcast, broadcastSchema, idNumber } from "./types";

export type FeedOptions = {
  bus: Bus;
  store: BroadcastStore;
  channel: string;
  /** How often to read the store while the bus is down (the store then carries every broadcast). */
  degradedPollMs?: number;
  /** How often to read the store while the bus is up, as a safety net for anything the bus dropped. */
  safetyPollMs?: number;
  /** Called once per broadcast this instance delivers (metrics). */
  onDeliver?: (broadcast: Broadcast) => void;
};

const pageSize = 500;
// Out-of-order arrivals held while a gap is filled; past this, the store is the buffer.
const maxPending = 10_000;

/**
 * This instance's single, ordered stream of broadcasts. It listens to the bus once, delivers each
 * broadcast to every local subscriber exactly once and in id order, and fills any gap from the store:
 * a message that skips ids (another instance published concurrently, or Redis was away) triggers a
 * read of the missing ids first. While the bus is down it reads the store on a short interval, so
 * subscribers keep receiving broadcasts from every instance; when the bus returns it catches up.
 */
export class BroadcastFeed {
  private readonly log = getLogger().child({ component: "feed" });
  private readonly subscribers = new Set<(broadcast: Broadcast) => void>();
  private cursor = 0;
  private pending: Broadcast[] = [];
  private ready = false;
  private draining = false;
  private catchUpRequested = false;
  private started: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopBus: Array<() => void> = [];

  constructor(private readonly options: FeedOptions) {}

  /** Starts listening (once); resolves when the feed knows where the log ends. */
  start(): Promise<void> {
    // A failed start (the store was unreachable) is forgotten, so the next subscriber tries again.
    this.started ??= this.begin().catch((error: unknown) => {
      this.started = null;
      throw error;
    });
    return this.started;
  }

  private async begin(): Promise<void> {
    const { bus, channel, store } = this.options;
    if (this.stopBus.length === 0) {
      this.stopBus.push(bus.subscribe(channel, (payload) => this.onBusMessage(payload)));
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
  subscribe(deliver: (broadcast: Broadcast) => void): () => void {
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

  /** Hands over a broadcast this instance published (the bus may be down, or slower than the caller). */
  ingest(broadcast: Broadcast): void {
    const id = idNumber(broadcast);
    if (this.ready && !this.draining && this.pending.length === 0) {
      if (id <= this.cursor) return;
      if (id === this.cursor + 1) {
        this.deliver(broadcast);
        return;
      }
    }
    if (this.pending.length < maxPending) this.pending.push(broadcast);
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

  private onBusMessage(payload: string): void {
    const broadcast = parseBusMessage(broadcastSchema, payload, this.log, "broadcast");
    if (broadcast) this.ingest(broadcast);
  }

  private deliver(broadcast: Broadcast): void {
    this.cursor = idNumber(broadcast);
    this.options.onDeliver?.(broadcast);
    notifyEach(this.subscribers, broadcast, this.log, "broadcast subscriber");
  }

  private async readAfterCursor(beforeId?: number): Promise<void> {
    for (;;) {
      const page = await this.options.store.after(this.cursor, pageSize, beforeId);
      for (const broadcast of page) if (idNumber(broadcast) > this.cursor) this.deliver(broadcast);
      if (page.length < pageSize) return;
    }
  }

  /** Delivers pending broadcasts in id order, filling gaps from the store. One drain runs at a time. */
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
        this.pending.sort((a, b) => idNumber(a) - idNumber(b));
        const next = this.pending[0] as Broadcast;
        const id = idNumber(next);
        if (id > this.cursor + 1) await this.readAfterCursor(id);
        this.pending.shift();
        if (id > this.cursor) this.deliver(next);
      }
    } catch (error) {
      // The store is unreachable: keep what is pending and try again on the next poll.
      this.log.warn({ err: describeError(error) }, "could not read the broadcast log; will retry");
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

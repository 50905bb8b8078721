import type { ChannelEvent, ChannelPublication, ChannelSync } from "@plauder/api";
import type { PlauderClient } from "@plauder/client";

/** One event as a subscriber saw it: its tracked id, the event, and when it arrived (epoch ms). */
export type Arrival = { id: string; event: ChannelEvent; at: number };

/** A reload of the channel's durable history, made because a `sync` said `recovered: false`. */
export type HistoryReload = {
  /** Index in `events` of the sync that asked for it. */
  trigger: number;
  at: number;
  publications: { epoch: string; offset: number; text: string }[];
};

const historyPage = 200;
const reloadPatienceMs = 20_000;

/**
 * A channel subscription kept the way a careful client keeps one: it records every event with its
 * tracked id and arrival time, lets wsLink resume it with the last id after any reconnect, and
 * reloads the channel's whole durable history (`channels.history`) whenever a `sync` says
 * `recovered: false`.
 */
export class ChannelSubscriber {
  readonly events: Arrival[] = [];
  readonly reloads: HistoryReload[] = [];
  /** Errors that ended the subscription (it then no longer counts as having stayed subscribed). */
  readonly errors: (Error & { data?: { code?: string } })[] = [];
  /** Reloads that could not be made within their patience. */
  readonly reloadFailures: string[] = [];
  private readonly pending = new Set<Promise<void>>();
  private subscription: { unsubscribe(): void };

  constructor(
    private client: PlauderClient,
    readonly channel: string,
    /** Where the subscriber sits, for messages: e.g. `connection 3`. */
    readonly label: string,
  ) {
    this.subscription = this.open(null);
  }

  /**
   * Moves the subscription to another connection the way wsLink resumes one after a reconnect:
   * the old one ends, the new one starts with the last tracked id. Events keep accumulating here.
   */
  moveTo(client: PlauderClient): void {
    this.subscription.unsubscribe();
    this.client = client;
    this.subscription = this.open(this.events.at(-1)?.id ?? null);
  }

  private open(lastEventId: string | null): { unsubscribe(): void } {
    return this.client.api.channels.subscribe.subscribe(
      { channel: this.channel, lastEventId },
      {
        onData: (tracked) => {
          const index = this.events.push({ id: tracked.id, event: tracked.data, at: Date.now() }) - 1;
          const event = tracked.data;
          if (event.type === "sync" && !event.recovered) this.track(this.reload(index));
        },
        onError: (error) => {
          this.errors.push(error as Error & { data?: { code?: string } });
        },
      },
    );
  }

  publications(kind?: ChannelPublication["kind"]): ChannelPublication[] {
    return this.events
      .map((arrival) => arrival.event)
      .filter((event): event is ChannelPublication => event.type === "publication" && (!kind || event.kind === kind));
  }

  syncs(): ChannelSync[] {
    return this.events.map((arrival) => arrival.event).filter((event): event is ChannelSync => event.type === "sync");
  }

  /** Resolves once every reload asked for so far has finished (or given up). */
  async reloaded(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  stop(): void {
    this.subscription.unsubscribe();
  }

  private track(promise: Promise<void>): void {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise));
  }

  /** Reads the channel's whole durable history, newest page first, retrying while the connection is away. */
  private async reload(trigger: number): Promise<void> {
    const deadline = Date.now() + reloadPatienceMs;
    for (;;) {
      try {
        const publications: HistoryReload["publications"] = [];
        let before: number | undefined;
        for (;;) {
          const page = await this.client.api.channels.history.query({
            channel: this.channel,
            limit: historyPage,
            before,
          });
          publications.unshift(...page.publications.map(({ epoch, offset, text }) => ({ epoch, offset, text })));
          if (!page.hasMore || page.publications.length === 0) break;
          before = page.publications[0]?.offset;
        }
        this.reloads.push({ trigger, at: Date.now(), publications });
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          this.reloadFailures.push((error as Error).message);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }
}

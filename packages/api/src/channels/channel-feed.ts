import { describeError, getLogger } from "@plauder/runtime";
import type { Bus } from "../bus/index";
import { parseBusMessage } from "../bus/messages";
import { StartOnce } from "../start-once";
import type { DurableSource } from "./durable-source";
import type { EphemeralLog } from "./ephemeral-log";
import type { PresenceChange } from "./presence";
import {
  type ChannelEvent,
  type ChannelPublication,
  channelBusMessageSchema,
  expandRun,
  formatPosition,
  type Position,
} from "./types";

/** Receives each event with the position a subscriber stands at once it has it (the tracked id). */
export type ChannelListener = (event: ChannelEvent, position: string) => void;

const ephemeralPage = 1_000;

/**
 * One channel on this instance: it exists while someone here subscribes, listens to the channel's
 * bus topic (so an instance without subscribers receives none of its messages), and delivers every
 * publication once, in order per log, to its local listeners.
 *
 * The durable log's order and gap filling belong to its DurableSource. The ephemeral log arrives in
 * offset order (one script both appends and publishes); a gap (a dropped connection) is filled
 * from Redis, and when Redis cannot fill it (history trimmed, Redis restarted) listeners hear a
 * `sync` event with `recovered: false` instead of a silent hole.
 */
export class ChannelFeed {
  private readonly log = getLogger().child({ component: "channel-feed" });
  private readonly listeners = new Set<ChannelListener>();
  private readonly presenceListeners = new Set<(change: PresenceChange) => void>();
  private ephemeralEpoch = "";
  private ephemeralCursor = 0;
  private durableCursor = 0;
  /** Ephemeral runs that arrived while a gap was being filled or before start finished. */
  private ephemeralBacklog: { epoch: string; publications: ChannelPublication[] }[] = [];
  private ephemeralBusy = true;
  private readonly starting = new StartOnce(() => this.begin());
  private stops: (() => void)[] = [];

  constructor(
    readonly channel: string,
    private readonly topic: string,
    private readonly bus: Bus,
    private readonly durable: DurableSource,
    private readonly ephemeral: EphemeralLog,
  ) {}

  /** Starts listening (once; again after a failed start); resolves when both logs' heads are known. */
  start(): Promise<void> {
    return this.starting.run();
  }

  private async begin(): Promise<void> {
    if (this.stops.length === 0) {
      this.stops.push(this.bus.subscribe(this.topic, (payload) => this.onBusMessage(payload)));
      this.stops.push(this.durable.subscribe((publication) => this.deliverDurable(publication)));
      this.stops.push(
        this.bus.onStateChange((state) => {
          if (state === "up") this.enqueueEphemeralCatchUp();
        }),
      );
    }
    await this.durable.start();
    // Where the durable log stood when this feed began: a subscriber starts there, not at 0 (which
    // would make its next resume replay the whole log).
    this.durableCursor = Math.max(this.durableCursor, this.durable.cursor());
    try {
      const head = await this.ephemeral.head(this.channel);
      this.ephemeralEpoch = head.epoch;
      this.ephemeralCursor = head.head;
    } catch (error) {
      // Redis is away: start from nothing known; the catch-up on reconnect reports what was lost.
      this.log.warn({ channel: this.channel, err: describeError(error) }, "could not read the ephemeral log head");
    }
    this.ephemeralBusy = false;
    void this.drainEphemeral();
  }

  /** Where a subscriber that has everything delivered so far stands. */
  position(): Position {
    return {
      durableEpoch: this.durable.epoch(),
      durable: this.durableCursor,
      ephemeralEpoch: this.ephemeralEpoch,
      ephemeral: this.ephemeralCursor,
    };
  }

  subscribe(listener: ChannelListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onPresence(listener: (change: PresenceChange) => void): () => void {
    this.presenceListeners.add(listener);
    return () => this.presenceListeners.delete(listener);
  }

  listenerCount(): number {
    return this.listeners.size;
  }

  /**
   * Ephemeral publications after `afterOffset` of `epoch`, or `"lost"` when they cannot all be
   * given: the epoch ended (Redis lost or expired the log), history was trimmed past them, or
   * there are more than `limit`. An empty epoch with offset 0 ("nothing seen yet") resumes from the
   * start of whatever epoch exists now.
   */
  async ephemeralReplay(epoch: string, afterOffset: number, limit: number): Promise<ChannelPublication[] | "lost"> {
    const head = await this.ephemeral.head(this.channel);
    const fresh = afterOffset === 0;
    if (!fresh && epoch !== head.epoch) return "lost";
    if (head.head <= afterOffset) return [];
    if (head.head - afterOffset > limit) return "lost";
    const page = await this.ephemeral.after(this.channel, afterOffset, limit);
    if (page.epoch !== head.epoch || page.entries[0]?.offset !== afterOffset + 1) return "lost";
    const first = page.entries[0].offset;
    return expandRun(
      this.channel,
      "ephemeral",
      page.epoch,
      first,
      page.entries.map((entry) => entry.body),
    );
  }

  durableSource(): DurableSource {
    return this.durable;
  }

  async stop(): Promise<void> {
    for (const stop of this.stops) stop();
    this.stops = [];
    this.listeners.clear();
    this.presenceListeners.clear();
    await this.durable.stop();
  }

  /** Hands over a run this instance committed while the bus could not carry it. */
  ingestDurable(epoch: string, publications: ChannelPublication[]): void {
    this.durable.ingestRun(epoch, publications);
  }

  private onBusMessage(payload: string): void {
    const message = parseBusMessage(channelBusMessageSchema, payload, this.log, "channel message");
    if (!message) return;
    if (message.kind === "presence") {
      for (const listener of this.presenceListeners) listener({ event: message.event, user: message.user });
      return;
    }
    const publications = expandRun(this.channel, message.kind, message.epoch, message.first, message.bodies);
    if (message.kind === "durable") this.durable.ingestRun(message.epoch, publications);
    else this.ingestEphemeral(message.epoch, publications);
  }

  private deliverDurable(publication: ChannelPublication): void {
    this.durableCursor = publication.offset;
    this.emit(publication);
  }

  private emit(event: ChannelEvent): void {
    const position = formatPosition(this.position());
    for (const listener of this.listeners) {
      try {
        listener(event, position);
      } catch (error) {
        this.log.error({ err: describeError(error) }, "channel listener failed");
      }
    }
  }

  private ingestEphemeral(epoch: string, publications: ChannelPublication[]): void {
    const first = publications[0]?.offset ?? 0;
    // The common case, in order and nothing pending: deliver now, synchronously.
    if (!this.ephemeralBusy && this.ephemeralBacklog.length === 0 && epoch === this.ephemeralEpoch) {
      if (first === this.ephemeralCursor + 1) {
        for (const publication of publications) this.deliverEphemeral(publication);
        return;
      }
    }
    this.ephemeralBacklog.push({ epoch, publications });
    void this.drainEphemeral();
  }

  private deliverEphemeral(publication: ChannelPublication): void {
    if (publication.offset <= this.ephemeralCursor) return;
    this.ephemeralCursor = publication.offset;
    this.emit(publication);
  }

  private lose(): void {
    this.emit({ type: "sync", channel: this.channel, resumed: false, recovered: false, lost: ["ephemeral"] });
  }

  private catchUpRequested = false;

  private enqueueEphemeralCatchUp(): void {
    this.catchUpRequested = true;
    void this.drainEphemeral();
  }

  /** Works through runs that could not be delivered at once, filling gaps from Redis. One drain at a time. */
  private async drainEphemeral(): Promise<void> {
    if (this.ephemeralBusy || !this.starting.begun()) return;
    this.ephemeralBusy = true;
    try {
      while (this.catchUpRequested || this.ephemeralBacklog.length > 0) {
        if (this.catchUpRequested) {
          this.catchUpRequested = false;
          const head = await this.ephemeral.head(this.channel);
          await this.fillEphemeral(head.epoch, head.head + 1);
          continue;
        }
        const run = this.ephemeralBacklog.shift() as { epoch: string; publications: ChannelPublication[] };
        const first = run.publications[0]?.offset ?? 0;
        await this.fillEphemeral(run.epoch, first);
        for (const publication of run.publications) this.deliverEphemeral(publication);
      }
    } catch (error) {
      // Redis is away: whatever is pending waits for the catch-up that follows its return.
      this.log.warn({ channel: this.channel, err: describeError(error) }, "could not read the ephemeral log");
      this.ephemeralBacklog = [];
      this.catchUpRequested = true;
    } finally {
      this.ephemeralBusy = false;
    }
  }

  /** Delivers everything in `epoch` before offset `until`, or reports it lost. */
  private async fillEphemeral(epoch: string, until: number): Promise<void> {
    if (epoch !== this.ephemeralEpoch) {
      // A new epoch: the log we were following is gone. Anything seen in it may have successors we
      // will never get; say so, then follow the new one from its start.
      if (this.ephemeralCursor > 0) this.lose();
      this.ephemeralEpoch = epoch;
      this.ephemeralCursor = 0;
    }
    while (this.ephemeralCursor + 1 < until) {
      const page = await this.ephemeral.after(this.channel, this.ephemeralCursor, ephemeralPage);
      if (page.epoch !== epoch) {
        this.lose();
        this.ephemeralCursor = until - 1;
        return;
      }
      const wanted = page.entries.filter((entry) => entry.offset < until);
      if (wanted.length === 0 || wanted[0]?.offset !== this.ephemeralCursor + 1) {
        // Trimmed or expired before we could read it.
        this.lose();
        this.ephemeralCursor = until - 1;
        return;
      }
      const publications = expandRun(
        this.channel,
        "ephemeral",
        epoch,
        wanted[0].offset,
        wanted.map((entry) => entry.body),
      );
      for (const publication of publications) this.deliverEphemeral(publication);
    }
  }
}

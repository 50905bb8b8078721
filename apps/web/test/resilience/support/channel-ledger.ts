/**
 * The resilience suite's ledger for channels, kept per channel: what was published and acknowledged
 * in each channel's two logs, and what each subscriber that stayed subscribed received.
 *
 * Durable log (offsets 1, 2, 3… in one epoch, stored in Postgres): every acknowledged publication
 * must reach every subscriber exactly once and in offset order, live, replayed on resume, or (after
 * a `sync` with `recovered: false` that names the durable log) from the history the subscriber
 * reloads then. A gap in what the subscription delivered that no such sync announced is a silent
 * hole even if a later reload fills it.
 *
 * Ephemeral log (offsets 1, 2, 3… within an epoch, in Redis only): each acknowledged publication
 * either reaches the subscriber once, in offset order within its epoch, or the subscriber got a
 * `sync` with `recovered: false, lost: ["ephemeral"]` between the last publication it had before
 * the gap and the first one after it. A hole without that sync is a silent loss.
 *
 * A publish answered with an error may or may not have been stored (its answer may have been lost
 * after the commit), so it may be missing anywhere, but it must never arrive twice.
 */
import type { ChannelEvent, ChannelPublication, PublishAck } from "@plauder/api";
import type { ChannelSubscriber } from "./channel-subscriber";

/** What the ledger reads of a subscriber (a ChannelSubscriber, or a made-up one in the ledger's own test). */
export type LedgerSubscriber = Pick<
  ChannelSubscriber,
  "channel" | "label" | "events" | "reloads" | "errors" | "reloadFailures" | "reloaded"
>;

export type PublicationKind = ChannelPublication["kind"];

export type ChannelPublishOutcome = { ok: true; ack: PublishAck } | { ok: false; code: string; message: string };

type Acknowledged = { channel: string; kind: PublicationKind; text: string; ack: PublishAck; ackedAt: number };

export type ChannelFigures = {
  subscribers: number;
  durableAttempted: number;
  durableAcknowledged: number;
  durableFailed: number;
  /** Durable publications the subscriptions delivered, live or replayed (summed over subscribers). */
  durableDelivered: number;
  /** Of those, replayed on a resume. */
  durableReplayed: number;
  /** Acknowledged durable publications a subscriber had only from a history reload. */
  durableFromHistory: number;
  /** Acknowledged durable publications a subscriber never had, from its subscription or a reload. Must be 0. */
  durableLost: number;
  /** Durable publications a subscription delivered more than once. Must be 0. */
  durableDuplicated: number;
  /** Durable publications delivered below an offset the subscription had already delivered. Must be 0. */
  durableOutOfOrder: number;
  /** Acknowledged durable publications skipped by a subscription without a sync naming the durable log. Must be 0. */
  durableSilentGaps: number;
  /** Publications whose text differs from the stored one or the one acknowledged at their offset. Must be 0. */
  textMismatches: number;
  /** Durable epochs seen (one per channel: it never changes). */
  durableEpochs: number;
  /** Failed publishes that were stored and delivered anyway (allowed, never twice). */
  unacknowledgedDelivered: number;
  /** Stored publications whose publish failed and that some subscriber did not get (allowed). */
  unacknowledgedMissed: number;
  ephemeralAttempted: number;
  ephemeralAcknowledged: number;
  ephemeralFailed: number;
  ephemeralDelivered: number;
  /** Acknowledged ephemeral publications a subscriber missed with a loss sync covering the gap (allowed). */
  ephemeralLostAnnounced: number;
  /** Acknowledged ephemeral publications a subscriber missed with no loss sync covering the gap. Must be 0. */
  ephemeralLostSilently: number;
  /** Ephemeral publications delivered twice. Must be 0. */
  ephemeralDuplicated: number;
  /** Ephemeral publications delivered behind one already delivered (same epoch, lower offset; or an older epoch). Must be 0. */
  ephemeralOutOfOrder: number;
  /** Ephemeral epochs seen: a new one starts each time Redis lost the log. */
  ephemeralEpochs: number;
  /** Syncs with `recovered: false` naming the ephemeral log (summed over subscribers). */
  ephemeralLossSyncs: number;
  /** Resumes (syncs with `resumed: true`), and of those how many were not `recovered`. */
  resumes: number;
  resumesNotRecovered: number;
  /** History reloads made after `recovered: false`, and reloads that never succeeded (must be 0). */
  reloads: number;
  reloadFailures: number;
  /** Subscriptions that ended with an error instead of staying subscribed. Must be 0. */
  subscriptionErrors: number;
};

export type ChannelCheck = {
  channel: string;
  figures: ChannelFigures;
  /** The first few violations, in words, for assertion messages. */
  violations: string[];
};

/** The figures that must be 0 for a channel to pass. */
export const mustBeZero = [
  "durableLost",
  "durableDuplicated",
  "durableOutOfOrder",
  "durableSilentGaps",
  "textMismatches",
  "ephemeralLostSilently",
  "ephemeralDuplicated",
  "ephemeralOutOfOrder",
  "reloadFailures",
  "subscriptionErrors",
] as const satisfies readonly (keyof ChannelFigures)[];

/** A channel's stored durable log as a checker reads it at the end: offset to text. */
export type StoredLog = Map<number, string>;

const isPublication = (event: ChannelEvent, kind: PublicationKind): event is ChannelPublication =>
  event.type === "publication" && event.kind === kind;

const lostNames = (event: ChannelEvent, kind: PublicationKind) =>
  event.type === "sync" && !event.recovered && event.lost.includes(kind);

export class ChannelLedger {
  private readonly acknowledged = new Map<string, Acknowledged>();
  readonly failures: { channel: string; kind: PublicationKind; code: string; message: string }[] = [];
  private readonly attempts = new Map<string, number>();

  /** Runs one publish and books its outcome; never throws. */
  async publish(
    channel: string,
    kind: PublicationKind,
    text: string,
    send: () => Promise<PublishAck>,
  ): Promise<ChannelPublishOutcome> {
    const key = `${channel}|${kind}`;
    this.attempts.set(key, (this.attempts.get(key) ?? 0) + 1);
    try {
      const ack = await send();
      this.acknowledged.set(`${channel}|${ack.id}`, { channel, kind, text, ack, ackedAt: Date.now() });
      return { ok: true, ack };
    } catch (error) {
      const data = (error as { data?: { code?: string } }).data;
      const failure = { code: data?.code ?? "NETWORK", message: (error as Error).message };
      this.failures.push({ channel, kind, ...failure });
      return { ok: false, ...failure };
    }
  }

  /** Acknowledged publications of one channel and kind, in the order they were acknowledged. */
  acks(channel: string, kind: PublicationKind): Acknowledged[] {
    return [...this.acknowledged.values()].filter((a) => a.channel === channel && a.kind === kind);
  }

  attempted(channel: string, kind: PublicationKind): number {
    return this.attempts.get(`${channel}|${kind}`) ?? 0;
  }

  /** Waits until every subscriber has what the ledger expects of it (or the timeout passes; `check` then reports). */
  async settle(
    subscribers: LedgerSubscriber[],
    stored: (channel: string) => Promise<StoredLog>,
    timeoutMs = 20_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const channels = [...new Set(subscribers.map((s) => s.channel))];
    // Publishing has stopped: the stored logs no longer change.
    const logs = new Map(await Promise.all(channels.map(async (c) => [c, await stored(c)] as const)));
    while (Date.now() < deadline) {
      await Promise.all(subscribers.map((s) => s.reloaded()));
      const complete = channels.every((channel) => {
        const { figures } = this.checkChannel(
          channel,
          subscribers.filter((s) => s.channel === channel),
          logs.get(channel) as StoredLog,
        );
        return figures.durableLost === 0 && figures.ephemeralLostSilently === 0;
      });
      if (complete) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // Anything still in flight (a duplicate, say) has a moment to show itself.
    await new Promise((r) => setTimeout(r, 300));
    await Promise.all(subscribers.map((s) => s.reloaded()));
  }

  /** Checks every channel the subscribers are on, against its stored log. */
  async check(
    subscribers: LedgerSubscriber[],
    stored: (channel: string) => Promise<StoredLog>,
  ): Promise<ChannelCheck[]> {
    const channels = [...new Set(subscribers.map((s) => s.channel))];
    return Promise.all(
      channels.map(async (channel) =>
        this.checkChannel(
          channel,
          subscribers.filter((s) => s.channel === channel),
          await stored(channel),
        ),
      ),
    );
  }

  private checkChannel(channel: string, subscribers: LedgerSubscriber[], log: StoredLog): ChannelCheck {
    const violations: string[] = [];
    const violation = (text: string) => {
      if (violations.length < 10) violations.push(text);
    };
    const durableAcks = new Map(this.acks(channel, "durable").map((a) => [a.ack.offset, a]));
    const ackedOffsets = [...durableAcks.keys()];
    const ephemeralAcks = this.acks(channel, "ephemeral");
    const figures: ChannelFigures = {
      subscribers: subscribers.length,
      durableAttempted: this.attempted(channel, "durable"),
      durableAcknowledged: durableAcks.size,
      durableFailed: this.failures.filter((f) => f.channel === channel && f.kind === "durable").length,
      durableDelivered: 0,
      durableReplayed: 0,
      durableFromHistory: 0,
      durableLost: 0,
      durableDuplicated: 0,
      durableOutOfOrder: 0,
      durableSilentGaps: 0,
      textMismatches: 0,
      durableEpochs: 0,
      unacknowledgedDelivered: 0,
      unacknowledgedMissed: 0,
      ephemeralAttempted: this.attempted(channel, "ephemeral"),
      ephemeralAcknowledged: ephemeralAcks.length,
      ephemeralFailed: this.failures.filter((f) => f.channel === channel && f.kind === "ephemeral").length,
      ephemeralDelivered: 0,
      ephemeralLostAnnounced: 0,
      ephemeralLostSilently: 0,
      ephemeralDuplicated: 0,
      ephemeralOutOfOrder: 0,
      ephemeralEpochs: 0,
      ephemeralLossSyncs: 0,
      resumes: 0,
      resumesNotRecovered: 0,
      reloads: 0,
      reloadFailures: 0,
      subscriptionErrors: 0,
    };

    // The stored log has no gaps within its epoch, and holds every acknowledged publication as acknowledged.
    for (const [offset, acked] of durableAcks) {
      const text = log.get(offset);
      if (text === undefined) {
        figures.durableLost += subscribers.length;
        violation(`durable ${offset} was acknowledged but is not stored`);
      } else if (text !== acked.text) {
        figures.textMismatches++;
        violation(`durable ${offset} is stored as "${text}" but was acknowledged for "${acked.text}"`);
      }
    }
    const durableEpochs = new Set<string>();
    // Durable ones by `d:<offset>`, ephemeral ones by their id.
    const unacknowledgedDelivered = new Set<string>();
    const ephemeralAckIds = new Set(ephemeralAcks.map((a) => a.ack.id));
    const unacknowledgedMissed = new Set<number>();

    // Ephemeral epochs in the order they began (earliest publication seen or acknowledged in each).
    const epochStart = new Map<string, number>();
    const noteEpoch = (epoch: string, sentAt: number) =>
      epochStart.set(epoch, Math.min(epochStart.get(epoch) ?? Number.POSITIVE_INFINITY, sentAt));
    for (const a of ephemeralAcks) noteEpoch(a.ack.epoch, a.ack.sentAt);
    for (const s of subscribers) {
      for (const { event } of s.events) if (isPublication(event, "ephemeral")) noteEpoch(event.epoch, event.sentAt);
    }
    const epochRank = new Map([...epochStart].sort((x, y) => x[1] - y[1]).map(([epoch], index) => [epoch, index]));
    figures.ephemeralEpochs = epochRank.size;
    const place = (epoch: string, offset: number): [number, number] => [epochRank.get(epoch) ?? -1, offset];
    const before = (x: [number, number], y: [number, number]) => x[0] < y[0] || (x[0] === y[0] && x[1] < y[1]);
    const ackedPlaces = ephemeralAcks.map((a) => place(a.ack.epoch, a.ack.offset));
    /** Acknowledged ephemeral publications strictly between two places of the log. */
    const ackedBetween = (from: [number, number], to: [number, number]) =>
      ackedPlaces.filter((p) => before(from, p) && before(p, to)).length;

    for (const subscriber of subscribers) {
      const who = `${subscriber.label} on ${channel}`;
      figures.subscriptionErrors += subscriber.errors.length;
      for (const error of subscriber.errors) violation(`${who}: the subscription ended: ${error.message}`);
      figures.reloads += subscriber.reloads.length;
      figures.reloadFailures += subscriber.reloadFailures.length;
      for (const failure of subscriber.reloadFailures) violation(`${who}: a history reload failed: ${failure}`);

      // Durable: what the subscription delivered, in arrival order.
      const delivered = new Set<number>();
      let last = 0;
      let lossAnnounced = false;
      for (const { event } of subscriber.events) {
        if (event.type === "sync" && event.resumed) {
          figures.resumes++;
          if (!event.recovered) figures.resumesNotRecovered++;
        }
        if (lostNames(event, "durable")) lossAnnounced = true;
        if (!isPublication(event, "durable")) continue;
        figures.durableDelivered++;
        if (event.replayed) figures.durableReplayed++;
        durableEpochs.add(event.epoch);
        const stored = log.get(event.offset);
        if (stored !== event.text) {
          figures.textMismatches++;
          violation(`${who}: durable ${event.offset} arrived as "${event.text}", stored as "${stored}"`);
        }
        if (!durableAcks.has(event.offset)) unacknowledgedDelivered.add(`d:${event.offset}`);
        if (delivered.has(event.offset)) {
          figures.durableDuplicated++;
          violation(`${who}: durable ${event.offset} arrived again${event.replayed ? " (replayed)" : ""}`);
          continue;
        }
        delivered.add(event.offset);
        if (event.offset < last) {
          figures.durableOutOfOrder++;
          violation(`${who}: durable ${event.offset} arrived after ${last}`);
          continue;
        }
        const skipped = ackedOffsets.filter((o) => o > last && o < event.offset).length;
        if (skipped > 0 && !lossAnnounced) {
          figures.durableSilentGaps += skipped;
          violation(`${who}: durable jumped from ${last} to ${event.offset} without a sync naming the durable log`);
        }
        last = event.offset;
        lossAnnounced = false;
      }
      const reloaded = new Set(subscriber.reloads.flatMap((r) => r.publications.map((p) => p.offset)));
      for (const reload of subscriber.reloads) {
        for (const p of reload.publications) {
          durableEpochs.add(p.epoch);
          if (log.get(p.offset) !== p.text) {
            figures.textMismatches++;
            violation(`${who}: history gave durable ${p.offset} as "${p.text}", stored as "${log.get(p.offset)}"`);
          }
        }
      }
      for (const offset of durableAcks.keys()) {
        if (delivered.has(offset)) continue;
        if (reloaded.has(offset)) figures.durableFromHistory++;
        else {
          figures.durableLost++;
          violation(`${who}: acknowledged durable ${offset} never arrived`);
        }
      }
      for (const offset of log.keys()) {
        if (!durableAcks.has(offset) && !delivered.has(offset) && !reloaded.has(offset)) {
          unacknowledgedMissed.add(offset);
        }
      }

      // Ephemeral: walk the events; a gap must have a loss sync between its two sides.
      const seen = new Set<string>();
      let at: [number, number] = [-1, Number.POSITIVE_INFINITY];
      let lossSince = false;
      for (const { event } of subscriber.events) {
        if (lostNames(event, "ephemeral")) {
          figures.ephemeralLossSyncs++;
          lossSince = true;
        }
        if (!isPublication(event, "ephemeral")) continue;
        figures.ephemeralDelivered++;
        if (!ephemeralAckIds.has(event.id)) unacknowledgedDelivered.add(event.id);
        if (seen.has(event.id)) {
          figures.ephemeralDuplicated++;
          violation(`${who}: ephemeral ${event.id} arrived again`);
          continue;
        }
        seen.add(event.id);
        const here = place(event.epoch, event.offset);
        if (at[0] >= 0 && !before(at, here)) {
          figures.ephemeralOutOfOrder++;
          violation(`${who}: ephemeral ${event.id} arrived after ${at.join(":")}`);
          continue;
        }
        const missed = ackedBetween(at[0] < 0 ? [-1, 0] : at, here);
        if (missed > 0) {
          if (lossSince) figures.ephemeralLostAnnounced += missed;
          else {
            figures.ephemeralLostSilently += missed;
            violation(`${who}: ${missed} acknowledged ephemeral missing before ${event.id}, with no loss sync`);
          }
        }
        at = here;
        lossSince = false;
      }
      const tail = ackedBetween(at[0] < 0 ? [-1, 0] : at, [Number.POSITIVE_INFINITY, 0]);
      if (tail > 0) {
        if (lossSince) figures.ephemeralLostAnnounced += tail;
        else {
          figures.ephemeralLostSilently += tail;
          violation(`${who}: the last ${tail} acknowledged ephemeral publications never arrived, with no loss sync`);
        }
      }
    }
    figures.durableEpochs = durableEpochs.size;
    if (durableEpochs.size > 1) violation(`${channel}: durable publications came in ${durableEpochs.size} epochs`);
    figures.unacknowledgedDelivered = unacknowledgedDelivered.size;
    figures.unacknowledgedMissed = unacknowledgedMissed.size;
    return { channel, figures, violations };
  }
}

/** Sums the figures of several channels. */
export function totals(checks: ChannelCheck[]): ChannelFigures {
  const sum = {} as Record<keyof ChannelFigures, number>;
  for (const { figures } of checks) {
    for (const [key, value] of Object.entries(figures) as [keyof ChannelFigures, number][]) {
      sum[key] = (sum[key] ?? 0) + value;
    }
  }
  return sum;
}

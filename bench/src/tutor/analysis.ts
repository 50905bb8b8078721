import { percentile } from "@plauder/runtime/stats";
import type { DirectRecord, FakeTiming, SendRecord, StopRecord } from "./protocol";

/** p50, p99 and max of samples (nearest rank: measured values), with their count. */
export type Spread = { count: number; p50: number; p99: number; max: number; min: number };

export function spread(values: readonly number[]): Spread {
  return {
    count: values.length,
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: values.length === 0 ? Number.NaN : Math.max(...values),
    min: values.length === 0 ? Number.NaN : Math.min(...values),
  };
}

/** The answer request (not the correction) the fake received for each tag. */
export function answersByTag(timings: readonly FakeTiming[]): Map<string, FakeTiming> {
  const byTag = new Map<string, FakeTiming>();
  for (const timing of timings) if (!timing.structured) byTag.set(timing.tag, timing);
  return byTag;
}

export type FirstToken = {
  /** What the client waited from its send to the first delta. */
  client: Spread;
  /** What the fake took from the request's arrival to its first token. */
  provider: Spread;
  /** The client's wait minus the fake's, per send: what Plauder added. */
  added: Spread;
  /** The same split for the client's own parts: send → send acknowledged, and fake's first token → first delta. */
  ack: Spread;
  /** From the send to the request's arrival at the fake (the server's work before asking the model). */
  beforeProvider: Spread;
  /** From the fake's first token to the client's first delta (the way back). */
  afterProvider: Spread;
  missing: number;
};

/** Time to first token: per send, the client's wait minus the provider's own. */
export function firstToken(records: readonly SendRecord[], timings: readonly FakeTiming[]): FirstToken {
  const answers = answersByTag(timings);
  const client: number[] = [];
  const provider: number[] = [];
  const added: number[] = [];
  const ack: number[] = [];
  const before: number[] = [];
  const after: number[] = [];
  let missing = 0;
  for (const record of records) {
    const fake = answers.get(record.tag);
    const first = fake?.tokenTimes[0];
    if (!fake || first === undefined || record.firstDeltaAt === null) {
      missing++;
      continue;
    }
    const clientWait = record.firstDeltaAt - record.sentAt;
    const providerWait = first - fake.arrival;
    client.push(clientWait);
    provider.push(providerWait);
    added.push(clientWait - providerWait);
    ack.push(record.ackAt - record.sentAt);
    before.push(fake.arrival - record.sentAt);
    after.push(record.firstDeltaAt - first);
  }
  return {
    client: spread(client),
    provider: spread(provider),
    added: spread(added),
    ack: spread(ack),
    beforeProvider: spread(before),
    afterProvider: spread(after),
    missing,
  };
}

/** The baseline: the same client straight at the fake, its wait minus the fake's own. */
export function directFirstToken(records: readonly DirectRecord[], timings: readonly FakeTiming[]) {
  const answers = answersByTag(timings);
  const client: number[] = [];
  const added: number[] = [];
  let missing = 0;
  for (const record of records) {
    const fake = answers.get(record.tag);
    const first = fake?.tokenTimes[0];
    if (!fake || first === undefined || record.firstTokenAt === 0) {
      missing++;
      continue;
    }
    const clientWait = record.firstTokenAt - record.sentAt;
    client.push(clientWait);
    added.push(clientWait - (first - fake.arrival));
  }
  return { client: spread(client), added: spread(added), missing };
}

export type Gaps = {
  /**
   * Per delta: the client's gap since the previous delta minus the fake's gap between the last
   * tokens the two carried. A delta that carried several tokens (written in one tick) is one gap
   * spanning them on both sides, so merging adds nothing by itself.
   */
  added: Spread;
  /** The fake's own gaps between those tokens (its timer, on a busy machine). */
  provider: Spread;
  /** Per token, arrival at the client minus the fake's write (across processes). */
  latency: Spread;
  /** Tokens the client never received, among those the fake wrote. */
  lost: number;
  pairs: number;
};

/**
 * Added inter-token delay over the tokens the fake wrote inside [from, to]: for each delta after
 * the first, (its arrival − the previous delta's arrival) − (write of its last token − write of the
 * previous delta's last token). Deltas are told apart by their arrival times (`arrivals[k]` is when
 * the delta carrying token k arrived).
 */
export function interTokenGaps(
  records: readonly SendRecord[],
  timings: readonly FakeTiming[],
  window: { from: number; to: number },
): Gaps {
  const answers = answersByTag(timings);
  const added: number[] = [];
  const provider: number[] = [];
  const latency: number[] = [];
  let lost = 0;
  for (const record of records) {
    const fake = answers.get(record.tag);
    const arrivals = record.arrivals;
    if (!fake || !arrivals) continue;
    const writes = fake.tokenTimes;
    let previous: { arrived: number; written: number } | null = null;
    for (let k = 0; k < writes.length; k++) {
      const written = writes[k] as number;
      const arrived = arrivals[k];
      const inWindow = written >= window.from && written <= window.to;
      if (arrived === undefined || arrived === null) {
        if (inWindow) lost++;
        previous = null;
        continue;
      }
      if (inWindow) latency.push(arrived - written);
      // Only the last token of each delta marks a gap.
      if (arrivals[k + 1] === arrived) continue;
      if (previous && inWindow && previous.written >= window.from) {
        const fakeGap = written - previous.written;
        provider.push(fakeGap);
        added.push(arrived - previous.arrived - fakeGap);
      }
      previous = { arrived, written };
    }
  }
  return { added: spread(added), provider: spread(provider), latency: spread(latency), lost, pairs: added.length };
}

/** Stop: from the Stop call leaving the client to the fake seeing its request closed. */
export function stopLatencies(records: readonly StopRecord[], timings: readonly FakeTiming[]) {
  const answers = answersByTag(timings);
  const closed: number[] = [];
  const acked: number[] = [];
  const outcomes: Record<string, number> = {};
  for (const record of records) {
    const fake = answers.get(record.tag);
    const outcome = fake?.outcome ?? "missing";
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    acked.push(record.stopAckAt - record.stopAt);
    if (fake?.outcome === "closed-by-client" && fake.closedAt !== null) closed.push(fake.closedAt - record.stopAt);
  }
  return {
    closed: spread(closed),
    acked: spread(acked),
    outcomes,
    statuses: count(records.map((r) => r.status ?? "none")),
  };
}

export function count(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

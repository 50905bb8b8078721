/**
 * The client-side ledger every resilience case keeps: what was published and acknowledged, and what
 * each live subscriber received. Acknowledged broadcasts must reach every live subscriber exactly
 * once and in order; a publish that failed may or may not have been delivered (its answer may have
 * been lost after the store committed it), but never twice.
 */
import type { Recorder } from "../../support/clients";

export type PublishOutcome = { ok: true; id: string } | { ok: false; code: string; message: string };

export type LedgerFigures = {
  attempted: number;
  acknowledged: number;
  failed: number;
  subscribers: number;
  /** Deliveries counted over all subscribers. */
  delivered: number;
  /** Acknowledged broadcasts some subscriber never got (summed over subscribers). */
  lost: number;
  /** Broadcasts some subscriber got more than once (summed over subscribers). */
  duplicated: number;
  /** Subscribers whose ids were not strictly increasing. */
  outOfOrder: number;
  /** Failed publishes that were nevertheless stored and delivered (their answer was lost). */
  unacknowledgedDelivered: number;
};

export class Ledger {
  private readonly acknowledgedIds = new Set<string>();
  readonly failures: { code: string; message: string }[] = [];
  private attempts = 0;

  /** Runs one publish and books its outcome; never throws. */
  async publish(send: () => Promise<{ id: string }>): Promise<PublishOutcome> {
    this.attempts++;
    try {
      const { id } = await send();
      this.acknowledgedIds.add(id);
      return { ok: true, id };
    } catch (error) {
      const data = (error as { data?: { code?: string } }).data;
      const failure = { code: data?.code ?? "NETWORK", message: (error as Error).message };
      this.failures.push(failure);
      return { ok: false, ...failure };
    }
  }

  get acknowledged(): string[] {
    return [...this.acknowledgedIds].sort((x, y) => Number(x) - Number(y));
  }

  /** Waits until every recorder holds every acknowledged id (or the timeout passes; `check` then reports). */
  async settle(recorders: Recorder[], timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const expected = this.acknowledged;
    while (Date.now() < deadline) {
      const complete = recorders.every((r) => {
        const got = new Set(r.ids());
        return expected.every((id) => got.has(id));
      });
      if (complete) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // Anything still in flight (a duplicate, say) has a moment to show itself.
    await new Promise((r) => setTimeout(r, 300));
  }

  /** Counts losses and duplicates over the live subscribers. */
  check(recorders: Recorder[]): LedgerFigures {
    const expected = this.acknowledged;
    let delivered = 0;
    let lost = 0;
    let duplicated = 0;
    let outOfOrder = 0;
    const unacknowledged = new Set<string>();
    for (const recorder of recorders) {
      const ids = recorder.ids();
      delivered += ids.length;
      const seen = new Set<string>();
      for (const id of ids) {
        if (seen.has(id)) duplicated++;
        seen.add(id);
        if (!this.acknowledgedIds.has(id)) unacknowledged.add(id);
      }
      lost += expected.filter((id) => !seen.has(id)).length;
      if (!ids.every((id, i) => i === 0 || Number(id) > Number(ids[i - 1]))) outOfOrder++;
    }
    return {
      attempted: this.attempts,
      acknowledged: expected.length,
      failed: this.failures.length,
      subscribers: recorders.length,
      delivered,
      lost,
      duplicated,
      outOfOrder,
      unacknowledgedDelivered: unacknowledged.size,
    };
  }
}

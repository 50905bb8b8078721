import type { Recorder } from "../../support/clients";
import { publishOverHttp, sleep } from "../../support/clients";
import type { Ledger, LedgerFigures } from "./ledger";

/**
 * A steady stream of publishes over HTTP (the path a server-side job takes), one every
 * `intervalMs`, alternating between the given tokens. Each publish is booked in the ledger; a
 * publish is not retried, so a failure stays a failure. Resolves when `stop()` is called.
 */
export function steadyStream(options: { ledger: Ledger; baseUrl: string; tokens: string[]; intervalMs: number }) {
  let running = true;
  const acks: { id: string; at: number }[] = [];
  const done = (async () => {
    for (let i = 0; running; i++) {
      const token = options.tokens[i % options.tokens.length] as string;
      const outcome = await options.ledger.publish(() => publishOverHttp(options.baseUrl, token, `stream ${i}`));
      if (outcome.ok) acks.push({ id: outcome.id, at: Date.now() });
      await sleep(options.intervalMs);
    }
  })();
  return {
    acks,
    /** The first broadcast acknowledged after `since` (epoch ms), once there is one. */
    async firstAckAfter(since: number, timeoutMs = 30_000): Promise<{ id: string; at: number }> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const ack = acks.find((a) => a.at > since);
        if (ack) return ack;
        if (Date.now() > deadline) throw new Error("no publish was acknowledged after the fault");
        await sleep(20);
      }
    },
    async stop() {
      running = false;
      await done;
    },
  };
}

export type SteadyStream = ReturnType<typeof steadyStream>;

/**
 * The end of a case's publish streams: a pause for the last publishes to arrive, the streams
 * stopped, every recorder given time to catch up, and the ledger's figures (the recorders stop).
 */
export async function endStreams(
  ledger: Ledger,
  streams: SteadyStream[],
  recorders: Recorder[],
): Promise<LedgerFigures> {
  await sleep(500);
  await Promise.all(streams.map((stream) => stream.stop()));
  await ledger.settle(recorders);
  const figures = ledger.check(recorders);
  for (const recorder of recorders) recorder.stop();
  return figures;
}

/**
 * How long after `since` every recorder had received broadcast `id` (ms): the time until every
 * subscriber was back to live delivery. Waits up to `timeoutMs` for the last one.
 */
export async function everyoneHas(recorders: Recorder[], id: string, since: number, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const times = recorders.map((r) => {
      const index = r.ids().indexOf(id);
      return index === -1 ? undefined : (r.arrivals[index] as number);
    });
    if (times.every((t) => t !== undefined)) return Math.max(...(times as number[])) - since;
    if (Date.now() > deadline) {
      const missing = times.filter((t) => t === undefined).length;
      throw new Error(`${missing} of ${recorders.length} subscribers never received broadcast ${id}`);
    }
    await sleep(20);
  }
}

export const randomBetween = (min: number, max: number) => min + Math.random() * (max - min);

import { sleep } from "../../support/clients";
import { randomBetween } from "./stream";

/** Something a test can take down and bring back: its own Redis or Postgres server. */
export type Stoppable = { stop(): unknown; start(): unknown };

/** A range of milliseconds to pick from at random, or an exact figure. */
export type Millis = number | readonly [min: number, max: number];

const pick = (ms: Millis) => (typeof ms === "number" ? ms : randomBetween(ms[0], ms[1]));

/**
 * One outage at a random moment: a pause of `after`, then `service` stopped, left down for `down`
 * (while `whileDown` looks at how the instances take it), and started again. Resolves with when it
 * was started again (epoch ms), from which a case measures its recovery, and how long it was down.
 */
export async function outage(
  service: Stoppable,
  options: { after: Millis; down: Millis; whileDown?: () => Promise<void> },
): Promise<{ restartedAt: number; downMs: number }> {
  await sleep(pick(options.after));
  await service.stop();
  const downMs = pick(options.down);
  await sleep(downMs);
  await options.whileDown?.();
  await service.start();
  return { restartedAt: Date.now(), downMs };
}

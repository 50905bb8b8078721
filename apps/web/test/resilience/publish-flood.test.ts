/**
 * A publisher far beyond the rate limit, on an instance with the default limit (20 per 10 s per
 * user): it is throttled with a typed error and a retry time, keeps its connection, and nobody
 * else's publishes or deliveries suffer.
 */
import type { PlauderClient } from "@plauder/client";
import { median } from "@plauder/runtime/stats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Account, newAccount, type Recorder, record, sleep } from "../support/clients";
import { startSingle, type TestSingle } from "../support/cluster";
import type { Instance } from "../support/processes";
import { Ledger } from "./support/ledger";
import { scale } from "./support/profile";
import { reportCase } from "./support/report";

let solo: TestSingle;
let instance: Instance;
let flooder: Account;
let honest: Account;

beforeAll(async () => {
  solo = await startSingle("rate");
  instance = solo.instance;
  [flooder, honest] = await Promise.all([newAccount(instance.url, "Flooder"), newAccount(instance.url, "Honest")]);
});

afterAll(() => solo?.stop());

const typed = (account: Account) => solo.clients.connect(instance.url, account);

/** Publishes `count` broadcasts `intervalMs` apart and books them; returns each acknowledged one's latency. */
async function publishSteadily(client: PlauderClient, ledger: Ledger, count: number, intervalMs: number) {
  for (let i = 0; i < count; i++) {
    await ledger.publish(() => client.api.realtime.publish.mutate({ text: `honest ${i}` }));
    await sleep(intervalMs);
  }
}

/** Publish-to-delivery latencies (ms) of the given ids at one recorder. */
function deliveryLatencies(recorder: Recorder, ids: Set<string>): number[] {
  return recorder.received.flatMap((b, i) => (ids.has(b.id) ? [(recorder.arrivals[i] as number) - b.sentAt] : []));
}

describe("a publisher beyond the rate limit", () => {
  it("is throttled with TOO_MANY_REQUESTS and retryAfter while others publish and receive as before", async () => {
    const attempts = scale(200, 2_000);
    const recorders = [record(await typed(honest)), record(await typed(honest)), record(await typed(flooder))];
    await Promise.all(recorders.map((r) => r.started));
    const honestClient = await typed(honest);
    const flooderClient = await typed(flooder);

    const calm = new Ledger();
    await publishSteadily(honestClient, calm, 8, 100);
    await calm.settle(recorders);

    const honestDuringFlood = new Ledger();
    const flood = new Ledger();
    const floodStarted = performance.now();
    await Promise.all([
      publishSteadily(honestClient, honestDuringFlood, 8, 100),
      (async () => {
        for (let i = 0; i < attempts; i++) {
          await flood.publish(() => flooderClient.api.realtime.publish.mutate({ text: `flood ${i}` }));
        }
      })(),
    ]);
    const floodMs = performance.now() - floodStarted;
    await Promise.all([honestDuringFlood.settle(recorders), flood.settle(recorders)]);

    const floodFigures = flood.check(recorders);
    const honestFigures = honestDuringFlood.check(recorders);
    // The limit held: 20 accepted in the window, every other attempt refused with a retry time.
    expect(floodFigures.acknowledged).toBe(20);
    expect(flood.failures).toHaveLength(attempts - 20);
    expect(new Set(flood.failures.map((f) => f.code))).toEqual(new Set(["TOO_MANY_REQUESTS"]));
    // Refused publishes were never delivered; accepted ones exactly once.
    expect(floodFigures).toMatchObject({ lost: 0, duplicated: 0 });
    const accepted = new Set(flood.acknowledged);
    const refusedDelivered = recorders
      .flatMap((r) => r.received)
      .filter((b) => b.text.startsWith("flood ") && !accepted.has(b.id)).length;
    expect(refusedDelivered).toBe(0);
    // The honest publisher was not throttled, and its broadcasts arrived as before.
    expect(honestFigures).toMatchObject({ failed: 0, lost: 0, duplicated: 0 });
    // The flooder is throttled, not disconnected.
    const pong = await new Promise<{ instanceId: string }>((resolve, reject) =>
      flooderClient.api.realtime.ping.subscribe({ clientTime: Date.now() }, { onData: resolve, onError: reject }),
    );
    expect(pong.instanceId).toBe("rate");
    const retryAfter = await flooderClient.api.realtime.publish
      .mutate({ text: "still too fast" })
      .catch((e: { data?: { retryAfter?: number } }) => e.data?.retryAfter);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(10);

    const calmLatency = deliveryLatencies(recorders[0] as Recorder, new Set(calm.acknowledged));
    const floodLatency = deliveryLatencies(recorders[0] as Recorder, new Set(honestDuringFlood.acknowledged));
    expect(median(floodLatency)).toBeLessThan(median(calmLatency) * 3 + 20);
    for (const r of recorders) r.stop();
    reportCase({
      id: "floods.rate-limited-publisher",
      section: "Floods and slow clients",
      title: "A publisher beyond the rate limit",
      method: `Default limit (20 publishes per 10 s per user). One user fires ${attempts} publishes back to back over its WebSocket while another publishes every 100 ms; three subscribers keep the ledger.`,
      figures: {
        "flood attempts": attempts,
        "flood accepted": floodFigures.acknowledged,
        "flood refused (TOO_MANY_REQUESTS)": flood.failures.length,
        "refused publishes delivered": refusedDelivered,
        "flood duration (ms)": Math.round(floodMs),
        "honest publishes during the flood: acknowledged / failed": `${honestFigures.acknowledged} / ${honestFigures.failed}`,
        "honest delivery latency p50 before / during the flood (ms)": `${median(calmLatency)} / ${median(floodLatency)}`,
        "lost / duplicated": `${floodFigures.lost + honestFigures.lost} / ${floodFigures.duplicated + honestFigures.duplicated}`,
      },
    });
  }, 120_000);
});

/**
 * Measures publish→delivery latency at a small load, on one instance and on two instances sharing
 * Redis and Postgres, in the same run. Needs a production build (`npm run build`), Redis and Postgres.
 *
 *   npm run latency -w @plauder/web [-- --rate 20 --seconds 10 --subscribers 20]
 *
 * Latency is measured from just before `publish` is called to arrival at each subscriber, for every
 * delivery; publishes are paced open-loop at a fixed rate.
 */
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import type { PlauderClient } from "@plauder/client";
import { createTestPostgres } from "@plauder/db/testing";
import { percentile } from "@plauder/runtime/stats";
import { connect, newAccount, sleep } from "../test/support/clients";
import { type Instance, instanceEnv, startInstance, startRedis } from "../test/support/processes";

const { values } = parseArgs({
  options: {
    rate: { type: "string", default: "20" },
    seconds: { type: "string", default: "10" },
    subscribers: { type: "string", default: "20" },
    out: { type: "string" },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const subscriberCount = Number(values.subscribers);

type Result = { scenario: string; deliveries: number; expected: number; p50: number; p99: number; max: number };

async function measure(scenario: string, publishOn: Instance, subscribeOn: Instance[]): Promise<Result> {
  const account = await newAccount(publishOn.url, "Bench");
  const samples: number[] = [];
  const clients: PlauderClient[] = [];
  const pendingText = new Map<string, number>();
  for (let i = 0; i < subscriberCount; i++) {
    const instance = subscribeOn[i % subscribeOn.length] as Instance;
    const client = await connect(instance.url, account);
    clients.push(client);
    await new Promise<void>((resolve) =>
      client.api.realtime.broadcast.subscribe(
        {},
        {
          onStarted: () => resolve(),
          onData: ({ data }) => {
            const started = pendingText.get(data.text);
            if (started !== undefined) samples.push(performance.now() - started);
          },
        },
      ),
    );
  }
  const publisher = await connect(publishOn.url, account);
  clients.push(publisher);
  const total = rate * seconds;
  const interval = 1000 / rate;
  const begin = performance.now();
  const inflight: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const scheduled = begin + i * interval;
    const wait = scheduled - performance.now();
    if (wait > 0) await sleep(wait);
    const text = `${scenario} ${i} ${randomUUID()}`;
    pendingText.set(text, scheduled);
    inflight.push(publisher.api.realtime.publish.mutate({ text }));
  }
  await Promise.all(inflight);
  await sleep(1_000);
  await Promise.all(clients.map((c) => c.close()));
  const sorted = samples.sort((a, b) => a - b);
  return {
    scenario,
    deliveries: samples.length,
    expected: total * subscriberCount,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

const redis = await startRedis();
const database = await createTestPostgres();
const env = {
  ...instanceEnv(database.url, redis.url),
  PUBLISH_RATE_LIMIT: "1000000",
  MAX_CONNECTIONS_PER_USER: "1000",
  MAX_CONNECTIONS: "10000",
};
const [a, b] = await Promise.all([startInstance({ id: "a", env }), startInstance({ id: "b", env })]);
try {
  const results: Result[] = [];
  // Alternate the scenarios so drift on the machine affects both alike.
  for (let round = 0; round < 2; round++) {
    results.push(await measure(`one instance (round ${round + 1})`, a, [a]));
    results.push(await measure(`two instances, subscribers split (round ${round + 1})`, a, [a, b]));
  }
  const fmt = (n: number) => n.toFixed(1);
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}.`,
    `Load: ${rate} publishes/s for ${seconds} s, ${subscriberCount} subscribers, one publisher on instance a.`,
    "",
    "| scenario | deliveries | p50 ms | p99 ms | max ms |",
    "|---|---|---|---|---|",
    ...results.map(
      (r) => `| ${r.scenario} | ${r.deliveries}/${r.expected} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.max)} |`,
    ),
  ];
  console.log(lines.join("\n"));
  if (values.out) writeFileSync(values.out, `${lines.join("\n")}\n`);
} finally {
  await Promise.allSettled([a.stop(), b.stop()]);
  await redis.stop();
  await database.drop();
}

/**
 * Channels with the bus on a real three-master Redis Cluster (sharded pub/sub) and the logs on the
 * single Redis at REDIS_URL: two instances, a room, both kinds of publication, and fan-out only to
 * the instance that has a subscriber, counted on the shard that owns the channel.
 */
import { startRedisCluster, type TestRedisCluster } from "@plauder/runtime/testing/redis-cluster";
import { afterAll, beforeAll, expect, it } from "vitest";
import { offsets, range, recordChannel } from "./support/channel-recorder";
import { sleep } from "./support/clients";
import { startPair, type TestPair } from "./support/cluster";

let redisCluster: TestRedisCluster;
let cluster: TestPair;

beforeAll(async () => {
  redisCluster = await startRedisCluster(3);
  cluster = await startPair({
    env: { REDIS_CLUSTER_NODES: redisCluster.addresses.join(","), PUBLISH_RATE_LIMIT: "100000" },
  });
}, 90_000);

afterAll(async () => {
  await cluster?.stop();
  await redisCluster?.stop();
});

it("carries a room's durable and ephemeral publications between instances over sharded pub/sub, only where subscribed", async () => {
  const { a, b, anna, bert } = cluster;
  const annaA = await cluster.clients.connect(a.url, anna);
  const bertB = await cluster.clients.connect(b.url, bert);
  const room = await annaA.api.rooms.create.mutate({ name: "Verteilt" });
  await annaA.api.rooms.invite.mutate({ roomId: room.id, email: bert.email });
  const topic = `${cluster.env.REDIS_KEY_PREFIX}{ch:${room.channel}}`;
  const shard = await redisCluster.owner(topic);
  const subscribers = async () => Number((await shard.admin.pubsub("SHARDNUMSUB", topic))[1]);
  expect(await subscribers()).toBe(0);

  const listening = recordChannel(bertB, room.channel);
  await listening.until((r) => r.syncs().length === 1, "Bert's subscription");
  // Only instance B subscribed the channel's shard channel; A publishes without subscribing.
  expect(await subscribers()).toBe(1);

  for (const start of [1, 51]) {
    await Promise.all(
      range(start, start + 49).map((i) => annaA.api.channels.publish.mutate({ channel: room.channel, text: `d${i}` })),
    );
  }
  await Promise.all(
    range(1, 50).map((i) =>
      annaA.api.channels.publish.mutate({ channel: room.channel, text: `e${i}`, ephemeral: true }),
    ),
  );
  await listening.until(
    (r) => r.publications("durable").length === 100 && r.publications("ephemeral").length === 50,
    "100 durable and 50 ephemeral publications",
  );
  expect(offsets(listening.publications("durable"))).toEqual(range(1, 100));
  expect(offsets(listening.publications("ephemeral"))).toEqual(range(1, 50));

  listening.stop();
  const deadline = Date.now() + 2_000;
  while ((await subscribers()) > 0 && Date.now() < deadline) await sleep(25);
  expect(await subscribers()).toBe(0);
});

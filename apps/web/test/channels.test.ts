/**
 * Channels on two real instances sharing one Redis and one Postgres: rooms with members only,
 * per-channel order, resume with `recovered`, ephemeral publications that never touch Postgres,
 * fan-out only to instances with subscribers, presence counted per person.
 */
import type { PlauderClient } from "@plauder/client";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { offsets, range, recordChannel } from "./support/channel-recorder";
import { type Account, newAccount, record, refusal, sleep } from "./support/clients";
import { startCluster, type TestCluster } from "./support/cluster";
import { type Instance, testRedisUrl } from "./support/processes";

let a: Instance;
let b: Instance;
let anna: Account;
let bert: Account;
let carl: Account;
let cluster: TestCluster;
let env: Record<string, string>;
let redis: Redis;
let sql: pg.Client;
const maxChannels = 6;

const open = new Map<string, Promise<PlauderClient>>();

/** One connection per person and instance, shared by the tests (a person may hold only so many). */
function client(instance: Instance, account: Account): Promise<PlauderClient> {
  const key = `${instance.id}|${account.id}`;
  let connection = open.get(key);
  if (!connection) {
    connection = cluster.clients.connect(instance.url, account);
    open.set(key, connection);
  }
  return connection;
}

/** Anna's connection on a and Bert's on b, and a new room of Anna's that Bert is invited to. */
async function roomOfAnnaAndBert(name: string) {
  const annaA = await client(a, anna);
  const bertB = await client(b, bert);
  const room = await annaA.api.rooms.create.mutate({ name });
  await annaA.api.rooms.invite.mutate({ roomId: room.id, email: bert.email });
  return { annaA, bertB, room };
}

/** Subscribers Redis counts on a channel's topic, across all instances. */
async function topicSubscribers(channel: string): Promise<number> {
  const [, count] = (await redis.pubsub("NUMSUB", `${env.REDIS_KEY_PREFIX}{ch:${channel}}`)) as [string, number];
  return count;
}

beforeAll(async () => {
  cluster = await startCluster({
    env: { PUBLISH_RATE_LIMIT: "100000", WS_MAX_CHANNELS: String(maxChannels), PRESENCE_TTL_SECONDS: "3" },
  });
  env = cluster.env;
  [a, b] = cluster.instances as [Instance, Instance];
  [anna, bert, carl] = await Promise.all([
    newAccount(a.url, "Anna"),
    newAccount(b.url, "Bert"),
    newAccount(a.url, "Carl"),
  ]);
  redis = new Redis(testRedisUrl);
  sql = new pg.Client({ connectionString: cluster.databaseUrl });
  await sql.connect();
});

afterAll(async () => {
  await sql?.end();
  redis?.disconnect();
  await cluster?.stop();
});

describe("rooms", () => {
  it("are for their members: a stranger can neither read, publish, list nor join", async () => {
    const annaA = await client(a, anna);
    const carlA = await client(a, carl);
    const room = await annaA.api.rooms.create.mutate({ name: "Stammtisch" });
    expect(room.channel).toBe(`room:${room.id}`);

    const spy = recordChannel(carlA, room.channel);
    await spy.until((r) => r.error() !== null, "the refusal");
    expect(spy.error()?.data?.code).toBe("FORBIDDEN");
    expect(await refusal(carlA.api.channels.publish.mutate({ channel: room.channel, text: "hallo?" }))).toMatchObject({
      code: "FORBIDDEN",
      message: "Only members of this room may use its channel",
    });
    expect(await refusal(carlA.api.channels.history.query({ channel: room.channel }))).toMatchObject({
      code: "FORBIDDEN",
    });
    expect(await refusal(carlA.api.rooms.members.query({ roomId: room.id }))).toMatchObject({ code: "FORBIDDEN" });
    expect(await refusal(carlA.api.rooms.invite.mutate({ roomId: room.id, email: carl.email }))).toMatchObject({
      code: "FORBIDDEN",
    });
    expect(await carlA.api.rooms.list.query()).toEqual([]);
    // The refusals disturbed nothing else on Carl's connection.
    const lobby = recordChannel(carlA, "lobby");
    await lobby.until((r) => r.syncs().length === 1, "the lobby's sync");
    lobby.stop();
  });

  it("carry an invited member's messages across instances, in order, exactly once", async () => {
    const annaA = await client(a, anna);
    const bertB = await client(b, bert);
    const room = await annaA.api.rooms.create.mutate({ name: "Kaffeeklatsch" });
    const notices = recordChannel(bertB, `user:${bert.id}`);
    await notices.until((r) => r.syncs().length === 1, "Bert's own channel");

    const invited = await annaA.api.rooms.invite.mutate({ roomId: room.id, email: bert.email.toUpperCase() });
    expect(invited).toMatchObject({ added: true, member: { id: bert.id, role: "member" } });
    await notices.until((r) => r.publications().length === 1, "the invitation notice");
    expect(notices.publications()[0]?.text).toContain("Kaffeeklatsch");
    expect((await bertB.api.rooms.list.query()).map((r) => r.id)).toEqual([room.id]);

    const listening = recordChannel(bertB, room.channel);
    await listening.until((r) => r.syncs().length === 1, "Bert's subscription");
    // Both publish at once from two instances: one order per channel, no lock shared with other channels.
    const sent = await Promise.all([
      ...range(1, 100).map((i) => annaA.api.channels.publish.mutate({ channel: room.channel, text: `anna ${i}` })),
      ...range(1, 100).map((i) => bertB.api.channels.publish.mutate({ channel: room.channel, text: `bert ${i}` })),
    ]);
    expect(new Set(sent.map((ack) => ack.offset)).size).toBe(200);
    await listening.until((r) => r.publications().length >= 200, "200 publications");
    expect(offsets(listening.publications())).toEqual(range(1, 200));
    expect(new Set(listening.publications().map((p) => p.epoch)).size).toBe(1);
    // Each person's own messages arrive in the order they were acknowledged.
    const annas = listening.publications().filter((p) => p.sender.id === anna.id);
    expect(annas.map((p) => p.text)).toEqual(
      range(1, 100)
        .map((i) => `anna ${i}`)
        .sort((x, y) => {
          const ack = (t: string) => sent.find((_, index) => index < 100 && `anna ${index + 1}` === t)?.offset ?? 0;
          return ack(x) - ack(y);
        }),
    );

    const history = await bertB.api.channels.history.query({ channel: room.channel, limit: 50 });
    expect(history.hasMore).toBe(true);
    expect(history.publications.map((p) => p.offset)).toEqual(range(151, 200));
    const older = await bertB.api.channels.history.query({ channel: room.channel, limit: 50, before: 151 });
    expect(older.publications.map((p) => p.offset)).toEqual(range(101, 150));
    listening.stop();
    notices.stop();
  });

  it("end a removed member's live subscription with FORBIDDEN, on another instance too", async () => {
    const { annaA, bertB, room } = await roomOfAnnaAndBert("Lesekreis");
    const listening = recordChannel(bertB, room.channel);
    await listening.until((r) => r.syncs().length === 1, "Bert's subscription");

    await annaA.api.rooms.remove.mutate({ roomId: room.id, userId: bert.id });
    await listening.until((r) => r.error() !== null, "the expulsion");
    expect(listening.error()?.data?.code).toBe("FORBIDDEN");
    expect(await refusal(bertB.api.channels.publish.mutate({ channel: room.channel, text: "noch da?" }))).toMatchObject(
      {
        code: "FORBIDDEN",
      },
    );
  });
});

describe("channel names and limits", () => {
  it("refuses unknown and malformed names with BAD_REQUEST, and other people's channels with FORBIDDEN", async () => {
    const carlA = await client(a, carl);
    for (const channel of ["", "lobby2", "room:", "room:not-a-uuid", "chat:1", "user:ABC", `room:${"a".repeat(80)}`]) {
      expect(await refusal(carlA.api.channels.publish.mutate({ channel, text: "x" }))).toMatchObject({
        code: "BAD_REQUEST",
      });
    }
    expect(await refusal(carlA.api.channels.publish.mutate({ channel: `user:${carl.id}`, text: "x" }))).toMatchObject({
      code: "FORBIDDEN",
      message: "Only the server publishes to user channels",
    });
    const other = recordChannel(carlA, `user:${anna.id}`);
    await other.until((r) => r.error() !== null, "the refusal");
    expect(other.error()?.data?.code).toBe("FORBIDDEN");
    const conversation = await (await client(a, anna)).api.conversations.create.mutate({ title: "Beim Bäcker" });
    expect(
      await refusal(carlA.api.channels.publish.mutate({ channel: conversation.channel, text: "x" })),
    ).toMatchObject({ code: "FORBIDDEN" });
  });

  it(`caps channel subscriptions per connection at WS_MAX_CHANNELS (${maxChannels})`, async () => {
    const annaA = await client(a, anna);
    const held = [];
    for (let i = 0; i < maxChannels; i++) {
      const conversation = await annaA.api.conversations.create.mutate({ title: `c${i}` });
      const recorder = recordChannel(annaA, conversation.channel);
      await recorder.until((r) => r.syncs().length === 1, `subscription ${i}`);
      held.push(recorder);
    }
    const extra = recordChannel(annaA, "lobby");
    await extra.until((r) => r.error() !== null, "the refusal");
    expect(extra.error()?.data?.code).toBe("TOO_MANY_REQUESTS");
    // Ending one frees its slot.
    held.pop()?.stop();
    await sleep(100);
    const again = recordChannel(annaA, "lobby");
    await again.until((r) => r.syncs().length === 1, "a subscription in the freed slot");
    for (const recorder of [...held, again]) recorder.stop();
  });
});

describe("publication kinds", () => {
  it("keeps ephemeral publications out of Postgres and in their own ordered log", async () => {
    const { annaA, bertB, room } = await roomOfAnnaAndBert("Tippen");
    const listening = recordChannel(bertB, room.channel);
    await listening.until((r) => r.syncs().length === 1, "the subscription");
    const before = await sql.query("select count(*)::int as n from channel_messages");

    // Three ticks of 100 calls: wsLink packs one tick's calls into one frame, and a frame carries at most 100.
    for (const start of [1, 101, 201]) {
      await Promise.all(
        range(start, start + 99).map((i) =>
          annaA.api.channels.publish.mutate({ channel: room.channel, text: `tippt ${i}`, ephemeral: true }),
        ),
      );
    }
    await listening.until((r) => r.publications("ephemeral").length >= 300, "300 ephemeral publications");
    expect(offsets(listening.publications("ephemeral"))).toEqual(range(1, 300));
    const after = await sql.query("select count(*)::int as n from channel_messages");
    expect(after.rows[0].n).toBe(before.rows[0].n);
    // A conversation's publications are ephemeral unless they say otherwise.
    const conversation = await annaA.api.conversations.create.mutate({});
    const ack = await annaA.api.channels.publish.mutate({ channel: conversation.channel, text: "Guten" });
    expect(ack.id).toMatch(/^e:/);
    listening.stop();
  });
});

describe("resume", () => {
  it("replays exactly what was missed from both logs, then says recovered", async () => {
    const { annaA, bertB, room } = await roomOfAnnaAndBert("Wiederholung");
    const first = recordChannel(bertB, room.channel);
    await first.until((r) => r.syncs().length === 1, "the subscription");
    for (const i of range(1, 10)) await annaA.api.channels.publish.mutate({ channel: room.channel, text: `d${i}` });
    await annaA.api.channels.publish.mutate({ channel: room.channel, text: "e1", ephemeral: true });
    await first.until((r) => r.publications().length === 11, "11 publications");
    const resumeFrom = first.lastId() as string;
    first.stop();

    for (const i of range(11, 20)) await annaA.api.channels.publish.mutate({ channel: room.channel, text: `d${i}` });
    for (const i of range(2, 5)) {
      await annaA.api.channels.publish.mutate({ channel: room.channel, text: `e${i}`, ephemeral: true });
    }
    const resumed = recordChannel(bertB, room.channel, resumeFrom);
    await resumed.until((r) => r.syncs().length === 1, "the sync after the replay");
    expect(resumed.syncs()[0]).toMatchObject({ resumed: true, recovered: true, lost: [] });
    expect(offsets(resumed.publications("durable"))).toEqual(range(11, 20));
    expect(offsets(resumed.publications("ephemeral"))).toEqual(range(2, 5));
    expect(resumed.publications().every((p) => p.replayed)).toBe(true);
    // And live after it, without a gap or a repeat.
    await annaA.api.channels.publish.mutate({ channel: room.channel, text: "d21" });
    await resumed.until((r) => r.publications("durable").length === 11, "the live publication");
    expect(resumed.publications("durable").at(-1)).toMatchObject({ offset: 21, text: "d21" });
    resumed.stop();
  });

  it("starts a subscription on an instance new to the channel at the durable log's head", async () => {
    const annaA = await client(a, anna);
    const annaB = await client(b, anna);
    const room = await annaA.api.rooms.create.mutate({ name: "Neu hier" });
    for (const i of range(1, 5)) await annaA.api.channels.publish.mutate({ channel: room.channel, text: `d${i}` });
    // Nobody on B has subscribed to the room: its feed starts now, and must start at offset 5.
    const fresh = recordChannel(annaB, room.channel);
    await fresh.until((r) => r.syncs().length === 1, "the sync");
    expect(fresh.lastId()).toMatch(/^[a-z0-9]+:5::0$/);
    await annaA.api.channels.publish.mutate({ channel: room.channel, text: "e1", ephemeral: true });
    await fresh.until((r) => r.publications().length === 1, "the ephemeral publication");
    expect(fresh.lastId()).toMatch(/^[a-z0-9]+:5:[a-z0-9]+:1$/);
    fresh.stop();
  });

  it("says recovered: false when history cannot cover the gap, and which log", async () => {
    const annaA = await client(a, anna);
    const room = await annaA.api.rooms.create.mutate({ name: "Verloren" });
    const first = recordChannel(annaA, room.channel);
    await first.until((r) => r.syncs().length === 1, "the subscription");
    await annaA.api.channels.publish.mutate({ channel: room.channel, text: "d1" });
    await annaA.api.channels.publish.mutate({ channel: room.channel, text: "e1", ephemeral: true });
    await first.until((r) => r.publications().length === 2, "two publications");
    const resumeFrom = first.lastId() as string;
    first.stop();
    await annaA.api.channels.publish.mutate({ channel: room.channel, text: "d2" });
    await annaA.api.channels.publish.mutate({ channel: room.channel, text: "e2", ephemeral: true });

    // Redis loses the channel's ephemeral log (a restart without persistence, an eviction)…
    await redis.del(
      `${env.REDIS_KEY_PREFIX}{ch:${room.channel}}:meta`,
      `${env.REDIS_KEY_PREFIX}{ch:${room.channel}}:log`,
    );
    const afterLoss = recordChannel(annaA, room.channel, resumeFrom);
    await afterLoss.until((r) => r.syncs().length === 1, "the sync");
    expect(afterLoss.syncs()[0]).toMatchObject({ resumed: true, recovered: false, lost: ["ephemeral"] });
    // …the durable log is still whole and is replayed.
    expect(afterLoss.publications().map((p) => p.text)).toEqual(["d2"]);
    afterLoss.stop();

    // Retention deletes durable publications the subscriber never saw.
    await sql.query('delete from channel_messages where channel = $1 and "offset" = 2', [room.channel]);
    const afterPrune = recordChannel(annaA, room.channel, resumeFrom);
    await afterPrune.until((r) => r.syncs().length === 1, "the sync");
    expect(afterPrune.syncs()[0]).toMatchObject({ recovered: false });
    expect(afterPrune.syncs()[0]?.lost).toContain("durable");
    expect(afterPrune.publications("durable")).toEqual([]);
    afterPrune.stop();
  });
});

describe("fan-out", () => {
  it("reaches only instances with a subscriber: Redis counts none on the topic until someone subscribes", async () => {
    const { annaA, bertB, room } = await roomOfAnnaAndBert("Nur hier");
    await annaA.api.channels.publish.mutate({ channel: room.channel, text: "niemand hört" });
    expect(await topicSubscribers(room.channel)).toBe(0);

    const onB = recordChannel(bertB, room.channel);
    await onB.until((r) => r.syncs().length === 1, "the subscription on B");
    expect(await topicSubscribers(room.channel)).toBe(1);
    const onA = recordChannel(annaA, room.channel);
    await onA.until((r) => r.syncs().length === 1, "the subscription on A");
    expect(await topicSubscribers(room.channel)).toBe(2);

    onB.stop();
    onA.stop();
    const deadline = Date.now() + 2_000;
    while ((await topicSubscribers(room.channel)) > 0 && Date.now() < deadline) await sleep(25);
    expect(await topicSubscribers(room.channel)).toBe(0);
  });

  it("keeps the lobby one log: a v1 broadcast is a lobby publication and the other way round", async () => {
    const annaA = await client(a, anna);
    const bertB = await client(b, bert);
    const v1 = record(bertB);
    await v1.started;
    const v2 = recordChannel(bertB, "lobby");
    await v2.until((r) => r.syncs().length === 1, "the lobby subscription");
    const viaV1 = await annaA.api.realtime.publish.mutate({ text: "über v1" });
    const viaV2 = await annaA.api.channels.publish.mutate({ channel: "lobby", text: "über v2" });
    expect(viaV2.offset).toBeGreaterThan(Number(viaV1.id));
    await v1.waitFor(2, 5_000);
    await v2.until((r) => r.publications().length === 2, "both in the lobby");
    expect(v1.received.map((x) => x.text)).toEqual(["über v1", "über v2"]);
    expect(v2.publications().map((p) => [p.offset, p.text])).toEqual([
      [Number(viaV1.id), "über v1"],
      [viaV2.offset, "über v2"],
    ]);
    v1.stop();
    v2.stop();
  });
});

describe("presence", () => {
  it("counts a person with two tabs once, across instances, and announces joins and leaves", async () => {
    const annaA = await client(a, anna);
    const room = await annaA.api.rooms.create.mutate({ name: "Wer ist da" });
    await annaA.api.rooms.invite.mutate({ roomId: room.id, email: bert.email });
    const events: { type: string; user?: { id: string }; users?: { id: string }[] | null }[] = [];
    const watching = annaA.api.channels.presence.subscribe(
      { channel: room.channel },
      { onData: (event) => events.push(event) },
    );
    const until = async (check: () => boolean, what: string) => {
      const deadline = Date.now() + 5_000;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(events)}`);
        await sleep(20);
      }
    };
    await until(() => events.some((e) => e.type === "snapshot"), "the snapshot");
    expect(events.find((e) => e.type === "snapshot")?.users?.map((u) => u.id)).toContain(anna.id);

    // Two tabs: two connections of Bert's, on different instances.
    const tab1 = await client(b, bert);
    const tab2 = await cluster.clients.connect(a.url, bert);
    const first = recordChannel(tab1, room.channel);
    const second = recordChannel(tab2, room.channel);
    await until(() => events.some((e) => e.type === "join" && e.user?.id === bert.id), "Bert's join");
    await first.until((r) => r.syncs().length === 1, "tab 1");
    await second.until((r) => r.syncs().length === 1, "tab 2");
    await sleep(200);
    expect(events.filter((e) => e.type === "join" && e.user?.id === bert.id)).toHaveLength(1);

    first.stop();
    await sleep(300);
    expect(events.some((e) => e.type === "leave")).toBe(false);
    second.stop();
    await until(() => events.some((e) => e.type === "leave" && e.user?.id === bert.id), "Bert's leave");
    watching.unsubscribe();
  });
});

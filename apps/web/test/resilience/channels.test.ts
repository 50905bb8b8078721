/**
 * Channels under faults. Five rooms whose four members sit on two instances behind a load balancer:
 * every member subscribes to every room from two connections, and every room gets a steady stream
 * of durable and ephemeral publications through both instances. Then Redis is SIGKILLed and
 * restarted, an instance is SIGKILLed (its clients move to the other and resume with their last
 * id), and Postgres is stopped the hard way and restarted. A per-channel ledger checks each room:
 * acknowledged durable publications reach every subscriber exactly once in offset order (live,
 * replayed, or from the history it reloads after `recovered: false`), and ephemeral ones arrive in
 * order within their epoch or behind a sync that says they were lost, never through a silent hole.
 */
import type { PublishAck } from "@plauder/api";
import type { PlauderClient } from "@plauder/client";
import { median } from "@plauder/runtime/stats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Account, HttpProcedureError, newAccount, sleep } from "../support/clients";
import { startCluster, type TestCluster } from "../support/cluster";
import { bulkTrafficBudgets, type Instance, startRedis, type TestRedis } from "../support/processes";
import {
  type ChannelCheck,
  ChannelLedger,
  mustBeZero,
  type PublicationKind,
  type StoredLog,
  totals,
} from "./support/channel-ledger";
import { ChannelSubscriber } from "./support/channel-subscriber";
import { outage } from "./support/outage";
import { type PostgresServer, startPostgresServer } from "./support/postgres-server";
import { scale } from "./support/profile";
import { type Figures, reportCase } from "./support/report";
import { randomBetween } from "./support/stream";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy";

let redis: TestRedis;
let postgres: PostgresServer;
let cluster: TestCluster;
let a: Instance;
let b: Instance;
let balancer: TcpProxy;
let members: Account[] = [];

const roomCount = 5;
/** Connections per member, through the balancer: with four members, eight spread over both instances. */
const connectionsPerMember = 2;
/** Each room gets one durable and one ephemeral publish stream, each publishing this often. */
const publishIntervalMs = 120;

beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(), startPostgresServer()]);
  cluster = await startCluster({
    databaseUrl: postgres.url,
    redisUrl: redis.url,
    env: bulkTrafficBudgets,
  });
  [a, b] = cluster.instances as [Instance, Instance];
  balancer = await startTcpProxy([a.port, b.port]);
  members = await Promise.all(["Anna", "Bert", "Carl", "Dora"].map((name, i) => newAccount((i % 2 ? b : a).url, name)));
});

afterAll(async () => {
  if (process.env.SHOW_OUTPUT) console.log(a?.output(), b?.output());
  // The clients go first: most are connected through the balancer.
  await cluster?.clients.close();
  await balancer?.close();
  await cluster?.stop();
  await redis?.stop();
  postgres?.destroy();
});

/** One tRPC call over HTTP (the path a server-side job takes): a mutation by POST, a query by GET. */
async function call<T>(baseUrl: string, token: string, path: string, input: unknown, query = false): Promise<T> {
  const url = `${baseUrl}/api/trpc/${path}`;
  const response = await fetch(query ? `${url}?input=${encodeURIComponent(JSON.stringify(input))}` : url, {
    method: query ? "GET" : "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: query ? undefined : JSON.stringify(input),
    // A request to an instance killed mid-answer fails rather than hangs.
    signal: AbortSignal.timeout(5_000),
  });
  const body = (await response.json()) as {
    result?: { data: T };
    error?: { message: string; data?: HttpProcedureError["data"] };
  };
  if (!body.result) throw new HttpProcedureError(body.error?.message ?? `HTTP ${response.status}`, body.error?.data);
  return body.result.data;
}

type Room = { id: string; channel: string; label: string };

/** Rooms owned in turn by each member, with every other member invited. */
async function createRooms(tag: string): Promise<Room[]> {
  const rooms: Room[] = [];
  for (let i = 0; i < roomCount; i++) {
    const owner = members[i % members.length] as Account;
    const instance = i % 2 ? b : a;
    const room = await call<{ id: string; channel: string }>(instance.url, owner.token, "rooms.create", {
      name: `${tag} ${i + 1}`,
    });
    for (const member of members) {
      if (member !== owner)
        await call(instance.url, owner.token, "rooms.invite", { roomId: room.id, email: member.email });
    }
    rooms.push({ id: room.id, channel: room.channel, label: `room ${i + 1}` });
  }
  return rooms;
}

/** Every member's connections through the balancer, each subscribed to every room; resolves once all are live. */
async function subscribeAll(rooms: Room[]): Promise<{ subscribers: ChannelSubscriber[]; close(): Promise<void> }> {
  const own: PlauderClient[] = [];
  const subscribers: ChannelSubscriber[] = [];
  for (let c = 0; c < members.length * connectionsPerMember; c++) {
    const client = await cluster.clients.connect(balancer.url, members[c % members.length] as Account);
    own.push(client);
    for (const room of rooms) subscribers.push(new ChannelSubscriber(client, room.channel, `connection ${c + 1}`));
  }
  const deadline = Date.now() + 15_000;
  while (!subscribers.every((s) => s.syncs().length > 0)) {
    const failed = subscribers.find((s) => s.errors.length > 0);
    if (failed)
      throw new Error(`${failed.label} could not subscribe to ${failed.channel}: ${failed.errors[0]?.message}`);
    if (Date.now() > deadline) throw new Error("not every subscription started within 15 s");
    await sleep(25);
  }
  await Promise.all(subscribers.map((s) => s.reloaded()));
  return {
    subscribers,
    async close() {
      for (const s of subscribers) s.stop();
      await Promise.allSettled(own.map((client) => client.close()));
    },
  };
}

type PublishedAck = { channel: string; kind: PublicationKind; instance: string; at: number; ack: PublishAck };

/**
 * Per room one durable and one ephemeral publish stream over HTTP, each alternating between the two
 * instances and among the room's members. A publish is never retried: a failure stays a failure.
 */
function publishStreams(ledger: ChannelLedger, rooms: Room[]) {
  let running = true;
  const acks: PublishedAck[] = [];
  const loops = rooms.flatMap((room, r) =>
    (["durable", "ephemeral"] as const).map(async (kind) => {
      await sleep((publishIntervalMs * (2 * r + (kind === "durable" ? 0 : 1))) / (2 * rooms.length));
      for (let i = 0; running; i++) {
        const instance = (i + r) % 2 ? b : a;
        const sender = members[(i + r) % members.length] as Account;
        const text = `${room.label} ${kind} ${i}`;
        const outcome = await ledger.publish(room.channel, kind, text, () =>
          call<PublishAck>(instance.url, sender.token, "channels.publish", {
            channel: room.channel,
            text,
            ephemeral: kind === "ephemeral",
          }),
        );
        if (outcome.ok)
          acks.push({ channel: room.channel, kind, instance: instance.id, at: Date.now(), ack: outcome.ack });
        await sleep(publishIntervalMs);
      }
    }),
  );
  return {
    /** ms from `since` until a publish of `kind` through `instance` (either, if not given) was acknowledged, sent after `since`. */
    async acknowledgedAgain(since: number, kind: PublicationKind, instance?: Instance, timeoutMs = recoveryWaitMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const ack = acks.find(
          (x) => x.kind === kind && x.ack.sentAt > since && (!instance || x.instance === instance.id),
        );
        if (ack) return ack.at - since;
        if (Date.now() > deadline) throw new Error(`no ${kind} publish was acknowledged within ${timeoutMs} ms`);
        await sleep(20);
      }
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/**
 * A case's traffic: `roomCount` new rooms, every member subscribed to each from every connection,
 * and both publish streams of every room running.
 */
async function startRoomTraffic(tag: string) {
  const rooms = await createRooms(tag);
  const { subscribers, close } = await subscribeAll(rooms);
  const ledger = new ChannelLedger();
  const streams = publishStreams(ledger, rooms);
  return {
    rooms,
    subscribers,
    ledger,
    streams,
    /** Lets the last publications arrive, stops the streams and the subscriptions, and checks every room. */
    async finish(): Promise<ChannelCheck[]> {
      await sleep(800);
      await streams.stop();
      await ledger.settle(subscribers, storedLog);
      const checks = await ledger.check(subscribers, storedLog);
      await close();
      return checks;
    },
  };
}

/** What every case's report says of its setting, before the fault it describes. */
const trafficMethod = `${roomCount} rooms of four members, each member subscribed to every room from two connections spread over both instances; per room a durable and an ephemeral publish every ${publishIntervalMs} ms over HTTP, through both instances in turn.`;

/**
 * ms from `since` until every subscriber had a publication of `kind` sent after `since` (the time
 * until every subscriber of every room was live again). Waits up to `timeoutMs` for the last one.
 */
async function everyoneLiveAgain(subscribers: ChannelSubscriber[], kind: PublicationKind, since: number) {
  const deadline = Date.now() + recoveryWaitMs;
  for (;;) {
    const times = subscribers.map(
      (s) =>
        s.events.find(({ event }) => event.type === "publication" && event.kind === kind && event.sentAt > since)?.at,
    );
    if (times.every((t) => t !== undefined)) return Math.max(...(times as number[])) - since;
    if (Date.now() > deadline) {
      const missing = subscribers.filter((_, i) => times[i] === undefined);
      throw new Error(
        `${missing.length} of ${subscribers.length} subscriptions had no ${kind} publication within ${recoveryWaitMs} ms: ${missing
          .slice(0, 3)
          .map((s) => `${s.label} on ${s.channel} (${s.errors[0]?.message ?? "no error"})`)
          .join(", ")}`,
      );
    }
    await sleep(20);
  }
}

/** A room's stored durable log, read the way a client reads history (all pages), from a live instance. */
async function storedLog(channel: string): Promise<StoredLog> {
  const log: StoredLog = new Map();
  let before: number | undefined;
  for (;;) {
    const page = await call<{ publications: { offset: number; text: string }[]; hasMore: boolean }>(
      a.url,
      (members[0] as Account).token,
      "channels.history",
      { channel, limit: 200, before },
      true,
    );
    for (const p of page.publications) log.set(p.offset, p.text);
    if (!page.hasMore || page.publications.length === 0) return log;
    before = page.publications[0]?.offset;
  }
}

/** Asserts every room's must-be-zero figures, naming the first violations of the room that failed. */
function expectEveryRoomWhole(checks: ChannelCheck[]): void {
  for (const { channel, figures, violations } of checks) {
    const bad = Object.fromEntries(mustBeZero.map((key) => [key, figures[key]]));
    expect(bad, `${channel}:\n${violations.join("\n")}`).toEqual(Object.fromEntries(mustBeZero.map((k) => [k, 0])));
    // Every room was used in both logs: this is not a pass on nothing. (On a busy machine a room
    // had as few as 9 durable publications acknowledged in the short profile, so the floor is low.)
    expect(figures.durableAcknowledged).toBeGreaterThan(3);
    expect(figures.ephemeralAcknowledged).toBeGreaterThan(3);
    expect(figures.durableEpochs).toBe(1);
  }
}

/** The figures a case reports: the totals over every room, then one row per room. */
function channelReport(checks: ChannelCheck[], rooms: Room[]) {
  const sum = totals(checks);
  const figures: Figures = {
    rooms: checks.length,
    "subscriptions (connections × rooms)": sum.subscribers,
    "durable: attempted / acknowledged / failed": `${sum.durableAttempted} / ${sum.durableAcknowledged} / ${sum.durableFailed}`,
    "durable: delivered live / replayed on resume / only from reloaded history": `${sum.durableDelivered - sum.durableReplayed} / ${sum.durableReplayed} / ${sum.durableFromHistory}`,
    "durable: lost / duplicated / out of order / silent gaps": `${sum.durableLost} / ${sum.durableDuplicated} / ${sum.durableOutOfOrder} / ${sum.durableSilentGaps}`,
    "failed publishes stored anyway: delivered / missed": `${sum.unacknowledgedDelivered} / ${sum.unacknowledgedMissed}`,
    "ephemeral: attempted / acknowledged / failed": `${sum.ephemeralAttempted} / ${sum.ephemeralAcknowledged} / ${sum.ephemeralFailed}`,
    "ephemeral: delivered / lost behind a loss sync / lost silently": `${sum.ephemeralDelivered} / ${sum.ephemeralLostAnnounced} / ${sum.ephemeralLostSilently}`,
    "ephemeral: duplicated / out of order": `${sum.ephemeralDuplicated} / ${sum.ephemeralOutOfOrder}`,
    "ephemeral loss syncs received": sum.ephemeralLossSyncs,
    "resumes (not recovered)": `${sum.resumes} (${sum.resumesNotRecovered})`,
    "history reloads after recovered: false": sum.reloads,
    "subscriptions ended by an error": sum.subscriptionErrors,
  };
  const label = (channel: string) => rooms.find((r) => r.channel === channel)?.label ?? channel;
  const breakdown = {
    caption: "Per room (summed over its subscriptions)",
    columns: [
      "room",
      "durable acked / failed",
      "durable delivered / replayed / from history",
      "durable lost / dup / out of order / silent gaps",
      "ephemeral acked / failed",
      "ephemeral delivered / lost behind sync / lost silently",
      "ephemeral epochs",
      "resumes (not recovered)",
    ],
    rows: checks.map(({ channel, figures: f }) => [
      label(channel),
      `${f.durableAcknowledged} / ${f.durableFailed}`,
      `${f.durableDelivered} / ${f.durableReplayed} / ${f.durableFromHistory}`,
      `${f.durableLost} / ${f.durableDuplicated} / ${f.durableOutOfOrder} / ${f.durableSilentGaps}`,
      `${f.ephemeralAcknowledged} / ${f.ephemeralFailed}`,
      `${f.ephemeralDelivered} / ${f.ephemeralLostAnnounced} / ${f.ephemeralLostSilently}`,
      f.ephemeralEpochs,
      `${f.resumes} (${f.resumesNotRecovered})`,
    ]),
  };
  return { figures, breakdown };
}

/**
 * Recovery bounds: about three times the worst figure measured on a two-core machine that also ran
 * every client, both instances, the balancer, Redis and Postgres, and at times other test suites
 * (load average up to 18), so that a real regression fails and a busy machine does not.
 */
const bounds = {
  /**
   * Redis restarted → every subscription of every room has an ephemeral publication sent after the
   * restart. Measured: 629 ms quiet, up to 1 590 ms busy.
   */
  redisEphemeralLiveMs: 5_000,
  /**
   * Instance SIGKILLed → every subscription of every room has a durable publication sent after the
   * kill (its connections moved and resumed). Measured: 1 105–1 835 ms.
   */
  instanceKillLiveMs: 6_000,
  /**
   * Postgres started → both instances acknowledge durable publishes again. Measured: 451 ms quiet,
   * up to 1 024 ms busy (each instance's next publish comes with the streams' cadence).
   */
  postgresPublishingMs: 3_000,
  /** Postgres started → every subscription of every room has a durable publication sent after the start. Measured: 240–414 ms. */
  postgresLiveMs: 2_500,
};
/** How long to wait before giving up, so a slow recovery fails with its figure rather than a timeout. */
const recoveryWaitMs = 10_000;
/** The heavy profile repeats each fault three times as often, and each instance kill waits for a restart. */
const caseTimeoutMs = scale(120_000, 300_000);

describe("channels under faults", () => {
  it(
    "Redis SIGKILLed and restarted: durable logs stay whole, ephemeral losses are announced",
    async () => {
      const kills = scale(2, 6);
      const { rooms, subscribers, streams, finish } = await startRoomTraffic("redis");
      expect(new Set(balancer.links()).size).toBe(2);
      const outages: number[] = [];
      const publishing: number[] = [];
      const ephemeralLive: number[] = [];
      const durableLive: number[] = [];
      for (let i = 0; i < kills; i++) {
        const { restartedAt: restarted, downMs } = await outage(redis, { after: [800, 1_500], down: [300, 1_000] });
        outages.push(Math.round(downMs));
        const [ack, ephemeral, durable] = await Promise.all([
          streams.acknowledgedAgain(restarted, "ephemeral"),
          everyoneLiveAgain(subscribers, "ephemeral", restarted),
          everyoneLiveAgain(subscribers, "durable", restarted),
        ]);
        publishing.push(ack);
        ephemeralLive.push(ephemeral);
        durableLive.push(durable);
        expect(ephemeral, "ms until every subscription had a new ephemeral publication").toBeLessThan(
          bounds.redisEphemeralLiveMs,
        );
      }
      const checks = await finish();

      expectEveryRoomWhole(checks);
      const sum = totals(checks);
      // Durable publishing never depends on Redis: the store acknowledges, the feeds read it back.
      expect(sum.durableFailed).toBe(0);
      // Redis lost every ephemeral log with each kill; subscribers heard so instead of a silent hole.
      expect(sum.ephemeralLossSyncs).toBeGreaterThan(0);
      for (const { figures } of checks) expect(figures.ephemeralEpochs).toBeGreaterThan(1);
      const { figures, breakdown } = channelReport(checks, rooms);
      reportCase({
        id: "channels.redis-restarts",
        section: "Channel faults",
        title: "Channels: Redis killed and restarted",
        method: `Two instances behind a TCP load balancer, ${trafficMethod} Redis SIGKILLed ${kills} times and restarted after a random 0.3–1 s.`,
        figures: {
          ...figures,
          "Redis kills": kills,
          "outages (ms)": outages.join(", "),
          "ephemeral publishes acknowledged again after restart (ms)": publishing.join(", "),
          "every subscription had a new ephemeral publication after restart, median / max (ms)": `${median(ephemeralLive)} / ${Math.max(...ephemeralLive)}`,
          "every subscription had a new durable publication after restart, median / max (ms)": `${median(durableLive)} / ${Math.max(...durableLive)}`,
        },
        breakdown,
      });
    },
    caseTimeoutMs,
  );

  it(
    "an instance SIGKILLed, then the other: clients move over, resume with their last id, and no room loses anything",
    async () => {
      const cycles = scale(1, 3);
      const { rooms, subscribers, finish } = await startRoomTraffic("kill");
      const live: number[] = [];
      const moved: number[] = [];
      // The victim restarts while the case goes on; it is back before the next kill.
      let restarting = Promise.resolve();
      for (let cycle = 0; cycle < cycles; cycle++) {
        for (const victim of [a, b]) {
          await restarting;
          await sleep(randomBetween(800, 1_500));
          const movedFrom = balancer.links().filter((port) => port === victim.port).length;
          const killedAt = Date.now();
          const exit = victim.stop("SIGKILL");
          const resumedMs = await everyoneLiveAgain(subscribers, "durable", killedAt);
          live.push(resumedMs);
          expect(resumedMs, "ms until every subscription was live again after SIGKILL").toBeLessThan(
            bounds.instanceKillLiveMs,
          );
          await exit;
          expect(movedFrom).toBeGreaterThan(0);
          moved.push(movedFrom);
          restarting = victim.start();
        }
      }
      const checks = await finish();
      await restarting;

      expectEveryRoomWhole(checks);
      const sum = totals(checks);
      // The moved subscriptions came back by resuming, and the durable log replayed what they missed.
      expect(sum.resumes).toBeGreaterThan(0);
      const { figures, breakdown } = channelReport(checks, rooms);
      reportCase({
        id: "channels.instance-kills",
        section: "Channel faults",
        title: "Channels: an instance SIGKILLed, then the other",
        method: `Two instances behind a TCP load balancer, ${trafficMethod} ${cycles} cycle(s) of: SIGKILL instance a, restart it, SIGKILL instance b, restart it. Connections move through the balancer to the live instance and wsLink resumes each subscription with its last id.`,
        figures: {
          ...figures,
          "connections moved per kill": moved.join(", "),
          "every subscription live again after SIGKILL, median / max (ms)": `${median(live)} / ${Math.max(...live)}`,
        },
        breakdown,
      });
    },
    caseTimeoutMs,
  );

  it(
    "Postgres stopped the hard way and restarted: failed publishes may be missing, acknowledged ones are all there",
    async () => {
      const restarts = scale(2, 6);
      const { rooms, subscribers, ledger, streams, finish } = await startRoomTraffic("postgres");
      const publishing: number[] = [];
      const live: number[] = [];
      for (let i = 0; i < restarts; i++) {
        const { restartedAt: startedAt } = await outage(postgres, { after: [800, 1_500], down: 1_500 });
        const [onA, onB, liveMs] = await Promise.all([
          streams.acknowledgedAgain(startedAt, "durable", a),
          streams.acknowledgedAgain(startedAt, "durable", b),
          everyoneLiveAgain(subscribers, "durable", startedAt),
        ]);
        publishing.push(Math.max(onA, onB));
        live.push(liveMs);
        expect(publishing.at(-1), "ms until both instances acknowledged durable publishes again").toBeLessThan(
          bounds.postgresPublishingMs,
        );
        expect(liveMs, "ms until every subscription had a new durable publication").toBeLessThan(bounds.postgresLiveMs);
      }
      const checks = await finish();

      expectEveryRoomWhole(checks);
      expect(totals(checks).durableFailed).toBeGreaterThan(0);
      const codes = [...new Set(ledger.failures.map((f) => `${f.kind} ${f.code}`))].sort();
      const { figures, breakdown } = channelReport(checks, rooms);
      reportCase({
        id: "channels.postgres-restarts",
        section: "Channel faults",
        title: "Channels: Postgres stopped and restarted",
        method: `Two instances on a Postgres server of the test's own, ${trafficMethod} Postgres stopped ${restarts} times with \`pg_ctl -m immediate\`, left down 1.5 s, then started.`,
        figures: {
          ...figures,
          "Postgres restarts": restarts,
          "errors of failed publishes": codes.join(", "),
          "both instances acknowledge durable publishes again after start, median / max (ms)": `${median(publishing)} / ${Math.max(...publishing)}`,
          "every subscription had a new durable publication after start, median / max (ms)": `${median(live)} / ${Math.max(...live)}`,
        },
        breakdown,
      });
    },
    caseTimeoutMs,
  );
});

/*
 * Two defects this suite found, each reproduced deterministically: the first `it` of each pair
 * records what happened and asserts what always held; the second asserts what the contract promises.
 */
describe("channels: regressions", () => {
  /** What the double move recorded: one subscriber's ledger figures and the ids it was resumed with. */
  let moved: { figures: ChannelCheck["figures"]; resumedWith: string[]; headBeforeMove: number } | undefined;

  it("a subscription moved to an instance that has no feed for its room yet, then moved again, is recorded", async () => {
    const [room] = await createRooms("move");
    const { channel } = room as Room;
    const owner = members[0] as Account;
    const onA = await cluster.clients.connect(a.url, owner);
    const onB = await cluster.clients.connect(b.url, owner);
    const ledger = new ChannelLedger();
    const publish = (kind: PublicationKind, text: string) =>
      ledger.publish(channel, kind, text, () =>
        call<PublishAck>(a.url, owner.token, "channels.publish", { channel, text, ephemeral: kind === "ephemeral" }),
      );
    const until = async (check: () => boolean, what: string) => {
      const deadline = Date.now() + 5_000;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await sleep(20);
      }
    };

    // Live on instance a: five durable publications.
    const subscriber = new ChannelSubscriber(onA, channel, "moving subscription");
    await until(() => subscriber.syncs().length === 1, "the first sync");
    for (let i = 1; i <= 5; i++) await publish("durable", `d${i}`);
    await until(() => subscriber.publications("durable").length === 5, "five durable publications");
    const resumedWith = [subscriber.events.at(-1)?.id as string];

    // Moves to instance b, where nobody subscribed to the room before (as after a kill and restart):
    // the resume replays nothing and says recovered. An ephemeral publication comes next.
    subscriber.moveTo(onB);
    await until(() => subscriber.syncs().length === 2, "the sync of the first resume");
    expect(subscriber.syncs()[1]).toMatchObject({ resumed: true, recovered: true, lost: [] });
    await publish("ephemeral", "e1");
    await until(() => subscriber.publications("ephemeral").length === 1, "the ephemeral publication");

    // Moves again before the room's next durable publication, with the last id it was given.
    resumedWith.push(subscriber.events.at(-1)?.id as string);
    subscriber.moveTo(onA);
    await until(() => subscriber.syncs().length === 3, "the sync of the second resume");
    await publish("durable", "d6");
    await until(() => subscriber.publications("durable").some((p) => p.offset === 6), "durable 6");
    await sleep(300);
    subscriber.stop();
    const [check] = await ledger.check([subscriber], storedLog);
    const figures = (check as ChannelCheck).figures;
    // Nothing was lost and no resume was refused: the defect is only what arrives twice.
    expect(figures).toMatchObject({ durableLost: 0, ephemeralLostSilently: 0, subscriptionErrors: 0, resumes: 2 });
    moved = { figures, resumedWith, headBeforeMove: 5 };
  });

  /**
   * A feed used to start at durable offset 0 instead of the log's head, so a subscription that
   * resumed onto a new feed and then got only ephemeral publications held `<epoch>:0:…` as its
   * last id, and its next resume replayed the whole durable log again.
   */
  it("and is given nothing twice", () => {
    if (!moved) throw new Error("the case above did not run");
    expect(
      moved.figures.durableDuplicated,
      `durable publications it was given twice; it resumed with ${moved.resumedWith.join(" and then ")} (the second should say durable offset ${moved.headBeforeMove})`,
    ).toBe(0);
  });

  /** How room publishes (whose membership is not cached yet) were refused while Postgres was down. */
  const refusals: { what: string; code: string; message: string }[] = [];

  it("room publishes while Postgres is down are refused, and publishing resumes when it is back", async () => {
    const [room] = await createRooms("outage");
    const { channel } = room as Room;
    // Bert has not used this room yet, so no instance has his membership cached.
    const bert = members[1] as Account;
    postgres.stop();
    try {
      for (const kind of ["durable", "ephemeral"] as const) {
        const outcome = await call(a.url, bert.token, "channels.publish", {
          channel,
          text: `while down (${kind})`,
          ephemeral: kind === "ephemeral",
        }).then(
          () => ({ what: `${kind} publish`, code: "acknowledged", message: "" }),
          (error: HttpProcedureError) => ({
            what: `${kind} publish`,
            code: error.data?.code ?? "NETWORK",
            message: error.message,
          }),
        );
        refusals.push(outcome);
      }
    } finally {
      postgres.start();
    }
    expect(refusals.map((r) => r.code)).not.toContain("acknowledged");
    const deadline = Date.now() + recoveryWaitMs;
    for (;;) {
      const ok = await call(a.url, bert.token, "channels.publish", { channel, text: "back" }).then(
        () => true,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error("publishing did not resume after Postgres started");
      await sleep(100);
    }
  });

  /**
   * The membership look-up used to let the database's error through untyped, so room calls failed
   * as INTERNAL_SERVER_ERROR while Postgres was away; a v1 publish says SERVICE_UNAVAILABLE.
   */
  it("and the refusals are SERVICE_UNAVAILABLE, as a broadcast's are", () => {
    expect(refusals.length, "the case above did not run").toBe(2);
    expect(refusals, JSON.stringify(refusals)).toEqual(refusals.map((r) => ({ ...r, code: "SERVICE_UNAVAILABLE" })));
  });
});

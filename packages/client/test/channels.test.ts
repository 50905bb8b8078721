/**
 * subscribeChannel against a real server (Postgres and Redis included): the recent history first,
 * each publication once, and a reload through channels.history whenever a sync says the server
 * could not recover what was missed.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ChannelHandlers,
  type ChannelPublication,
  type ChannelRecovery,
  type ChannelSubscription,
  type ChannelSync,
  createPlauderClient,
  type PlauderClient,
  type PublicationSource,
  type SubscribeChannelOptions,
  subscribeChannel,
} from "../src/index";
import { type Account, sleep, startTestServer, type TestServer, until } from "./support/server";

/** A resume further back than this many publications is not replayed: the helper reloads the history instead. */
const replayLimit = 5;

let server: TestServer;
let anna: Account;
let bert: Account;
let carl: Account;
let annasClient: PlauderClient;
let bertsClient: PlauderClient;
let carlsClient: PlauderClient;
let redis: Redis;

beforeAll(async () => {
  server = await startTestServer({ CHANNEL_REPLAY_LIMIT: String(replayLimit) });
  [anna, bert, carl] = await Promise.all([server.account("Anna"), server.account("Bert"), server.account("Carl")]);
  const connect = (account: Account) =>
    createPlauderClient({ url: server.url, token: account.token, retryDelayMs: () => 200 });
  [annasClient, bertsClient, carlsClient] = await Promise.all([connect(anna), connect(bert), connect(carl)]);
  redis = new Redis(process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379");
});

afterAll(async () => {
  await Promise.allSettled([annasClient, bertsClient, carlsClient].map((client) => client?.close()));
  redis?.disconnect();
  await server?.stop();
});

/** A subscription that records everything its handlers hear. */
function watch(
  client: PlauderClient,
  channel: string,
  options: SubscribeChannelOptions = {},
  extra: ChannelHandlers = {},
) {
  const delivered: { publication: ChannelPublication; source: PublicationSource }[] = [];
  const syncs: ChannelSync[] = [];
  const needed: ChannelSync[] = [];
  const recoveries: ChannelRecovery[] = [];
  let failure: (Error & { data?: { code?: string } }) | null = null;
  const subscription: ChannelSubscription = subscribeChannel(
    client,
    channel,
    {
      ...extra,
      onPublication: (publication, source) => delivered.push({ publication, source }),
      onSync: (sync) => syncs.push(sync),
      onRecoveryNeeded: async (sync) => {
        needed.push(sync);
        await extra.onRecoveryNeeded?.(sync);
      },
      onRecovered: (recovery) => recoveries.push(recovery),
      onError: (error) => {
        failure = error as Error & { data?: { code?: string } };
      },
    },
    options,
  );
  return {
    subscription,
    syncs,
    needed,
    recoveries,
    texts: () => delivered.map((entry) => entry.publication.text),
    offsets: () => delivered.map((entry) => entry.publication.offset),
    sources: () => delivered.map((entry) => entry.source),
    failure: () => failure,
    count: () => delivered.length,
  };
}

async function newRoom(name: string, ...members: Account[]) {
  const room = await annasClient.api.rooms.create.mutate({ name });
  for (const member of members) await annasClient.api.rooms.invite.mutate({ roomId: room.id, email: member.email });
  return room;
}

/** A new room of Anna's with Bert in it, and Bert's subscription to it once its first history page is in. */
async function watchedByBert(name: string) {
  const room = await newRoom(name, bert);
  const bertSees = watch(bertsClient, room.channel);
  await until(() => bertSees.recoveries.length === 1, "the subscription");
  return { room, bertSees };
}

const publish = (channel: string, text: string, ephemeral?: boolean) =>
  annasClient.api.channels.publish.mutate(ephemeral ? { channel, text, ephemeral } : { channel, text });

/** The durable offset inside a position (`<epoch>:<offset>:<epoch>:<offset>`). */
const durableOffset = (position: string | null) => Number(position?.split(":")[1] ?? -1);

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => from + index);

describe("subscribeChannel", () => {
  it("starts with the newest history page, then live publications, each once", async () => {
    const room = await newRoom("Stammtisch", bert);
    for (const text of ["eins", "zwei", "drei"]) await publish(room.channel, text);

    let overlapping = 0;
    let subscription: ChannelSubscription | undefined;
    const bertSees = watch(
      bertsClient,
      room.channel,
      { historyPageSize: 2 },
      {
        // Published after the subscription began and before the history is read: it arrives live
        // and is in the history too, and must be delivered once.
        onRecoveryNeeded: async () => {
          overlapping = (await publish(room.channel, "mittendrin")).offset;
          await until(() => durableOffset(subscription?.lastEventId() ?? null) === overlapping, "the live copy");
        },
      },
    );
    subscription = bertSees.subscription;
    await until(() => bertSees.recoveries.length === 1, "the first history page");
    await publish(room.channel, "vier");
    await until(() => bertSees.texts().includes("vier"), "the live publication");
    await sleep(100);

    expect(bertSees.needed).toEqual([
      { type: "sync", channel: room.channel, resumed: false, recovered: false, lost: [] },
    ]);
    expect(bertSees.texts()).toEqual(["drei", "mittendrin", "vier"]);
    expect(bertSees.sources()).toEqual(["history", "history", "live"]);
    expect(bertSees.recoveries[0]).toMatchObject({ complete: true });
    expect(bertSees.recoveries[0]?.added.map((publication) => publication.text)).toEqual(["drei", "mittendrin"]);
    expect(bertSees.subscription.publications().map((publication) => publication.offset)).toEqual([3, 4, 5]);
    bertSees.subscription.unsubscribe();
  });

  it("replays a short gap without reloading, and pages back through the history after a long one", async () => {
    const { room, bertSees: first } = await watchedByBert("Lesekreis");
    await publish(room.channel, "d1");
    await publish(room.channel, "d2");
    await until(() => first.count() === 2, "two publications");
    const resumeFrom = first.subscription.lastEventId();
    first.subscription.unsubscribe();

    for (const i of range(3, 5)) await publish(room.channel, `d${i}`);
    const short = watch(bertsClient, room.channel, { lastEventId: resumeFrom });
    await until(() => short.syncs.length === 1, "the sync after the replay");
    expect(short.syncs[0]).toMatchObject({ resumed: true, recovered: true });
    expect(short.needed).toEqual([]);
    expect(short.offsets()).toEqual([3, 4, 5]);
    expect(new Set(short.sources())).toEqual(new Set(["replay"]));
    short.subscription.unsubscribe();

    // Twelve missed publications: more than the server replays, so the history fills the gap.
    for (const i of range(6, 14)) await publish(room.channel, `d${i}`);
    const long = watch(bertsClient, room.channel, { lastEventId: resumeFrom, historyPageSize: 5 });
    await until(() => long.recoveries.length === 1, "the reload");
    expect(long.needed[0]).toMatchObject({ resumed: true, recovered: false, lost: ["durable"] });
    expect(long.offsets()).toEqual(range(3, 14));
    expect(new Set(long.sources())).toEqual(new Set(["history"]));
    expect(long.recoveries[0]).toMatchObject({ complete: true });
    await publish(room.channel, "d15");
    await until(() => long.count() === 13, "the live publication after the reload");
    expect(long.sources().at(-1)).toBe("live");
    long.subscription.unsubscribe();

    // A reload stops at maxReload: the newest are delivered and the recovery says it is incomplete.
    const capped = watch(bertsClient, room.channel, { lastEventId: resumeFrom, historyPageSize: 5, maxReload: 5 });
    await until(() => capped.recoveries.length === 1, "the capped reload");
    expect(capped.offsets()).toEqual(range(11, 15));
    expect(capped.recoveries[0]).toMatchObject({ complete: false });
    capped.subscription.unsubscribe();
  });

  it("reloads when the server loses the ephemeral log while live, and follows its new epoch", async () => {
    const { room, bertSees } = await watchedByBert("Tippen");
    await publish(room.channel, "gespeichert");
    await publish(room.channel, "tippt…", true);
    await until(() => bertSees.count() === 2, "both publications");

    // Redis loses the channel's ephemeral log (a restart without persistence, an eviction).
    const key = `${server.env.REDIS_KEY_PREFIX}{ch:${room.channel}}`;
    await redis.del(`${key}:meta`, `${key}:log`);
    await publish(room.channel, "tippt wieder…", true);
    await until(() => bertSees.recoveries.length === 2, "the reload after the loss");
    await until(() => bertSees.count() === 3, "the publication in the new log");

    expect(bertSees.needed.at(-1)).toMatchObject({ recovered: false, lost: ["ephemeral"] });
    // The durable history had nothing missing; the new log's first publication is no repeat of the old one's.
    expect(bertSees.recoveries.at(-1)?.added).toEqual([]);
    expect(bertSees.texts()).toEqual(["gespeichert", "tippt…", "tippt wieder…"]);
    expect(bertSees.subscription.publications().map((publication) => publication.id)).toEqual([
      expect.stringMatching(/^d:[a-z0-9]+:1$/),
      expect.stringMatching(/^e:[a-z0-9]+:1$/),
      expect.stringMatching(/^e:[a-z0-9]+:1$/),
    ]);
    bertSees.subscription.unsubscribe();
  });

  it("hands the server's refusals to onError: FORBIDDEN for a stranger, BAD_REQUEST for a malformed name", async () => {
    const room = await newRoom("Geheim");
    const stranger = watch(carlsClient, room.channel);
    await until(() => stranger.failure() !== null, "the refusal");
    expect(stranger.failure()).toMatchObject({
      message: "Only members of this room may use its channel",
      data: { code: "FORBIDDEN" },
    });
    const malformed = watch(carlsClient, "room:nicht-so");
    await until(() => malformed.failure() !== null, "the refusal");
    expect(malformed.failure()?.data?.code).toBe("BAD_REQUEST");
    expect(stranger.count() + malformed.count()).toBe(0);
  });

  it("serves the lobby too, whose log is the v1 broadcasts", async () => {
    const lobby = watch(bertsClient, "lobby", { historyPageSize: 1 });
    await until(() => lobby.recoveries.length === 1, "the subscription");
    const broadcast = await annasClient.api.realtime.publish.mutate({ text: "über v1" });
    await until(() => lobby.texts().includes("über v1"), "the broadcast");
    expect(lobby.subscription.publications().at(-1)).toMatchObject({
      id: `d:v1:${broadcast.id}`,
      channel: "lobby",
      sender: { id: anna.id, name: "Anna" },
    });
    lobby.subscription.unsubscribe();
  });
});

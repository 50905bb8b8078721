import { createRedis, getLogger } from "@plauder/runtime";
import type { Redis } from "ioredis";
import { type Bus, type BusState, BusUnavailableError } from "./bus";
import { keySlot, SLOT_COUNT } from "./cluster-slot";
import { ChannelHandlers } from "./handlers";
import { BusStateWatch } from "./state";

/** The shortest time between two reads of the slot map. */
const MIN_REFRESH_GAP_MS = 100;

/**
 * The bus over Redis Cluster with sharded pub/sub: a topic lives in the hash slot of its name, SPUBLISH
 * goes to the master owning that slot and only that master's SSUBSCRIBErs hear it. A plain PUBLISH in
 * a cluster is copied to every node, so it costs every node for every message; sharded pub/sub keeps a
 * message on one shard and lets the bus grow with the cluster.
 *
 * ioredis has this built in (`new Cluster(nodes, { shardedSubscribers: true })`), but 6.0.0 does not
 * fit the Bus contract: while a master is unreachable its subscriber group retries in a tight loop
 * (a new connection and a CLUSTER SLOTS about every 10 ms), a publish to that shard hangs for over a
 * second of redirections instead of failing, and whether every shard's subscriber is in place is
 * private state, so `up`/`down` could not be told honestly. Hence this module keeps, per master, one
 * publisher and one subscriber connection (plain ioredis clients, which reconnect by themselves with
 * backoff), routes each topic by its slot, and subscribes a topic on the owning master only while a
 * local handler exists.
 */
export function createRedisClusterBus(nodes: string | readonly string[]): Bus {
  const seeds = (typeof nodes === "string" ? nodes.split(",") : [...nodes])
    .map((node) => node.trim())
    .filter((node) => node !== "")
    .map(seedUrl);
  if (seeds.length === 0) throw new Error("Redis Cluster bus: no nodes given");
  const template = seeds[0] as URL;

  const log = getLogger().child({ component: "bus" });
  const handlers = new ChannelHandlers();
  const shards = new Map<string, Shard>();
  /** The master ("host:port") owning each slot, from the last CLUSTER SLOTS; empty until the first. */
  let owners: (string | undefined)[] = [];
  /** Topics with local handlers, and the master they were (or will be) subscribed on. */
  const wanted = new Map<string, string | undefined>();
  const watch = new BusStateWatch();
  let refreshing: Promise<void> | null = null;
  let refreshTimer: NodeJS.Timeout | undefined;
  let refreshDue = 0;
  let lastRefresh = Number.NEGATIVE_INFINITY;
  let failedRefreshes = 0;

  const ownerOf = (topic: string) => owners[keySlot(topic)];
  const shardOf = (topic: string) => {
    const key = ownerOf(topic);
    return key === undefined ? undefined : shards.get(key);
  };

  const update = () => {
    if (watch.closing()) return;
    const healthy =
      shards.size > 0 &&
      [...shards.values()].every(
        (shard) => shard.publisher.status === "ready" && shard.subscriber.status === "ready" && shard.synced,
      );
    const next: BusState = healthy ? "up" : "down";
    const announce = (state: BusState) =>
      log.info({ state, shards: shards.size }, state === "up" ? "bus connected" : "bus disconnected");
    if (!watch.change(next, announce)) return;
    // A master that failed over comes back under another address: only a new CLUSTER SLOTS finds it.
    if (next === "down") scheduleRefresh(0);
  };

  /** Reads the slot map after `delayMs`, or sooner if a read is already planned sooner. */
  const scheduleRefresh = (delayMs: number) => {
    if (watch.closing()) return;
    // At most one read per MIN_REFRESH_GAP_MS: nodes that disagree about a slot for a moment (gossip
    // still spreading) bounce a subscription between them, and that must not become a tight loop.
    const due = Math.max(performance.now() + delayMs, lastRefresh + MIN_REFRESH_GAP_MS);
    if (refreshTimer && refreshDue <= due) return;
    clearTimeout(refreshTimer);
    refreshDue = due;
    refreshTimer = setTimeout(() => {
      refreshTimer = undefined;
      void refresh();
    }, due - performance.now());
  };

  /** Reads the slot map and moves connections and subscriptions to match it; one at a time. */
  const refresh = (): Promise<void> => {
    refreshing ??= (async () => {
      lastRefresh = performance.now();
      try {
        applySlots(await readSlots());
        failedRefreshes = 0;
      } catch (error) {
        failedRefreshes++;
        log.warn({ err: (error as Error).message }, "could not read the cluster's slots");
      } finally {
        refreshing = null;
        update();
        // Keep looking while down, backing off to 10 s so a cluster-wide outage is not hammered.
        if (watch.state() === "down") scheduleRefresh(Math.min(500 * 2 ** failedRefreshes, 10_000));
      }
    })();
    return refreshing;
  };

  const readSlots = async (): Promise<SlotRanges> => {
    // Any reachable master knows the whole map; the seeds are only needed at start or when all are gone.
    for (const shard of shards.values()) {
      if (shard.publisher.status !== "ready") continue;
      try {
        return await shard.publisher.cluster("SLOTS");
      } catch {
        // Try the next one.
      }
    }
    let lastError: unknown;
    for (const seed of seeds) {
      const probe = createRedis(seed.href, "bus-topology", {
        lazyConnect: true,
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
      });
      try {
        await probe.connect();
        return await probe.cluster("SLOTS");
      } catch (error) {
        lastError = error;
      } finally {
        probe.disconnect();
      }
    }
    throw new Error(`no cluster node answered CLUSTER SLOTS: ${(lastError as Error | undefined)?.message}`);
  };

  const applySlots = (slots: SlotRanges) => {
    if (watch.closing()) return;
    const next = new Array<string | undefined>(SLOT_COUNT);
    const masters = new Map<string, { host: string; port: number }>();
    for (const [start, end, master] of slots) {
      if (!master) continue;
      const [host, port] = master;
      const key = `${host}:${port}`;
      masters.set(key, { host, port: Number(port) });
      for (let slot = start; slot <= end; slot++) next[slot] = key;
    }
    if (masters.size === 0) throw new Error("the cluster reported no masters");
    owners = next;

    for (const [key, shard] of shards) {
      if (masters.has(key)) continue;
      shards.delete(key);
      closeShard(shard);
      log.info({ node: key }, "bus dropped a node that no longer owns slots");
    }
    for (const [key, { host, port }] of masters) {
      if (!shards.has(key)) shards.set(key, openShard(key, host, port));
    }
    followOwners();
    // A shard whose SSUBSCRIBE failed or whose subscriptions Redis dropped subscribes again now.
    for (const shard of shards.values()) if (!shard.synced) sync(shard);
  };

  /** Moves each wanted topic whose slot changed hands (resharding, failover) to its new owner. */
  const followOwners = () => {
    for (const [topic, on] of wanted) {
      const owner = ownerOf(topic);
      if (owner === on) continue;
      const previous = on === undefined ? undefined : shards.get(on);
      if (previous?.subscriber.status === "ready") previous.subscriber.sunsubscribe(topic).catch(() => undefined);
      wanted.set(topic, owner);
      const shard = owner === undefined ? undefined : shards.get(owner);
      if (shard) subscribeOn(shard, topic);
    }
  };

  /**
   * Takes the owner a MOVED reply names for its slot, as cluster clients do, and reads the whole map
   * again soon (a moved slot rarely moves alone). Returns whether the reply was a MOVED one.
   */
  const followMoved = (error: unknown): boolean => {
    const moved = error instanceof Error ? /^MOVED (\d+) (\S+)$/.exec(error.message) : null;
    if (!moved) return false;
    const [, slot = "", key = ""] = moved;
    if (shards.has(key) && owners.length === SLOT_COUNT) {
      owners[Number(slot)] = key;
      followOwners();
    }
    scheduleRefresh(0);
    return true;
  };

  const openShard = (key: string, host: string, port: number): Shard => {
    const url = nodeUrl(template, host, port);
    const shard: Shard = {
      key,
      // Fails fast while the node is away instead of queueing, as on the single-node bus: the caller
      // has stored the message and subscribers catch up from the store.
      publisher: createRedis(url, "bus-publisher", { enableOfflineQueue: false, maxRetriesPerRequest: 1 }),
      // A reconnected subscriber starts empty and sync() alone decides what it subscribes, so nothing
      // is resent from before the drop and `up` means every subscription is back in place.
      subscriber: createRedis(url, "bus-subscriber", {
        autoResubscribe: false,
        autoResendUnfulfilledCommands: false,
        enableOfflineQueue: false,
        maxRetriesPerRequest: null,
      }),
      synced: false,
      epoch: 0,
    };
    for (const event of ["ready", "close", "end", "reconnecting"]) shard.publisher.on(event, update);
    shard.subscriber.on("ready", () => {
      shard.epoch++;
      shard.synced = false;
      sync(shard);
    });
    for (const event of ["close", "end", "reconnecting"]) {
      shard.subscriber.on(event, () => {
        shard.epoch++;
        shard.synced = false;
        update();
      });
    }
    // ioredis emits "moved" when a slot left this node and Redis dropped its subscribers there (an
    // unsolicited SUNSUBSCRIBE, which does not say where the slot went) or an SSUBSCRIBE was
    // redirected. Some topic may be unsubscribed until the new map is read and this shard subscribes
    // again, so the bus is down until then. The epoch moves on so a resync in flight cannot report
    // this shard complete.
    shard.subscriber.on("moved", () => {
      shard.epoch++;
      shard.synced = false;
      update();
      scheduleRefresh(0);
    });
    shard.subscriber.on("smessage", (topic: string, payload: string) => handlers.dispatch(topic, payload));
    return shard;
  };

  const closeShard = (shard: Shard) => {
    for (const connection of [shard.publisher, shard.subscriber]) {
      connection.removeAllListeners("ready");
      connection.removeAllListeners("smessage");
      connection.quit().catch(() => connection.disconnect());
    }
  };

  /** Subscribes, on a freshly (re)connected subscriber, every wanted topic its master owns. */
  const sync = (shard: Shard) => {
    if (watch.closing() || shard.subscriber.status !== "ready") return;
    const epoch = shard.epoch;
    const topics = [...wanted].filter(([, on]) => on === shard.key).map(([topic]) => topic);
    // One SSUBSCRIBE per topic: several channels in one command must share a slot (CROSSSLOT otherwise).
    Promise.all(topics.map((topic) => shard.subscriber.ssubscribe(topic))).then(
      () => {
        if (shard.epoch !== epoch || shards.get(shard.key) !== shard) return;
        shard.synced = true;
        update();
      },
      (error: Error) => subscribeFailed(shard, epoch, error),
    );
  };

  const subscribeOn = (shard: Shard, topic: string) => {
    // Not ready: its "ready" handler subscribes everything the shard owns, this topic included.
    if (shard.subscriber.status !== "ready") return;
    const epoch = shard.epoch;
    shard.subscriber.ssubscribe(topic).catch((error: Error) => subscribeFailed(shard, epoch, error));
  };

  const subscribeFailed = (shard: Shard, epoch: number, error: Error) => {
    if (watch.closing()) return;
    // A MOVED names the slot's owner, whatever became of this connection since.
    const moved = followMoved(error);
    if (shard.epoch !== epoch) return; // Dropped or moved meanwhile: "ready" or the next refresh syncs it.
    shard.synced = false;
    // The next refresh subscribes this shard again; nothing is retried from here, so two nodes that
    // disagree about a slot cannot make a tight loop.
    if (!moved) log.warn({ node: shard.key, err: error.message }, "subscribe failed; retrying");
    update();
  };

  void refresh();

  return {
    async publish(topic, payload) {
      for (let attempt = 1; ; attempt++) {
        const shard = shardOf(topic);
        // Only the topic's own shard matters: a dead master stops its topics, not everyone's.
        if (shard?.publisher.status !== "ready") throw new BusUnavailableError();
        try {
          await shard.publisher.spublish(topic, payload);
          return;
        } catch (error) {
          // MOVED: the slot changed hands (resharding, failover); send it once more, to the new owner.
          if (attempt > 1 || !followMoved(error)) throw new BusUnavailableError(error);
          if (shardOf(topic) === shard) await refresh(); // It named a node this bus does not know yet.
        }
      }
    },
    subscribe(topic, handler) {
      if (handlers.add(topic, handler)) {
        const shard = shardOf(topic);
        wanted.set(topic, shard?.key);
        if (shard) subscribeOn(shard, topic);
      }
      return () => {
        if (!handlers.remove(topic, handler)) return;
        const on = wanted.get(topic);
        wanted.delete(topic);
        const shard = on === undefined ? undefined : shards.get(on);
        // Not ready: the connection that comes back starts without this topic.
        if (shard?.subscriber.status === "ready") shard.subscriber.sunsubscribe(topic).catch(() => undefined);
      };
    },
    state: () => watch.state(),
    handlerCount: () => handlers.count(),
    onStateChange: (listener) => watch.listen(listener),
    async close() {
      watch.close();
      clearTimeout(refreshTimer);
      const connections = [...shards.values()].flatMap((shard) => [shard.publisher, shard.subscriber]);
      shards.clear();
      await Promise.allSettled(connections.map((connection) => connection.quit()));
      for (const connection of connections) connection.disconnect();
    },
  };
}

/** One master's connections. */
type Shard = {
  /** "host:port" as CLUSTER SLOTS names the master. */
  key: string;
  publisher: Redis;
  subscriber: Redis;
  /** Whether the subscriber holds every wanted topic of this master since it last connected. */
  synced: boolean;
  /** Moves on at every (re)connect, drop and dropped subscription, so a late reply about an earlier state is ignored. */
  epoch: number;
};

/** CLUSTER SLOTS: [first slot, last slot, [master host, port, id, …], …replicas]. */
type SlotRanges = [number, number, ...[host: string, port: number, ...rest: unknown[]][]][];

/** A seed is `host:port` or a redis:// or rediss:// URL (for credentials or TLS, which every node shares). */
function seedUrl(node: string): URL {
  const url = new URL(node.includes("://") ? node : `redis://${node}`);
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new Error(`Redis Cluster bus: ${url.protocol} is not a Redis URL scheme`);
  }
  return url;
}

/** A master's URL: the seed's scheme and credentials with the address CLUSTER SLOTS gave. */
function nodeUrl(template: URL, host: string, port: number): string {
  const url = new URL(template.href);
  url.hostname = host.includes(":") ? `[${host}]` : host;
  url.port = String(port);
  return url.href;
}

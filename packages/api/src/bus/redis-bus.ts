import { createRedis, getLogger } from "@plauder/runtime";
import type { Redis } from "ioredis";
import { type Bus, type BusState, BusUnavailableError } from "./bus";
import { ChannelHandlers } from "./handlers";
import { BusStateWatch } from "./state";

/**
 * The bus across instances: Redis pub/sub with exactly two connections per instance, one to publish
 * and one to subscribe, whatever the number of clients. ioredis reconnects by itself and
 * re-subscribes the channels; listeners hear `down` and `up` so they can catch up on what they missed.
 */
export function createRedisBus(url: string): Bus {
  const log = getLogger().child({ component: "bus" });
  // The publisher fails fast while Redis is away instead of queueing: the caller has stored the
  // message durably and subscribers catch up from the store.
  const publisher: Redis = createRedis(url, "bus-publisher", { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  const subscriber: Redis = createRedis(url, "bus-subscriber", { autoResubscribe: true, maxRetriesPerRequest: null });
  const handlers = new ChannelHandlers();
  const watch = new BusStateWatch();

  const update = () => {
    const next: BusState = publisher.status === "ready" && subscriber.status === "ready" ? "up" : "down";
    watch.change(next, (state) => log.info({ state }, state === "up" ? "bus connected" : "bus disconnected"));
  };
  for (const connection of [publisher, subscriber]) {
    connection.on("ready", update);
    connection.on("close", update);
    connection.on("end", update);
    connection.on("reconnecting", update);
  }
  subscriber.on("message", (channel: string, payload: string) => handlers.dispatch(channel, payload));

  return {
    async publish(channel, payload) {
      if (publisher.status !== "ready") throw new BusUnavailableError();
      try {
        await publisher.publish(channel, payload);
      } catch (error) {
        throw new BusUnavailableError(error);
      }
    },
    subscribe(channel, handler) {
      if (handlers.add(channel, handler)) {
        subscriber.subscribe(channel).catch((error: Error) => {
          // ioredis re-subscribes on reconnect; until then the store fills the gap.
          log.warn({ channel, err: error.message }, "subscribe failed; will retry on reconnect");
        });
      }
      return () => {
        if (handlers.remove(channel, handler)) subscriber.unsubscribe(channel).catch(() => undefined);
      };
    },
    state: () => watch.state(),
    handlerCount: () => handlers.count(),
    onStateChange: (listener) => watch.listen(listener),
    async close() {
      watch.close();
      await Promise.allSettled([publisher.quit(), subscriber.quit()]);
      publisher.disconnect();
      subscriber.disconnect();
    },
  };
}

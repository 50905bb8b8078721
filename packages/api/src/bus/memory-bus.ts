import type { Bus } from "./bus";
import { ChannelHandlers } from "./handlers";

/** The bus of a single instance (no `REDIS_URL`): messages never leave the process. */
export function createMemoryBus(): Bus {
  const handlers = new ChannelHandlers();
  return {
    async publish(channel, payload) {
      // Asynchronous like Redis, so callers never depend on delivery happening inside publish().
      queueMicrotask(() => handlers.dispatch(channel, payload));
    },
    subscribe(channel, handler) {
      handlers.add(channel, handler);
      return () => void handlers.remove(channel, handler);
    },
    state: () => "off",
    handlerCount: () => handlers.count(),
    onStateChange: () => () => {},
    async close() {},
  };
}

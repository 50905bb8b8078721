import { getBroadcastFeed, getDirectFanout } from "./broadcasts/service";
import { getBus } from "./bus/index";
import { getPresence } from "./presence/index";
import { connectionCount } from "./server/connections";

/**
 * What a leak would grow: connections, listeners on the shared feed, bus handlers, timers and the
 * heap. Everything here returns to its baseline once clients leave; the resilience suite checks
 * exactly that, and operators can read it when memory climbs.
 */
export type Diagnostics = {
  connections: number;
  feedListeners: number;
  directFanoutSubscribers: number;
  presenceListeners: number;
  busHandlers: number;
  /** Live libuv resources by type (Timeout, TCPWrap, …), from `process.getActiveResourcesInfo()`. */
  activeResources: Record<string, number>;
  memory: { heapUsed: number; rss: number; external: number; arrayBuffers: number };
  /** Whether a full collection ran first (the process was started with `--expose-gc`). */
  collected: boolean;
};

export function diagnostics(): Diagnostics {
  // `gc` exists only under --expose-gc; a heap figure after a full collection is the one that shows leaks.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const activeResources: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) activeResources[type] = (activeResources[type] ?? 0) + 1;
  const { heapUsed, rss, external, arrayBuffers } = process.memoryUsage();
  return {
    connections: connectionCount(),
    feedListeners: getBroadcastFeed().subscriberCount(),
    directFanoutSubscribers: getDirectFanout().size(),
    presenceListeners: getPresence().listenerCount(),
    busHandlers: getBus().handlerCount(),
    activeResources,
    memory: { heapUsed, rss, external, arrayBuffers },
    collected: gc !== undefined,
  };
}

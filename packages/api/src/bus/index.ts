import { closeProcessSingleton, getEnv, processSingleton } from "@plauder/runtime";
import type { Bus } from "./bus";
import { createMemoryBus } from "./memory-bus";
import { createRedisBus } from "./redis-bus";
import { createRedisClusterBus } from "./redis-cluster-bus";

export { type Bus, type BusState, BusUnavailableError } from "./bus";
export { createMemoryBus } from "./memory-bus";
export { createRedisBus } from "./redis-bus";
export { createRedisClusterBus } from "./redis-cluster-bus";

/**
 * The process's bus: Redis Cluster with `REDIS_CLUSTER_NODES`, else Redis with `REDIS_URL`, else
 * in-process. One per process (see processSingleton).
 */
export function getBus(): Bus {
  return processSingleton("bus", () => {
    const { REDIS_CLUSTER_NODES: clusterNodes, REDIS_URL: url } = getEnv();
    if (clusterNodes) return createRedisClusterBus(clusterNodes);
    return url ? createRedisBus(url) : createMemoryBus();
  });
}

/** Closes the process's bus if it was opened. */
export async function closeBus(): Promise<void> {
  await closeProcessSingleton<Bus>("bus", (bus) => bus.close());
}

import { closeProcessSingleton, getEnv, processSingleton } from "@plauder/runtime";
import type { Bus } from "./bus";
import { createMemoryBus } from "./memory-bus";
import { createRedisBus } from "./redis-bus";

export { type Bus, type BusState, BusUnavailableError } from "./bus";
export { createMemoryBus } from "./memory-bus";
export { createRedisBus } from "./redis-bus";

/** The process's bus: Redis with `REDIS_URL`, in-process otherwise. One per process (see processSingleton). */
export function getBus(): Bus {
  return processSingleton("bus", () => {
    const url = getEnv().REDIS_URL;
    return url ? createRedisBus(url) : createMemoryBus();
  });
}

/** Closes the process's bus if it was opened. */
export async function closeBus(): Promise<void> {
  await closeProcessSingleton<Bus>("bus", (bus) => bus.close());
}

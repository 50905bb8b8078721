import { getEnv, getInstanceId, getSharedRedis, processSingleton } from "@plauder/runtime";
import { getBus } from "../bus/index";
import { Presence } from "./presence";

export { Presence, type PresenceEvent, type PresentUser } from "./presence";

/** The process's presence tracker; started by the realtime server. */
export function getPresence(): Presence {
  return processSingleton(
    "presence",
    () =>
      new Presence({
        bus: getBus(),
        redis: getSharedRedis(),
        instanceId: getInstanceId(),
        key: `${getEnv().REDIS_KEY_PREFIX}presence`,
      }),
  );
}

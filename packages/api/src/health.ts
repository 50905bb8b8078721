import { getDatabase } from "@plauder/db";
import { getInstanceId, processSingleton, withTimeout } from "@plauder/runtime";
import { getBus } from "./bus/index";
import { createCachedProbe } from "./cached-probe";
import { connectionCount } from "./server/connections";

export type Health = {
  status: "ok" | "degraded";
  instanceId: string;
  redis: "up" | "down" | "off";
  db: "up" | "down";
  connections: number;
};

/**
 * How long one database ping answers for. Short, so health follows a database that goes down or
 * comes back within about a second (load balancers and the resilience tests rely on that).
 */
const dbProbeMaxAgeMs = 1_000;

/**
 * One probe per process: the Node server and Next's route bundles hold different copies of this
 * module, and they should share the pings too.
 */
const dbProbe = () =>
  processSingleton("health.dbProbe", () =>
    createCachedProbe(
      () =>
        withTimeout(getDatabase().ping(), 2_000).then(
          () => "up" as const,
          () => "down" as const,
        ),
      { maxAgeMs: dbProbeMaxAgeMs },
    ),
  );

/**
 * The health object of the wire contract: is this instance serving, and are its dependencies up.
 * The database part comes from a shared probe at most about a second old; the rest is live.
 */
export async function getHealth(): Promise<Health> {
  const db = await dbProbe().get();
  const redis = getBus().state();
  return {
    status: db === "up" && redis !== "down" ? "ok" : "degraded",
    instanceId: getInstanceId(),
    redis,
    db,
    connections: connectionCount(),
  };
}

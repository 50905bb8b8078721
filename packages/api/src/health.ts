import { getDatabase } from "@plauder/db";
import { getInstanceId } from "@plauder/runtime";
import { getBus } from "./bus/index";
import { connectionCount } from "./server/connections";

export type Health = {
  status: "ok" | "degraded";
  instanceId: string;
  redis: "up" | "down" | "off";
  db: "up" | "down";
  connections: number;
};

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

/** The health object of the wire contract: is this instance serving, and are its dependencies up. */
export async function getHealth(): Promise<Health> {
  const db = await withTimeout(getDatabase().ping(), 2_000).then(
    () => "up" as const,
    () => "down" as const,
  );
  const redis = getBus().state();
  return {
    status: db === "up" && redis !== "down" ? "ok" : "degraded",
    instanceId: getInstanceId(),
    redis,
    db,
    connections: connectionCount(),
  };
}

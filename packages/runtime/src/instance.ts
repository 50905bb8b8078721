import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { getEnv } from "./env";
import { processSingleton } from "./singleton";

/** A name for this server process, shown in logs, health and realtime payloads. */
export function getInstanceId(): string {
  return processSingleton("instanceId", () => {
    const configured = getEnv().INSTANCE_ID;
    if (configured) return configured;
    return `${hostname()}-${process.pid}-${randomBytes(2).toString("hex")}`;
  });
}

import { getHealth } from "@plauder/api";
import { json } from "~/lib/json";

export const dynamic = "force-dynamic";

/** Liveness and dependencies for load balancers: 503 only when the database is unreachable. */
export async function GET(): Promise<Response> {
  const health = await getHealth();
  return json(health, health.db === "up" ? 200 : 503);
}

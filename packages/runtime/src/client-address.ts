import type { IncomingMessage } from "node:http";
import { getEnv } from "./env";

/** The header the custom server sets to the client's address (it overwrites any value a client sends). */
export const clientAddressHeader = "x-plauder-client-address";

/**
 * The address a request came from. `X-Forwarded-For` counts only with `TRUST_PROXY=true` (behind a
 * load balancer that sets it); otherwise a client could pick its own address and dodge throttling.
 */
export function clientAddressOf(req: IncomingMessage): string {
  if (getEnv().TRUST_PROXY) {
    const forwarded = req.headers["x-forwarded-for"];
    const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(",")[0]?.trim();
    if (first) return first;
  }
  return req.socket.remoteAddress ?? "unknown";
}

import type { IncomingMessage } from "node:http";
import { getEnv } from "./env";

/** The header the custom server sets to the client's address (it overwrites any value a client sends). */
export const clientAddressHeader = "x-plauder-client-address";

/**
 * The address `X-Forwarded-For` names after `trustedHops` proxies each appended the address they
 * saw: the entry that many places from the right. Entries further left came from the client and
 * prove nothing (nginx's `$proxy_add_x_forwarded_for` appends to whatever the client sent).
 * `undefined` when the header has fewer entries than proxies (a request that bypassed them).
 */
export function forwardedAddress(header: string | string[] | undefined, trustedHops: number): string | undefined {
  if (trustedHops <= 0 || header === undefined) return undefined;
  // Repeated headers count as one list, in order (RFC 9110, section 5.3).
  const entries = (Array.isArray(header) ? header.join(",") : header)
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  const entry = entries[entries.length - trustedHops];
  return entry === undefined || entry.length > 64 ? undefined : entry;
}

/**
 * The address a request came from. `X-Forwarded-For` counts only with `TRUST_PROXY` set (behind a
 * load balancer that appends to it), and then only its trusted right-hand part; otherwise a client
 * could pick its own address and dodge throttling.
 */
export function clientAddressOf(req: IncomingMessage): string {
  const forwarded = forwardedAddress(req.headers["x-forwarded-for"], getEnv().TRUST_PROXY);
  return forwarded ?? req.socket.remoteAddress ?? "unknown";
}

/**
 * Whether a WebSocket upgrade's `Origin` may connect. Browsers always send `Origin`; a cookie sent
 * from a foreign page is exactly the cross-site hijacking this check stops. Non-browser clients
 * (no `Origin`) authenticate with a token, which a foreign page cannot read.
 */
export function isOriginAllowed(origin: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  return allowed.includes(origin.toLowerCase());
}

/** Parses a comma-separated origin list into normalised origins (`scheme://host[:port]`). */
export function parseOrigins(list: string): string[] {
  return list
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => new URL(entry).origin.toLowerCase());
}

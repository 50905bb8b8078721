import { createHash, timingSafeEqual } from "node:crypto";

const digest = (value: string) => createHash("sha256").update(value).digest();

/**
 * Whether an `Authorization` header carries `Bearer <token>`. Compares SHA-256 digests in constant
 * time, so neither the length nor the content of the token leaks through timing.
 */
export function bearerTokenMatches(authorization: string | null | undefined, token: string): boolean {
  const header = authorization ?? "";
  const presented = header.startsWith("Bearer ") ? header.slice(7) : "";
  return timingSafeEqual(digest(presented), digest(token));
}

/**
 * A same-site path to go to after signing in. Anything else (absolute URLs, `//host`, missing)
 * becomes the fallback, so a crafted link cannot send people to another site.
 */
export function safeRedirectPath(
  candidate: string | string[] | undefined | null,
  fallback = "/test-websocket",
): string {
  const value = Array.isArray(candidate) ? candidate[0] : candidate;
  if (!value?.startsWith("/") || value.startsWith("//") || value.startsWith("/\\")) return fallback;
  return value;
}

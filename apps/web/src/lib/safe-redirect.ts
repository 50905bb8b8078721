/** Any origin that cannot be real: a candidate must resolve against it and stay on it. */
const probeBase = "http://base.invalid";

/** Printable ASCII without space. Browsers drop tabs and newlines from URLs, so `/\t/evil` is `//evil`. */
const printableAscii = /^[\x21-\x7e]+$/;

/** What a decoded path may hold: visible characters, no backslash (U+005C), no C0/C1 controls or spaces. */
const visibleWithoutBackslash = /^[\x21-\x5b\x5d-\x7e\u00a1-\uffff]*$/;

/** Each try to decode once more; a value still encoded after this many layers is refused. */
const maxDecodings = 3;

/** The value with its percent-escapes decoded until nothing changes, or null when it keeps changing or is malformed. */
function fullyDecoded(value: string): string | null {
  let current = value;
  for (let i = 0; i < maxDecodings; i++) {
    let next: string;
    try {
      next = decodeURIComponent(current);
    } catch {
      return null;
    }
    if (next === current) return current;
    current = next;
  }
  return null;
}

/**
 * A same-site path to go to after signing in, or the fallback. Refused: anything that is not a
 * single string of printable ASCII (control characters, whitespace, Unicode lookalikes of `/`),
 * backslashes (browsers read `\` as `/`), anything that does not start with exactly one `/`, anything
 * whose path, percent-decoded, starts with `//` or holds a backslash or control character (a later
 * decoding step must not turn it into another host), and anything that does not resolve to the same
 * origin. What comes back is the resolved path, query and fragment, so what was checked is what is used.
 */
export function safeRedirectPath(
  candidate: string | string[] | undefined | null,
  fallback = "/test-websocket",
): string {
  const value = Array.isArray(candidate) ? candidate[0] : candidate;
  if (typeof value !== "string" || value.length > 2048 || !printableAscii.test(value)) return fallback;
  if (value.includes("\\") || !value.startsWith("/") || value.startsWith("//")) return fallback;
  let url: URL;
  try {
    url = new URL(value, probeBase);
  } catch {
    return fallback;
  }
  if (url.origin !== probeBase || !url.pathname.startsWith("/") || url.pathname.startsWith("//")) return fallback;
  const decodedPath = fullyDecoded(url.pathname);
  if (decodedPath === null || decodedPath.startsWith("//") || !visibleWithoutBackslash.test(decodedPath))
    return fallback;
  return `${url.pathname}${url.search}${url.hash}`;
}

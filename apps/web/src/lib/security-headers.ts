/**
 * The security headers every answer of the server carries, and the page policy (CSP) with its
 * per-request nonce. Imported by server.ts, which sets them on each response before Next (or the
 * diagnostics endpoint) writes anything, and which also hands the policy to Next on the request: Next
 * reads the nonce from the request's `Content-Security-Policy` header and puts it on every script
 * it renders (next/dist/server/app-render/get-script-nonce-from-header.js).
 */
import { randomBytes } from "node:crypto";

export type PolicyOptions = {
  /** `npm run dev`: React refresh evaluates code, and the dev overlay injects unnonced styles. */
  dev: boolean;
};

/** 128 random bits, base64: the form Next's nonce parser accepts (`'nonce-[A-Za-z0-9+/_-]+={0,2}'`). */
export function newNonce(): string {
  return randomBytes(16).toString("base64");
}

/**
 * The Content-Security-Policy for a response whose scripts carry `nonce`.
 *
 * - script-src: only scripts carrying this response's nonce, and what they load ('strict-dynamic');
 *   'self' is ignored by browsers that know 'strict-dynamic' and kept for those that do not.
 *   No 'unsafe-inline', so injected markup with `<script>` or `onerror=` does not run.
 * - style-src 'self': the app's CSS is files from /_next/static and it has no `style` attributes, so
 *   no 'unsafe-inline' is needed in production (React's style props set through the CSSOM are not
 *   governed by CSP; only markup attributes are). Dev mode adds 'unsafe-inline' for the overlay's
 *   and hot reload's injected styles.
 * - connect-src 'self': the API and the WebSocket are on this origin; in CSP Level 3 (Chromium,
 *   Firefox, Safari) 'self' also matches ws:/wss: on the same host and port.
 * - frame-ancestors 'none', base-uri 'none', object-src 'none', form-action 'self'.
 */
export function contentSecurityPolicy(nonce: string, options: PolicyOptions): string {
  const scriptSources = ["'self'", `'nonce-${nonce}'`, "'strict-dynamic'"];
  if (options.dev) scriptSources.push("'unsafe-eval'");
  const styleSources = options.dev ? ["'self'", "'unsafe-inline'"] : ["'self'"];
  return [
    "default-src 'self'",
    `script-src ${scriptSources.join(" ")}`,
    `style-src ${styleSources.join(" ")}`,
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
  ].join("; ");
}

/**
 * Features no page of the app uses, switched off for it and for anything it might embed.
 * Speech practice will need the microphone: change `microphone=()` to `microphone=(self)` then,
 * and nothing else.
 */
export const permissionsPolicy = [
  "camera=()",
  "microphone=()",
  "geolocation=()",
  "payment=()",
  "usb=()",
  "serial=()",
  "midi=()",
  "magnetometer=()",
  "gyroscope=()",
  "accelerometer=()",
  "display-capture=()",
].join(", ");

/** Two years, with subdomains: the value browsers' preload lists ask for. */
const hstsValue = "max-age=63072000; includeSubDomains";

/**
 * The headers every answer gets, pages or not. Strict-Transport-Security only when the site is
 * served over https (APP_URL): sent over http it would be ignored at best, and pinning https on a
 * host that does not serve it locks people out.
 */
export function baselineHeaders(appUrl: string): Record<string, string> {
  const headers: Record<string, string> = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": permissionsPolicy,
    "Cross-Origin-Opener-Policy": "same-origin",
  };
  if (new URL(appUrl).protocol === "https:") headers["Strict-Transport-Security"] = hstsValue;
  return headers;
}

import { z } from "zod";
import { InvalidCredentialsError, PlauderClientError, RateLimitedError, ServerUnreachableError } from "./errors";

const loginResponse = z.object({
  token: z.string(),
  expiresAt: z.number(),
  user: z.object({ id: z.string(), email: z.string(), name: z.string() }),
});
export type LoginResponse = z.infer<typeof loginResponse>;

/** The server's base URL without a trailing slash; accepts http(s) and ws(s) forms. */
export function httpBase(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol === "ws:") parsed.protocol = "http:";
  if (parsed.protocol === "wss:") parsed.protocol = "https:";
  return parsed.origin;
}

/** The WebSocket endpoint for a server's base URL. */
export function websocketUrl(url: string): string {
  const parsed = new URL(httpBase(url));
  parsed.protocol = parsed.protocol === "https:" ? "wss:" : "ws:";
  parsed.pathname = "/api/trpc-ws";
  return parsed.toString();
}

/**
 * Exchanges email and password for a short-lived access token (`POST /api/v1/auth/login`).
 * Throws {@link InvalidCredentialsError}, {@link RateLimitedError} or {@link ServerUnreachableError}.
 */
export async function login(url: string, email: string, password: string): Promise<LoginResponse> {
  const endpoint = `${httpBase(url)}/api/v1/auth/login`;
  let response: Response;
  try {
    response = await fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password }),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (error) {
    const reason = (error as Error & { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new ServerUnreachableError(`Cannot reach the Plauder server at ${httpBase(url)} (${reason})`);
  }
  const body: unknown = await response.json().catch(() => null);
  const message = (body as { error?: unknown } | null)?.error;
  if (response.status === 401) throw new InvalidCredentialsError("Wrong email or password");
  if (response.status === 429) {
    const retryAfter = Number(
      (body as { retryAfter?: unknown } | null)?.retryAfter ?? response.headers.get("retry-after") ?? 60,
    );
    throw new RateLimitedError(`Too many sign-in attempts; try again in ${retryAfter} s`, retryAfter);
  }
  if (!response.ok) {
    if (typeof message === "string") throw new PlauderClientError(`Sign-in failed: ${message}`);
    throw new ServerUnreachableError(`${httpBase(url)} answered ${response.status}; is it a Plauder server?`);
  }
  const parsed = loginResponse.safeParse(body);
  if (!parsed.success) throw new ServerUnreachableError(`${httpBase(url)} did not answer like a Plauder server`);
  return parsed.data;
}

import { getLoginThrottle } from "@plauder/auth";
import { getEnv, getLogger } from "@plauder/runtime";
import { NextRequest } from "next/server";
import { handlers } from "~/auth";
import { clientAddress } from "~/lib/client-address";
import { BodyTooLargeError, boundedRequest, json } from "~/lib/json";

export const GET = handlers.GET;

// Sign-in and sign-out forms are a few hundred bytes; nothing bigger needs buffering.
const maxBodyBytes = 16 * 1024;

/** The email a sign-in form carried (form-encoded as next-auth's client posts it, or JSON), if any. */
async function emailOf(request: Request): Promise<string | null> {
  try {
    const body = request.headers.get("content-type")?.includes("application/json")
      ? ((await request.json()) as { email?: unknown })
      : Object.fromEntries(await request.formData());
    return typeof body?.email === "string" ? body.email : null;
  } catch {
    return null;
  }
}

/**
 * Whole seconds until this address may try this email again: what the login throttle holds (the token
 * endpoint reports the same). Falls back to the whole window, the longest a block can last.
 */
async function retryAfterSeconds(request: Request, email: string | null): Promise<number> {
  const fallback = getEnv().LOGIN_WINDOW_SECONDS;
  if (email === null) return fallback;
  try {
    const seconds = await getLoginThrottle().retryAfterSecondsFor(clientAddress(request), email);
    // 0 means the window ran out since the refusal: the next try is welcome, but not sooner than a second.
    return Math.max(1, seconds);
  } catch (error) {
    getLogger().warn({ err: (error as Error).message }, "could not read the sign-in throttle");
    return fallback;
  }
}

/**
 * next-auth answers a throttled sign-in like any failed one (200 with an error URL). Brute force
 * should see a real 429, so the throttled case is re-issued with that status and the limiter's real
 * remaining time as Retry-After; the body stays what next-auth's client expects.
 */
export async function POST(original: NextRequest): Promise<Response> {
  let request: NextRequest;
  try {
    request = new NextRequest(await boundedRequest(original, maxBodyBytes));
  } catch (error) {
    if (error instanceof BodyTooLargeError) return json({ error: "Request body too large" }, 413);
    throw error;
  }
  if (!request.nextUrl.pathname.endsWith("/callback/credentials")) return handlers.POST(request);
  // next-auth consumes the body; a copy keeps the email for the Retry-After lookup.
  const copy = request.clone();
  const response = await handlers.POST(request);
  if (!response.headers.get("content-type")?.includes("application/json")) return response;
  const body = (await response.clone().json()) as { url?: string };
  if (!body.url?.includes("code=rate_limited")) return response;
  const headers = new Headers(response.headers);
  headers.set("Retry-After", String(await retryAfterSeconds(request, await emailOf(copy))));
  return new Response(JSON.stringify(body), { status: 429, headers });
}

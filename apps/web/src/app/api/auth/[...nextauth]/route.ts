import type { NextRequest } from "next/server";
import { handlers } from "~/auth";

export const GET = handlers.GET;

/**
 * next-auth answers a throttled sign-in like any failed one (200 with an error URL). Brute force
 * should see a real 429, so the throttled case is re-issued with that status; the body stays what
 * next-auth's client expects.
 */
export async function POST(request: NextRequest): Promise<Response> {
  const response = await handlers.POST(request);
  if (!request.nextUrl.pathname.endsWith("/callback/credentials")) return response;
  if (!response.headers.get("content-type")?.includes("application/json")) return response;
  const body = (await response.clone().json()) as { url?: string };
  if (!body.url?.includes("code=rate_limited")) return response;
  const headers = new Headers(response.headers);
  headers.set("Retry-After", "60");
  return new Response(JSON.stringify(body), { status: 429, headers });
}

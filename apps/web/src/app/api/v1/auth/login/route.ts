import { attemptLogin, issueAccessToken, loginInput } from "@plauder/auth";
import { getLogger } from "@plauder/runtime";
import { clientAddress } from "~/lib/client-address";
import { BodyTooLargeError, json, readBody } from "~/lib/json";

/**
 * Issues a short-lived access token for typed clients (wire contract: Authentication). The token is
 * returned in the body and travels on as `connectionParams.token`, never in a URL.
 */
export async function POST(request: Request): Promise<Response> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readBody(request, 16 * 1024));
  } catch (error) {
    if (error instanceof BodyTooLargeError) return json({ error: "Request body too large" }, 413);
    return json({ error: 'Body must be JSON: { "email": string, "password": string }' }, 400);
  }
  const parsed = loginInput.safeParse(raw);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((issue) => issue.path.join(".") || "body"))];
    return json({ error: `Invalid ${fields.join(", ")}: expected { "email": string, "password": string }` }, 400);
  }

  const result = await attemptLogin(parsed.data, clientAddress(request));
  if (!result.ok && result.reason === "throttled") {
    getLogger().info({ address: clientAddress(request) }, "sign-in throttled");
    return json({ error: "Too many sign-in attempts", retryAfter: result.retryAfterSeconds }, 429, {
      "Retry-After": String(result.retryAfterSeconds),
    });
  }
  if (!result.ok) return json({ error: "Wrong email or password" }, 401);

  const { token, expiresAt } = await issueAccessToken(result.user);
  return json({ token, expiresAt, user: result.user });
}

import { bearerTokenMatches, metrics } from "@plauder/api";
import { getEnv } from "@plauder/runtime";

export const dynamic = "force-dynamic";

/**
 * Prometheus scrape endpoint for this instance, for scrapers holding `METRICS_TOKEN` (as a bearer
 * token): the figures say how busy the instance is and which procedures fail, which is nobody
 * else's business. Without the setting the endpoint answers 404, as if it did not exist.
 */
export async function GET(request: Request): Promise<Response> {
  const token = getEnv().METRICS_TOKEN;
  if (!token) return new Response("Not Found", { status: 404, headers: { "Cache-Control": "no-store" } });
  if (!bearerTokenMatches(request.headers.get("authorization"), token)) {
    return Response.json(
      { error: "Unauthorized" },
      { status: 401, headers: { "Cache-Control": "no-store", "WWW-Authenticate": 'Bearer realm="metrics"' } },
    );
  }
  const { registry } = metrics();
  return new Response(await registry.metrics(), {
    headers: { "Content-Type": registry.contentType, "Cache-Control": "no-store" },
  });
}

import { metrics } from "@plauder/api";

export const dynamic = "force-dynamic";

/** Prometheus scrape endpoint for this instance. */
export async function GET(): Promise<Response> {
  const { registry } = metrics();
  return new Response(await registry.metrics(), {
    headers: { "Content-Type": registry.contentType, "Cache-Control": "no-store" },
  });
}

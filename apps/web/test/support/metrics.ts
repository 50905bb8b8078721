/** The METRICS_TOKEN every test instance runs with (startInstance sets it unless a test overrides it). */
export const testMetricsToken = "metrics-token-of-the-integration-tests-0001";

/** The instance's Prometheus text, read the way a scraper does: with the bearer token. */
export async function readMetrics(baseUrl: string, token = testMetricsToken): Promise<string> {
  const response = await fetch(`${baseUrl}/api/metrics`, { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`GET /api/metrics answered ${response.status}`);
  return response.text();
}

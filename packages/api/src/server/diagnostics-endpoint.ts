import type { IncomingMessage, ServerResponse } from "node:http";
import { bearerTokenMatches } from "../bearer";
import { diagnostics } from "../diagnostics";

export const diagnosticsPath = "/api/diagnostics";

/**
 * GET /api/diagnostics with `Authorization: Bearer <DIAGNOSTICS_TOKEN>`: the leak figures of
 * diagnostics.ts as JSON. Without a configured token the path is not served at all (the caller
 * passes it to Next, which answers 404). Served by the Node server itself, not by a Next route,
 * because the figures live in the server process's modules.
 */
export function serveDiagnostics(req: IncomingMessage, res: ServerResponse, token: string): void {
  if (req.method !== "GET" || !bearerTokenMatches(req.headers.authorization, token)) {
    res.writeHead(req.method !== "GET" ? 405 : 401, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: req.method !== "GET" ? "Method not allowed" : "Unauthorized" }));
    return;
  }
  res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(diagnostics()));
}

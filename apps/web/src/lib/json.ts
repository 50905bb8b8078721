/** A JSON response that no cache keeps (they carry per-user or live data). */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return Response.json(body, { status, headers: { "Cache-Control": "no-store", ...headers } });
}

export class BodyTooLargeError extends Error {}

/** Reads a request body as text, refusing bodies larger than `maxBytes` before buffering them all. */
export async function readBody(request: Request, maxBytes: number): Promise<string> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > maxBytes) throw new BodyTooLargeError();
  const reader = request.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new BodyTooLargeError();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * A copy of a POST request whose body was read under `maxBytes` (other methods pass through).
 * Content-Length alone is not enough: a chunked body declares no length, and the handlers behind
 * (tRPC, next-auth) would buffer all of it. Throws BodyTooLargeError past the limit.
 */
export async function boundedRequest(request: Request, maxBytes: number): Promise<Request> {
  if (request.method !== "POST") return request;
  const body = await readBody(request, maxBytes);
  const headers = new Headers(request.headers);
  headers.delete("transfer-encoding");
  headers.set("content-length", String(Buffer.byteLength(body)));
  return new Request(request.url, { method: "POST", headers, body, signal: request.signal });
}

import { request } from "node:http";

export type HttpAnswer = { status: number; headers: Record<string, string | string[] | undefined>; text: string };

/**
 * One HTTP request on a connection of its own, optionally from another loopback address
 * (127.0.0.0/8 all reach this machine), which is how a test plays several clients' addresses.
 */
export function httpRequest(
  url: string,
  options: { method?: string; body?: string; headers?: Record<string, string>; localAddress?: string } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? (options.body === undefined ? "GET" : "POST"),
        agent: false,
        localAddress: options.localAddress,
        headers: { ...(options.body === undefined ? {} : { "content-type": "application/json" }), ...options.headers },
      },
      (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => {
          text += chunk.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/** POST /api/v1/auth/login as a script would, from `localAddress` if given. */
export async function tokenLogin(
  baseUrl: string,
  credentials: { email: string; password: string },
  options: { localAddress?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; retryAfter?: number; token?: string }> {
  const answer = await httpRequest(`${baseUrl}/api/v1/auth/login`, { body: JSON.stringify(credentials), ...options });
  const body = JSON.parse(answer.text) as { retryAfter?: number; token?: string };
  return { status: answer.status, retryAfter: body.retryAfter, token: body.token };
}

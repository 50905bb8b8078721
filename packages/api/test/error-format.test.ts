import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { Context } from "../src/context";
import { tooManyRequests } from "../src/errors";
import { createTRPCRouter, publicProcedure } from "../src/trpc";

// A router of its own, so each kind of failure can be provoked on purpose.
const router = createTRPCRouter({
  crash: publicProcedure.query(() => {
    throw new Error("connect ECONNREFUSED at /srv/app/packages/db/src/client.ts:42 with password hunter2");
  }),
  strict: publicProcedure
    .input(z.object({ text: z.string().max(3, "Text must be at most 3 characters") }))
    .query(() => 1),
  busy: publicProcedure.query(() => {
    throw tooManyRequests(7, "Publishing too fast");
  }),
});

const context: Context = {
  user: null,
  credential: null,
  instanceId: "test",
  clientAddress: "127.0.0.1",
  transport: "http",
  connection: null,
};

async function call(path: string, input?: unknown) {
  const query = input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify(input))}`;
  const response = await fetchRequestHandler({
    endpoint: "/api/trpc",
    req: new Request(`http://localhost/api/trpc/${path}${query}`),
    router,
    createContext: () => context,
  });
  return { status: response.status, text: await response.text() };
}

describe("error answers", () => {
  it("turn an internal failure into a fixed sentence, with no stack, path or detail", async () => {
    const { status, text } = await call("crash");
    expect(status).toBe(500);
    const body = JSON.parse(text) as { error: { message: string; data: Record<string, unknown> } };
    expect(body.error.message).toBe("Internal server error");
    expect(body.error.data.code).toBe("INTERNAL_SERVER_ERROR");
    for (const leak of ["stack", "ECONNREFUSED", "/srv/app", "client.ts", "hunter2"]) expect(text).not.toContain(leak);
  });

  it("give validation failures their field errors", async () => {
    const { status, text } = await call("strict", { text: "four" });
    expect(status).toBe(400);
    const body = JSON.parse(text) as { error: { data: { fieldErrors: Record<string, string[]> } } };
    expect(body.error.data.fieldErrors).toEqual({ text: ["Text must be at most 3 characters"] });
    expect(text).not.toContain("stack");
  });

  it("tell a throttled caller when to retry", async () => {
    const { status, text } = await call("busy");
    expect(status).toBe(429);
    expect((JSON.parse(text) as { error: { data: { retryAfter: number } } }).error.data.retryAfter).toBe(7);
  });
});

import { appRouter, createHttpContext, logProcedureError } from "@plauder/api";
import { callLimits } from "@plauder/api/call-limits";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { clientAddress } from "~/lib/client-address";
import { BodyTooLargeError, boundedRequest, json } from "~/lib/json";

export const dynamic = "force-dynamic";

// Generous for any valid call, small enough that a flood of huge bodies cannot exhaust memory.
const maxBodyBytes = 1024 * 1024;

async function handler(request: Request): Promise<Response> {
  let bounded: Request;
  try {
    bounded = await boundedRequest(request, maxBodyBytes);
  } catch (error) {
    if (error instanceof BodyTooLargeError) return json({ error: "Request body too large" }, 413);
    throw error;
  }
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req: bounded,
    router: appRouter,
    // One request, a bounded amount of work: a batch of 200 registrations is refused whole (400).
    maxBatchSize: callLimits.perHttpBatch,
    createContext: () => createHttpContext(bounded.headers, clientAddress(request)),
    onError: logProcedureError,
  });
}

export { handler as GET, handler as POST };

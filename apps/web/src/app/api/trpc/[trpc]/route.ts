import {
  appRouter,
  createHttpContext,
  logProcedureError,
  subscriptionPaths,
  subscriptionsOverHttpRefusal,
} from "@plauder/api";
import { callLimits } from "@plauder/api/call-limits";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { clientAddress } from "~/lib/client-address";
import { BodyTooLargeError, boundedRequest, json } from "~/lib/json";

export const dynamic = "force-dynamic";

const endpoint = "/api/trpc";
// Generous for any valid call, small enough that a flood of huge bodies cannot exhaust memory.
const maxBodyBytes = 1024 * 1024;

/**
 * tRPC would answer a subscription over HTTP with a server-sent event stream (carrying only an error,
 * since the router disables them). A plain 405 says it better, in tRPC's error shape, before any
 * context is made: subscriptions are the WebSocket's, where every connection rule applies.
 */
function refuseSubscriptions(request: Request): Response | null {
  let paths: string[];
  try {
    paths = decodeURIComponent(new URL(request.url).pathname.slice(endpoint.length + 1)).split(",");
  } catch {
    // A malformed path names no procedure; tRPC answers it as it answers any unknown one.
    return null;
  }
  const [path] = subscriptionPaths(appRouter, paths);
  if (path === undefined) return null;
  return json(
    {
      error: {
        message: subscriptionsOverHttpRefusal,
        code: -32005,
        data: { code: "METHOD_NOT_SUPPORTED", httpStatus: 405, path },
      },
    },
    405,
  );
}

async function handler(request: Request): Promise<Response> {
  const refused = refuseSubscriptions(request);
  if (refused) return refused;
  let bounded: Request;
  try {
    bounded = await boundedRequest(request, maxBodyBytes);
  } catch (error) {
    if (error instanceof BodyTooLargeError) return json({ error: "Request body too large" }, 413);
    throw error;
  }
  return fetchRequestHandler({
    endpoint,
    req: bounded,
    router: appRouter,
    // One request, a bounded amount of work: a batch of 200 registrations is refused whole (400).
    maxBatchSize: callLimits.perHttpBatch,
    createContext: () => createHttpContext(bounded.headers, clientAddress(request)),
    onError: logProcedureError,
  });
}

export { handler as GET, handler as POST };

import { appRouter, createHttpContext, logProcedureError } from "@plauder/api";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { clientAddress } from "~/lib/client-address";
import { json } from "~/lib/json";

export const dynamic = "force-dynamic";

// Generous for any valid call, small enough that a flood of huge bodies cannot exhaust memory.
const maxBodyBytes = 1024 * 1024;

function handler(request: Request): Promise<Response> | Response {
  if (Number(request.headers.get("content-length") ?? "0") > maxBodyBytes) {
    return json({ error: "Request body too large" }, 413);
  }
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req: request,
    router: appRouter,
    createContext: () => createHttpContext(request.headers, clientAddress(request)),
    onError: logProcedureError,
  });
}

export { handler as GET, handler as POST };

"use client";

import type { AppRouter } from "@plauder/api";
import { callLimits } from "@plauder/api/call-limits";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { httpBatchLink, splitLink, wsLink } from "@trpc/client";
import { createTRPCReact } from "@trpc/react-query";
import { type ReactNode, useEffect, useState } from "react";
import { RealtimeConnection, realtimeUrl } from "~/realtime/connection";
import { RealtimeProvider } from "~/realtime/context";

/**
 * After the server closed the socket for its credentials: when the session is really gone (signed
 * out here or in another tab, or expired), go to the login page and come back here afterwards.
 */
async function leaveIfSignedOut(): Promise<void> {
  // next-auth answers `null` (or `{}`) when signed out; a failed request proves nothing either way.
  const session = (await fetch("/api/auth/session", { cache: "no-store" })
    .then((response) => (response.ok ? response.json() : "unknown"))
    .catch(() => "unknown")) as { user?: unknown } | null | "unknown";
  if (session !== "unknown" && !session?.user) {
    const back = encodeURIComponent(window.location.pathname + window.location.search);
    window.location.assign(`/login?callbackUrl=${back}`);
  }
}

/** The generated, fully typed React hooks for every procedure of the app router. */
export const api = createTRPCReact<AppRouter>();

/**
 * Provides the tRPC client and its query cache. Every subscription and everything under
 * `realtime.*` and `channels.*` (publish, history) travels over the page's one WebSocket, so a
 * publish, the publications it causes and a history reload after a sync share one ordered
 * connection; other queries and mutations (registration, health, rooms) use HTTP, which works
 * signed out and caches like any request. Signed out, no WebSocket is opened at all.
 */
export function TRPCReactProvider({
  children,
  signedIn,
  maxReconnects,
}: {
  children: ReactNode;
  signedIn: boolean;
  maxReconnects: number;
}) {
  const [queryClient] = useState(() => new QueryClient({ defaultOptions: { queries: { staleTime: 5_000 } } }));
  const [{ connection, trpcClient }] = useState(() => {
    const connection =
      signedIn && typeof window !== "undefined"
        ? new RealtimeConnection({
            url: realtimeUrl(),
            maxAttempts: maxReconnects,
            onCredentialsEnded: () => void leaveIfSignedOut(),
          })
        : null;
    const http = httpBatchLink({ url: "/api/trpc", maxItems: callLimits.perHttpBatch });
    const trpcClient = api.createClient({
      links: [
        connection
          ? splitLink({
              condition: (op) =>
                op.type === "subscription" ||
                op.path.startsWith("realtime.") ||
                op.path.startsWith("channels.") ||
                op.path.startsWith("tutor."),
              true: wsLink({ client: connection.proxy() }),
              false: http,
            })
          : http,
      ],
    });
    connection?.attach(trpcClient);
    return { connection, trpcClient };
  });
  useEffect(() => {
    connection?.start();
    return () => connection?.dispose();
  }, [connection]);
  return (
    <RealtimeProvider connection={connection}>
      <api.Provider client={trpcClient} queryClient={queryClient}>
        <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>
      </api.Provider>
    </RealtimeProvider>
  );
}

"use client";

import type { AppRouter } from "@plauder/api";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { httpBatchLink } from "@trpc/client";
import { createTRPCReact } from "@trpc/react-query";
import { type ReactNode, useState } from "react";

/** The generated, fully typed React hooks for every procedure of the app router. */
export const api = createTRPCReact<AppRouter>();

/** Provides the tRPC client and its query cache to the page tree. */
export function TRPCReactProvider({ children }: { children: ReactNode }) {
  const [queryClient] = useState(() => new QueryClient({ defaultOptions: { queries: { staleTime: 5_000 } } }));
  const [trpcClient] = useState(() => api.createClient({ links: [httpBatchLink({ url: "/api/trpc" })] }));
  return (
    <api.Provider client={trpcClient} queryClient={queryClient}>
      <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>
    </api.Provider>
  );
}

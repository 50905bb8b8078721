"use client";

import { createContext, type ReactNode, useContext, useSyncExternalStore } from "react";
import type { ConnectionStatus, RealtimeConnection } from "./connection";

const RealtimeContext = createContext<RealtimeConnection | null>(null);

export function RealtimeProvider({
  connection,
  children,
}: {
  connection: RealtimeConnection | null;
  children: ReactNode;
}) {
  return <RealtimeContext.Provider value={connection}>{children}</RealtimeContext.Provider>;
}

/** The page's realtime connection, or `null` when signed out. */
export function useRealtimeConnection(): RealtimeConnection | null {
  return useContext(RealtimeContext);
}

const noStatus = () => null;
const noSubscription = () => () => {};

/** The connection's status, re-rendering on every change. */
export function useRealtimeStatus(): ConnectionStatus | null {
  const connection = useRealtimeConnection();
  return useSyncExternalStore(
    connection ? (listener) => connection.subscribe(listener) : noSubscription,
    connection ? () => connection.status : noStatus,
    noStatus,
  );
}

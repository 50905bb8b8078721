"use client";

import type { RealtimeConnection } from "~/realtime/connection";
import { useRealtimeConnection, useRealtimeStatus } from "~/realtime/context";

export type LiveConnection = {
  connection: RealtimeConnection | null;
  /** `connecting`, `connected`, `reconnecting` or `offline` (also while signed out). */
  state: "connecting" | "connected" | "reconnecting" | "offline";
  /**
   * Changes on every manual (re)connect. wsLink resubscribes by itself after a connection it lost,
   * but a manual Disconnect ends its subscriptions: hooks that list this in their effects'
   * dependencies subscribe again on the new connection.
   */
  generation: number;
};

/** The page's connection with what channel hooks need to decide when to (re)subscribe. */
export function useLiveConnection(): LiveConnection {
  const connection = useRealtimeConnection();
  const status = useRealtimeStatus();
  return { connection, state: status?.state ?? "offline", generation: status?.generation ?? 0 };
}

"use client";

import { useRealtimeStatus } from "~/realtime/context";
import { statusLabel } from "~/realtime/status-label";
import { useNow } from "~/realtime/use-now";

/** The realtime connection's state, on every page; hover (or focus) shows the instance. */
export function ConnectionBadge() {
  const status = useRealtimeStatus();
  const now = useNow(status?.state === "reconnecting");
  const state = status?.state ?? "offline";
  const label = statusLabel(status, now);
  const detail = status?.instanceId ? `Instance ${status.instanceId}` : "No instance yet";
  return (
    <output className={`badge badge-${state}`} title={detail} aria-live="polite" data-testid="connection-badge">
      <span className="badge-dot" aria-hidden="true" />
      <span>{label}</span>
      <span className="sr-only">. {detail}</span>
    </output>
  );
}
